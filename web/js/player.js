// Listening: the `audio` messages of the WebSocket (the bytes the server's fan-out sends everyone) decoded
// with WebCodecs' AudioDecoder (Opus, 48 kHz mono) and played through the jitter buffer worklet, a volume
// control, and an analyser the page reads for its "is anything playing" light (and tests for the tone).

import { audioContext, wallClockOf } from "./audio-context.js";
import { toneLevel } from "./tone-level.js";

const FRAME_US = 20000;
const LOSS_WINDOW_MS = 100; // a seq gap between frames closer than this is loss (docs/protocol.md, `audio`)
const MAX_CONCEAL_FRAMES = 5;
const JITTER_HISTORY = 250; // frames (5 s of talk) the playout target is estimated from
const TARGET_MARGIN_MS = 15;

export class Player extends EventTarget {
  constructor() {
    super();
    this.ctx = null;
    this.node = null;
    this.gain = null;
    this.analyser = null;
    this.decoder = null;
    this.lastSeq = null;
    this.lastAt = 0;
    this.stats = { delayMs: 0, targetMs: 0, underruns: 0, dropped: 0, concealed: 0, playing: false, rms: 0 };
    this.frames = 0;
    this.lost = 0;
    this.transitMs = []; // arrival minus captured_at of the latest frames (ms)
    this.spurtMin = null; // the earliest (arrival - seq * 20 ms) of this talk spurt
    this.lateness = []; // how late each recent frame came against the spurt's earliest, ms
    this.targetMs = 60;
    this.targetSentAt = 0;
    this.volume = 1;
    this.onsets = []; // unix ms of sound onsets at the output, when detection is on (bench, tests)
    this.watched = null; // tone levels per decoded frame, when watched (tests)
    this.arrivals = new Map(); // seq -> unix ms the frame arrived, for the watched frames
  }

  /** Note when sounds start at the output (louder than `threshold` after 200 ms of quiet) in `onsets`. */
  detectOnsets(threshold) {
    if (this.node) this.node.port.postMessage({ type: "detect", threshold });
  }

  /** From now on keep (tests): for each decoded frame, its seq, arrival time and level (dBFS) at each of
   *  `freqs` (`frames`); when the jitter buffer queued it, on the audio context's clock (s), behind how much
   *  audio (`queued`: seq, at, delayMs); and the output's level at each of `freqs`, 20 ms at a time, from
   *  when (`output`: at, levels). */
  watchTones(freqs) {
    this.watched = { freqs, frames: [], queued: [], output: [] };
    if (this.node) this.node.port.postMessage({ type: "watch", freqs });
  }

  static supported() {
    return typeof AudioDecoder !== "undefined" && typeof AudioWorkletNode !== "undefined";
  }

  /** Build the audio graph (call from a user gesture so the context may start). */
  async start() {
    if (this.node) {
      this.ctx.resume().catch(() => {});
      return;
    }
    this.ctx = await audioContext();
    this.node = new AudioWorkletNode(this.ctx, "stoa-jitter", { numberOfInputs: 0, outputChannelCount: [1] });
    this.node.port.onmessage = (e) => {
      const type = e.data.type;
      if (type === "onset") {
        this.onsets.push(wallClockOf(this.ctx, e.data.at) + (this.ctx.outputLatency || 0) * 1000);
        return;
      }
      if (type === "queued" || type === "output") {
        if (this.watched) keep(this.watched[type], e.data);
        return;
      }
      this.stats = e.data;
      this.dispatchEvent(new CustomEvent("stats", { detail: this.stats }));
    };
    this.gain = new GainNode(this.ctx, { gain: this.volume });
    this.analyser = new AnalyserNode(this.ctx, { fftSize: 8192, smoothingTimeConstant: 0 });
    this.node.connect(this.gain).connect(this.analyser).connect(this.ctx.destination);
    if (this.watched) this.node.port.postMessage({ type: "watch", freqs: this.watched.freqs });
    this.newDecoder();
    this.ctx.addEventListener("statechange", () => this.dispatchEvent(new CustomEvent("state")));
    // Not awaited: without a user gesture the browser keeps the context suspended until one comes.
    this.ctx.resume().catch(() => {});
  }

  get running() {
    return this.ctx !== null && this.ctx.state === "running";
  }

  newDecoder() {
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = new AudioDecoder({
      output: (data) => this.decoded(data),
      error: (e) => {
        console.warn("stoa: audio decoder error", e);
        this.decoder = null;
      },
    });
    this.decoder.configure({ codec: "opus", sampleRate: 48000, numberOfChannels: 1 });
    this.lastSeq = null;
  }

  /** A new connection (or a new space): a new decoder, an empty buffer. */
  reset() {
    if (!this.node) return;
    this.node.port.postMessage({ type: "reset" });
    this.newDecoder();
  }

