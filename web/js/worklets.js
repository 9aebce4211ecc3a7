// AudioWorklet processors (loaded with audioWorklet.addModule): the listener's jitter buffer, and the
// microphone's capture into 20 ms chunks for the encoder. Both run on the audio rendering thread.

import { toneLevel } from "./tone-level.js";

const FRAME = 960; // 20 ms at 48 kHz
const MS = 48; // samples per millisecond

// Finds where a sound starts after at least 200 ms of quiet (for measuring delay end to end: the bench and
// the browser tests turn it on with a message {type: "detect", threshold}); posts {type: "onset", at}, the
// context time of the first loud sample.
class OnsetDetector {
  constructor(port) {
    this.port = port;
    this.threshold = 0;
    this.quietSince = -1;
  }

  scan(samples, startTime) {
    if (!this.threshold) return;
    for (let i = 0; i < samples.length; i++) {
      const t = startTime + i / sampleRate;
      if (Math.abs(samples[i]) >= this.threshold) {
        if (this.quietSince >= 0 && t - this.quietSince >= 0.2) this.port.postMessage({ type: "onset", at: t });
        this.quietSince = -1;
      } else if (this.quietSince < 0) {
        this.quietSince = t;
      }
    }
  }
}

// Cuts a stream of render quanta (128 samples) into 20 ms chunks: `push(samples, startTime)` calls
// `full(chunk, at)` with each complete chunk and the context time of its first sample. The chunk is the
// callee's to keep (a new one is started).
class Chunker {
  constructor(full) {
    this.full = full;
    this.chunk = new Float32Array(FRAME);
    this.filled = 0;
    this.startedAt = 0;
  }

  push(samples, startTime) {
    let i = 0;
    while (i < samples.length) {
      if (this.filled === 0) this.startedAt = startTime + i / sampleRate;
      const n = Math.min(samples.length - i, FRAME - this.filled);
      this.chunk.set(samples.subarray(i, i + n), this.filled);
      this.filled += n;
      i += n;
      if (this.filled === FRAME) {
        this.full(this.chunk, this.startedAt);
        this.chunk = new Float32Array(FRAME);
        this.filled = 0;
      }
    }
  }
}

// What the tests watch at the jitter buffer (turned on with a message {type: "watch", freqs}): for each
// decoded frame, when it was queued and behind how much audio ({type: "queued", seq, at, delayMs}: the delay
// it will wait); and the output's level at each frequency, 20 ms at a time ({type: "output", at, levels}).
// Times are the audio context's (s). Nothing is computed or posted unless watching.
class OutputWatch {
  constructor(port) {
    this.port = port;
    this.freqs = null;
    this.windows = new Chunker((window, at) => {
      const levels = this.freqs.map((f) => toneLevel(window, f, sampleRate));
      this.port.postMessage({ type: "output", at, levels });
    });
  }

  queued(seq, delayMs) {
    if (this.freqs && seq !== undefined) this.port.postMessage({ type: "queued", seq, at: currentTime, delayMs });
  }

  scan(samples, startTime) {
    if (this.freqs) this.windows.push(samples, startTime);
  }
}

