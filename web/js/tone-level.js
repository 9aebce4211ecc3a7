// The level of one frequency in a block of samples, for the pages' tone checks (the browser tests and the
// bench watch tones at the decoder's output and at the speakers): imported by player.js and by the worklets.

/** The level (dBFS, as a sine's amplitude) of frequency `hz` in `pcm` (Goertzel over a Hann window, so a
 *  loud tone elsewhere in the spectrum does not leak into it). */
export function toneLevel(pcm, hz, rate) {
  const w = (2 * Math.PI * hz) / rate;
  const c = 2 * Math.cos(w);
  const n = pcm.length;
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    const s0 = pcm[i] * hann + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  const amplitude = (2 * Math.sqrt(Math.max(0, power))) / (n / 2); // the Hann window's sum is n/2
  return 20 * Math.log10(amplitude + 1e-9);
}