  setVolume(v) {
    this.volume = v;
    if (this.gain) this.gain.gain.setTargetAtTime(v, this.ctx.currentTime, 0.02);
  }

  /** One `audio` message from the server. */
  push(msg) {
    if (!this.node) return;
    if (!this.decoder) this.newDecoder();
    const now = performance.now();
    for (const frame of msg.frames) {
      const seq = frame.seq;
      if (this.lastSeq !== null) {
        if (seq <= this.lastSeq) continue; // a duplicate or out of order: already past it
        const gap = seq - this.lastSeq - 1;
        if (gap > 0 && now - this.lastAt < LOSS_WINDOW_MS) {
          this.lost += gap;
          if (gap <= MAX_CONCEAL_FRAMES) this.node.port.postMessage({ type: "conceal", frames: gap });
        }
      }
      this.estimate(seq, now);
      this.lastSeq = seq;
      this.lastAt = now;
      this.frames += 1;
      if (frame.captured_at) {
        // mouth to this page, before decoding and the jitter buffer (the clocks agree on one machine)
        this.transitMs.push(performance.timeOrigin + now - frame.captured_at / 1000);
        if (this.transitMs.length > 500) this.transitMs.shift();
      }
      if (this.watched) {
        this.arrivals.set(seq, performance.timeOrigin + now);
        if (this.arrivals.size > 500) this.arrivals.delete(this.arrivals.keys().next().value);
      }
      try {
        this.decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: seq * FRAME_US, data: frame.opus }));
      } catch (e) {
        console.warn("stoa: a frame could not be decoded", e);
        this.newDecoder();
      }
    }
  }

  /** The playout target from the network's jitter: within a talk spurt (frames less than 100 ms apart), each
   *  frame's lateness against the earliest frame of the spurt (by seq: 20 ms a frame); the target is the
   *  95th percentile of the last 250 latenesses plus a margin, 40 to 300 ms. The worklet primes to it. */
  estimate(seq, now) {
    const offset = now - seq * 20;
    if (this.lastSeq === null || now - this.lastAt >= LOSS_WINDOW_MS) this.spurtMin = offset;
    this.spurtMin = Math.min(this.spurtMin, offset);
    this.lateness.push(offset - this.spurtMin);
    if (this.lateness.length > JITTER_HISTORY) this.lateness.shift();
    if (now - this.targetSentAt < 250 || this.lateness.length < 25) return;
    const sorted = this.lateness.slice().sort((a, b) => a - b);
    const p95 = sorted[Math.floor(0.95 * (sorted.length - 1))];
    const target = Math.round(Math.min(300, Math.max(40, p95 + TARGET_MARGIN_MS)));
    this.targetSentAt = now;
    if (Math.abs(target - this.targetMs) >= 5) {
      this.targetMs = target;
      this.node.port.postMessage({ type: "target", ms: target });
    }
  }

  decoded(data) {
    const pcm = new Float32Array(data.numberOfFrames);
    data.copyTo(pcm, { planeIndex: 0, format: "f32-planar" });
    const seq = Math.round(data.timestamp / FRAME_US);
    data.close();
    if (this.watched) {
      const levels = this.watched.freqs.map((f) => toneLevel(pcm, f, this.ctx.sampleRate));
      keep(this.watched.frames, { seq, arrivedAt: this.arrivals.get(seq), levels });
    }
    this.node.port.postMessage({ type: "pcm", pcm, seq }, [pcm.buffer]);
  }

  /** What is playing now: the level (RMS, dBFS) and the dominant frequency, and the level at `freqs`. */
  probe(freqs = []) {
    if (!this.analyser) return null;
    return { ...analyse(this.analyser, freqs), frames: this.frames, lost: this.lost, jitter: this.stats };
  }
}

/** What `analyser` hears now: `levelDb` (RMS, dBFS), `dominantHz`, `peakDb`, and `at`, the level at each of
 *  `freqs` (the replay player uses it too). */
export function analyse(analyser, freqs = []) {
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  const wave = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(wave);
  let sum = 0;
  for (const s of wave) sum += s * s;
  const rms = Math.sqrt(sum / wave.length);
  const hz = analyser.context.sampleRate / analyser.fftSize;
  let peak = 1;
  for (let i = 2; i < bins.length; i++) if (bins[i] > bins[peak]) peak = i;
  const at = {};
  for (const f of freqs) {
    const i = Math.round(f / hz);
    at[f] = Math.max(bins[i - 1], bins[i], bins[i + 1]);
  }
  return { levelDb: 20 * Math.log10(rms + 1e-12), dominantHz: peak * hz, peakDb: bins[peak], at };
}

/** Append to a watched list, keeping its latest 2,000 to 3,000 entries (a minute of frames). */
function keep(list, entry) {
  list.push(entry);
  if (list.length > 3000) list.splice(0, 1000);
}