// The jitter buffer: decoded 20 ms chunks queue here and play out at the context's pace. It starts playing
// once `target` ms are buffered. The page sets the target from the frames' arrival jitter (player.js); when
// the buffer runs dry while frames are still coming (a frame arrives less than 200 ms after it ran dry:
// jitter, not a pause in the talk) it also grows by 20 ms at once, up to 300 ms. When more than target +
// 60 ms is buffered (a burst after a stall), the oldest chunk is dropped so the delay comes back down. It
// reports its delay, target, underruns and output level to the page four times a second.
class JitterBuffer extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];
    this.offset = 0; // samples of queue[0] already played
    this.buffered = 0; // samples queued and not played
    this.targetMs = 60;
    this.minMs = 40;
    this.maxMs = 300;
    this.playing = false;
    this.dryAt = -1; // currentTime when the buffer last ran dry while playing
    this.underruns = 0;
    this.dropped = 0;
    this.concealed = 0;
    this.reportAt = 0;
    this.sumSquares = 0;
    this.counted = 0;
    this.onsets = new OnsetDetector(this.port);
    this.watch = new OutputWatch(this.port);
    this.port.onmessage = (e) => this.message(e.data);
  }

  message(m) {
    if (m.type === "detect") {
      this.onsets.threshold = m.threshold;
    } else if (m.type === "watch") {
      this.watch.freqs = m.freqs;
    } else if (m.type === "target") {
      this.targetMs = Math.min(this.maxMs, Math.max(this.minMs, m.ms));
    } else if (m.type === "pcm") {
      if (this.dryAt >= 0) {
        if (currentTime - this.dryAt < 0.2) this.grow();
        this.dryAt = -1;
      }
      this.watch.queued(m.seq, this.buffered / MS);
      this.queue.push(m.pcm);
      this.buffered += m.pcm.length;
      if (this.buffered > (this.targetMs + 60) * MS && this.queue.length > 1) {
        const old = this.queue.shift();
        this.buffered -= old.length - this.offset;
        this.offset = 0;
        this.dropped += 1;
      }
    } else if (m.type === "conceal") {
      // frames lost in the network: fill their time with silence so what follows stays in time
      const silence = new Float32Array(FRAME * m.frames);
      this.queue.push(silence);
      this.buffered += silence.length;
      this.concealed += m.frames;
    } else if (m.type === "reset") {
      this.queue = [];
      this.offset = 0;
      this.buffered = 0;
      this.playing = false;
    }
  }

  grow() {
    this.underruns += 1;
    this.targetMs = Math.min(this.maxMs, this.targetMs + 20);
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing && this.buffered >= this.targetMs * MS) this.playing = true;
    let i = 0;
    if (this.playing) {
      while (i < out.length && this.queue.length) {
        const head = this.queue[0];
        const n = Math.min(out.length - i, head.length - this.offset);
        out.set(head.subarray(this.offset, this.offset + n), i);
        i += n;
        this.offset += n;
        this.buffered -= n;
        if (this.offset >= head.length) {
          this.queue.shift();
          this.offset = 0;
        }
      }
      if (i < out.length) {
        this.playing = false;
        this.dryAt = currentTime;
      }
    }
    out.fill(0, i);
    this.onsets.scan(out, currentTime);
    this.watch.scan(out, currentTime);
    for (let k = 1; k < outputs[0].length; k++) outputs[0][k].set(out);
    for (let k = 0; k < out.length; k++) this.sumSquares += out[k] * out[k];
    this.counted += out.length;
    if (currentTime >= this.reportAt) {
      this.reportAt = currentTime + 0.25;
      this.port.postMessage({
        type: "stats",
        delayMs: Math.round(this.buffered / MS),
        targetMs: this.targetMs,
        underruns: this.underruns,
        dropped: this.dropped,
        concealed: this.concealed,
        playing: this.playing,
        rms: Math.sqrt(this.sumSquares / Math.max(1, this.counted)),
      });
      this.sumSquares = 0;
      this.counted = 0;
    }
    return true;
  }
}

// The microphone's capture: the input's first channel, cut into 20 ms chunks, each posted with the context
// time of its first sample (the page turns it into `captured_at`).
class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.chunks = new Chunker((pcm, at) => this.port.postMessage({ type: "pcm", pcm, at }, [pcm.buffer]));
    this.onsets = new OnsetDetector(this.port);
    this.port.onmessage = (e) => {
      if (e.data.type === "detect") this.onsets.threshold = e.data.threshold;
    };
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    this.onsets.scan(input, currentTime);
    this.chunks.push(input, currentTime);
    return true;
  }
}

registerProcessor("stoa-jitter", JitterBuffer);
registerProcessor("stoa-capture", Capture);
