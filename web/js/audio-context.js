// The page's one AudioContext (48 kHz, the protocol's rate), with the worklets loaded. Browsers start it
// suspended until a user gesture: callers resume it from a click (Listen, Join, Unmute). `ElementTap`: an audio
// element (the replay's) played through it with an analyser.

let shared = null;

export function audioContext() {
  if (!shared) {
    shared = (async () => {
      const ctx = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
      await ctx.audioWorklet.addModule("/js/worklets.js");
      return ctx;
    })();
  }
  return shared;
}

/** The unix time in milliseconds of `contextTime` (a time on `ctx`'s clock). */
export function wallClockOf(ctx, contextTime) {
  const stamp = ctx.getOutputTimestamp();
  return performance.timeOrigin + stamp.performanceTime + (contextTime - stamp.contextTime) * 1000;
}

/** An audio element played through the page's audio context with an analyser on it, so a test (and a curious
 *  person) can read what plays. The graph is made once: an element has one source node for good. */
export class ElementTap {
  constructor(element) {
    this.element = element;
    this.analyser = null;
    this.graph = null; // the graph's promise
  }

  /** Builds the graph the first time, then asks the context to run: not awaited, since without a user gesture
   *  the browser keeps it suspended until one comes. */
  async connect() {
    if (!this.graph) {
      this.graph = audioContext().then((ctx) => {
        const source = ctx.createMediaElementSource(this.element);
        this.analyser = new AnalyserNode(ctx, { fftSize: 8192, smoothingTimeConstant: 0 });
        source.connect(this.analyser).connect(ctx.destination);
        return ctx;
      });
    }
    const ctx = await this.graph;
    if (ctx.state !== "running") ctx.resume().catch(() => {});
  }
}
