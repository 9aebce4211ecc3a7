// A replay's timeline, as pure functions (docs/recording.md, Replays). The replay's time is the recording's
// wall clock, in ms from its start: a recording is one or more parts (a server restart during the recording
// begins a new one), each playing at its `offset_ms` for its `duration_ms`; between two parts (while the
// server was down) the replay is silent, so every moment keeps its real place.

/** The length of the replay, in ms: the end of its last part (the recording's own `duration_ms` when the
 *  parts are all finished). */
export function replayLength(parts, recordingMs = 0) {
  let end = recordingMs;
  for (const p of parts) end = Math.max(end, p.offset_ms + p.duration_ms);
  return end;
}

/** What plays at replay time `t` (ms): `{index, local}`, part `index` at `local` ms into it; or, in the silence
 *  before part `index`, `{index, local: 0, wait}` with the ms until it begins; `{index: -1}` past the last
 *  part's end. */
export function partAt(parts, t) {
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (t < p.offset_ms) return { index: i, local: 0, wait: p.offset_ms - t };
    const last = i === parts.length - 1;
    // A part still being written (not finished) plays on to the end of its file, whatever its duration says.
    if (t < p.offset_ms + p.duration_ms || (last && !p.finished)) return { index: i, local: t - p.offset_ms, wait: 0 };
  }
  return { index: -1, local: 0, wait: 0 };
}

/** When a post shared at unix ms `at` shows in the replay (ms), or null if it was shared before the
 *  recording began or after it ended. */
export function postTime(startedAt, endedAt, at) {
  if (at < startedAt || (endedAt !== null && at > endedAt)) return null;
  return at - startedAt;
}

/** The posts of a replay with their replay times, in order (`{post, t}`), leaving out those outside it. */
export function replayPosts(posts, startedAt, endedAt) {
  const out = [];
  for (const post of posts) {
    const t = postTime(startedAt, endedAt, post.at);
    if (t !== null) out.push({ post, t });
  }
  out.sort((a, b) => a.t - b.t || a.post.id - b.post.id);
  return out;
}

/** How many of `timed` (sorted by `t`) have appeared by replay time `t`. */
export function shownBy(timed, t) {
  let lo = 0;
  let hi = timed.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (timed[mid].t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** "m:ss" or "h:mm:ss" of a time in ms. */
export function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** Words for a screen reader: "1 minute 5 seconds". */
export function spokenClock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const parts = [];
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (hh) parts.push(`${hh} hour${hh === 1 ? "" : "s"}`);
  if (mm) parts.push(`${mm} minute${mm === 1 ? "" : "s"}`);
  parts.push(`${s % 60} second${s % 60 === 1 ? "" : "s"}`);
  return parts.join(" ");
}
