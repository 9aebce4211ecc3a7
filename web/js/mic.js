// Speaking: the microphone (echo cancellation and noise suppression on, unless the person turns voice
// processing off for music), a level meter from an AnalyserNode, and, when the server takes no WebRTC (or
// the peer connection fails), the encoder: 20 ms chunks from the capture worklet, encoded by WebCodecs'
// AudioEncoder into Opus packets (48 kHz mono), handed to `onPacket` with their `captured_at` (µs, unix time
// of the first sample) and their `level` (RFC 6464's, of the 20 ms encoded: the server then need not decode a
// lone speaker's packets). Packets come at the capture's own pace. Over WebRTC the track goes to rtc.js (the
// browser puts each packet's level in its RTP header).

import { audioContext, wallClockOf } from "./audio-context.js";

const FRAME = 960;
const LEVEL_SILENT = 127;

/** The `level` of an `audio` message: RFC 6464's -dBov of the RMS of `pcm` (samples from -1 to 1), rounded,
 *  0 (full scale) to 127 (digital silence, or -127 dBov and quieter). */
export function audioLevel(pcm) {
  let energy = 0;
  for (const s of pcm) energy += s * s;
  if (energy === 0) return LEVEL_SILENT;
  const dbov = 20 * Math.log10(Math.sqrt(energy / pcm.length));
  return Math.min(LEVEL_SILENT, Math.max(0, Math.round(-dbov)));
}

export class Microphone {
  constructor(onPacket) {
    this.onPacket = onPacket;
    this.stream = null;
    this.ctx = null;
    this.source = null;
    this.analyser = null;
    this.capture = null;
    this.encoder = null;
    this.muted = true;
    this.seq = 0;
    this.sent = 0;
    this.levels = []; // the levels of the chunks given to the encoder, for its packets, which come in order
    this.sendVia = "ws"; // "ws": encoded here and sent as `audio` messages; "rtc": the track goes over WebRTC
    this.onsets = []; // unix ms of sound onsets at the input, when detection is on (bench, tests)
    this.detectThreshold = 0;
  }

  /** Note when sounds start at the input (louder than `threshold` after 200 ms of quiet) in `onsets`. */
  detectOnsets(threshold) {
    this.detectThreshold = threshold;
    if (this.capture) this.capture.port.postMessage({ type: "detect", threshold });
  }

  static supported() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia) && typeof AudioEncoder !== "undefined";
  }

  get open() {
    return this.stream !== null;
  }

  /** Ask for the microphone and build the capture graph. Throws when the person refuses. */
  async start({ processing = true } = {}) {
    if (this.stream) return;
    this.ctx = await audioContext();
    await this.ctx.resume();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        channelCount: 1,
        echoCancellation: processing,
        noiseSuppression: processing,
        autoGainControl: processing,
      },
    });
    this.source = new MediaStreamAudioSourceNode(this.ctx, { mediaStream: this.stream });
    this.analyser = new AnalyserNode(this.ctx, { fftSize: 2048, smoothingTimeConstant: 0.3 });
    this.source.connect(this.analyser);
    this.capture = new AudioWorkletNode(this.ctx, "stoa-capture", { numberOfOutputs: 0, channelCount: 1 });
    this.capture.port.onmessage = (e) => {
      if (e.data.type === "pcm") this.chunk(e.data);
      else if (e.data.type === "onset") this.onsets.push(wallClockOf(this.ctx, e.data.at));
    };
    if (this.detectThreshold) this.capture.port.postMessage({ type: "detect", threshold: this.detectThreshold });
    this.source.connect(this.capture);
    this.newEncoder();
    this.setMuted(this.muted);
  }

  newEncoder() {
    this.levels = [];
    this.encoder = new AudioEncoder({
      output: (chunk) => {
        const opus = new Uint8Array(chunk.byteLength);
        chunk.copyTo(opus);
        this.seq += 1;
        this.sent += 1;
        const packet = { type: "audio", seq: this.seq, captured_at: chunk.timestamp, opus };
        const level = this.levels === null ? undefined : this.levels.shift();
        if (level !== undefined) packet.level = level;
        this.onPacket(packet);
      },
      error: (e) => {
        console.warn("stoa: audio encoder error", e);
        this.encoder = null;
      },
    });
    this.encoder.configure({
      codec: "opus",
      sampleRate: 48000,
      numberOfChannels: 1,
      bitrate: 32000,
      opus: { frameDuration: 20000, complexity: 5 },
    });
  }

  /** A new stream for the server (a new connection): packet numbers start again. */
  restartStream() {
    this.seq = 0;
  }

  /** The microphone's track (for a peer connection), or null when closed. */
  get track() {
    return this.stream ? this.stream.getAudioTracks()[0] : null;
  }

  chunk({ pcm, at }) {
    if (this.muted || this.sendVia !== "ws") return;
    if (!this.encoder) this.newEncoder();
    const wallMs = wallClockOf(this.ctx, at);
    const data = new AudioData({
      format: "f32-planar",
      sampleRate: 48000,
      numberOfFrames: FRAME,
      numberOfChannels: 1,
      timestamp: Math.round(wallMs * 1000),
      data: pcm,
    });
    // An encoder holding back more than 50 packets: the levels could no longer be matched to its packets, so
    // none is sent until the next encoder (the server then measures them); dropping some would shift the rest.
    if (this.levels !== null) this.levels.push(audioLevel(pcm));
    if (this.levels !== null && this.levels.length > 50) this.levels = null;
    try {
      this.encoder.encode(data);
    } finally {
      data.close();
    }
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.stream) for (const t of this.stream.getAudioTracks()) t.enabled = !muted;
  }

  /** The input level now, 0 to 1 (peak of the last 2048 samples), for the meter. */
  level() {
    if (!this.analyser) return 0;
    const wave = new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(wave);
    let peak = 0;
    for (const s of wave) peak = Math.max(peak, Math.abs(s));
    return peak;
  }

  stop() {
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    if (this.capture) this.capture.disconnect();
    if (this.source) this.source.disconnect();
    if (this.encoder && this.encoder.state !== "closed") this.encoder.close();
    this.stream = null;
    this.capture = null;
    this.source = null;
    this.encoder = null;
    this.analyser = null;
  }
}
