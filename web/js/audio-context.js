// The page's one AudioContext (48 kHz, the protocol's rate), with the worklets loaded. Browsers start it
// suspended until a user gesture: callers resume it from a click (Listen, Join, Unmute).

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
