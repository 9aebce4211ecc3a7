// The replay player: a recording's parts played back to back by one <audio> element (Ogg Opus, over the
// download links `get_recording` hands out), a position slider that seeks, and the space's posts appearing at
// the moment they were shared (a seek back takes away those not yet shared by then). Links expire: the
// player asks for fresh ones before loading a part with stale ones, and after a load fails.

import { ElementTap } from "../audio-context.js";
import { describeError } from "../errors.js";
import { analyse } from "../player.js";
import { clock, partAt, replayLength, replayPosts, shownBy, spokenClock } from "../replay-time.js";
import { avatar, dateTimeText, fill, h, isGuest } from "./dom.js";
import { durationWords, hostActions, sizeWords } from "./replays.js";
import { toast } from "./toasts.js";

const TICK_MS = 100;
const MAX_POST_PAGES = 20; // 2,000 posts: a replay shows at most the latest 2,000 of its space
const LINK_MARGIN_MS = 60_000; // links this close to expiring are renewed before a part is loaded
const RETRY_AFTER_MS = 5000;

export class ReplayView {
  constructor(app) {
    this.app = app;
    this.root = document.getElementById("replay");
    this.audio = new Audio();
    this.audio.preload = "auto";
    this.audio.addEventListener("ended", () => this.partEnded());
    this.audio.addEventListener("error", () => this.failed());
    this.detail = null; // the `recording` reply
    this.id = null;
    this.title = null;
    this.timed = []; // the posts with their replay times, in order
    this.shown = 0;
    this.index = -1; // the part in the audio element
    this.loadedUrl = null;
    this.target = null; // a replay time being sought, until the part is ready
    this.gap = null; // silence between parts: {from, since (performance.now() while playing, else null), index}
    this.playing = false; // the person wants it to play (in a silence between parts too)
    this.generation = 0;
    this.lastRetry = -Infinity;
    this.tap = new ElementTap(this.audio); // through the page's audio context, so a test can read what plays
    this.timer = null;
  }

  // -- opening and closing ----------------------------------------------------------------------------

  async open(recordingId) {
    if (this.id === recordingId && this.detail) return;
    this.close();
    this.id = recordingId;
    const generation = this.generation;
    fill(this.root, h("h1", { id: "replay-title" }, "Loading the replay…"));
    let detail;
    try {
      detail = await this.app.request({ type: "get_recording", recording_id: recordingId }, { quiet: true });
    } catch (e) {
      if (generation !== this.generation) return;
      fill(
        this.root,
        h("h1", { id: "replay-title" }, "Can't open this replay"),
        h("p", { class: "lede" }, describeError(e)),
        h("button", { class: "btn primary", type: "button", onclick: () => this.app.navigate("/replays") }, "See replays"),
      );
      return;
    }
    if (generation !== this.generation) return;
    this.detail = detail;
    this.title = detail.recording.title;
    this.app.show("replay");
    const posts = await this.posts(detail.recording);
    if (generation !== this.generation) return;
    const r = detail.recording;
    this.timed = replayPosts(posts, r.started_at, r.ended_at);
    this.build();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    if (detail.parts.length) await this.seek(0, false);
  }

  close() {
    this.generation += 1;
    clearInterval(this.timer);
    this.timer = null;
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
    this.loadedUrl = null;
    this.detail = null;
    this.id = null;
    this.title = null;
    this.timed = [];
    this.shown = 0;
    this.index = -1;
    this.target = null;
    this.gap = null;
    this.playing = false;
  }

  /** The space's posts from the recording's start on (pages of `get_posts`, newest first, until older). */
  async posts(recording) {
    const out = [];
    let before = null;
    for (let page = 0; page < MAX_POST_PAGES; page++) {
      let reply;
      try {
        const ask = { type: "get_posts", space_id: recording.space_id, limit: 100 };
        if (before !== null) ask.before_id = before;
        reply = await this.app.conn.request(ask);
      } catch (e) {
        console.warn("stoa: the replay's posts could not all be read", e);
        break;
      }
      out.unshift(...reply.posts);
      if (!reply.more || !reply.posts.length || reply.posts[0].at < recording.started_at) break;
      before = reply.posts[0].id;
    }
    return out;
  }

  // -- the screen -------------------------------------------------------------------------------------

  build() {
    const r = this.detail.recording;
    const length = this.length();
    this.playButton = h("button", { class: "btn primary big play", type: "button", "data-focus-key": "replay-play", onclick: () => this.toggle() }, "▶ Play");
    this.slider = h("input", {
      id: "replay-position",
      type: "range",
      min: "0",
      max: String(length),
      step: "100",
      value: "0",
      "aria-label": "Position in the replay",
      oninput: (e) => this.seek(Number(e.target.value)),
    });
    this.time = h("span", { class: "replay-time", "aria-hidden": "true" }, `0:00 / ${clock(length)}`);
    this.count = h("p", { class: "muted-text replay-count", "aria-live": "off" });
    this.list = h("ol", { class: "posts replay-posts", "aria-label": "Posts so far", "aria-live": "polite", "aria-relevant": "additions" });
    const several = this.detail.parts.length > 1;
    const downloads = this.detail.parts.map((p, i) =>
      h("li", {}, h("a", {
        href: p.url,
        download: `${r.title}${several ? ` (part ${i + 1})` : ""}.opus`,
        onclick: (e) => this.download(e, i),
      }, several ? `Part ${i + 1}` : "Download", p.finished ? ` (Ogg Opus, ${sizeWords(p.bytes)})` : " (Ogg Opus, being recorded)")));
    fill(
      this.root,
      h(
        "header",
        { class: "space-head" },
        h("div", { class: "head-row" },
          h("span", { class: "pill" }, "REPLAY"),
          r.visibility === "private" ? h("span", { class: "badge private" }, "Private") : null,
          h("span", { class: "spacer" }),
          h("a", { href: "/replays", class: "btn ghost small", onclick: (e) => { e.preventDefault(); this.app.navigate("/replays"); } }, "All replays")),
        h("h1", { id: "replay-title" }, r.title),
        h("p", { class: "host-line" }, "Hosted by ", h("strong", {}, isGuest(r.host) ? r.host_name : `@${r.host_name}`), ` · ${dateTimeText(r.started_at)} · ${durationWords(r.duration_ms)}`),
        r.ended_at === null ? h("p", { class: "banner", role: "status" }, "This space is still being recorded: the replay holds what was recorded when you opened it.") : null,
        hostActions(this.app, r, (deleted) => (deleted ? this.app.navigate("/replays") : this.reopen())),
      ),
      h(
        "div",
        { class: "space-grid" },
        h("div", { class: "col main-col" },
          h("section", { class: "panel replay-player", "aria-labelledby": "player-title" },
            h("h2", { id: "player-title" }, "Listen"),
            h("div", { class: "replay-controls" }, this.playButton, h("div", { class: "replay-seek" }, this.slider, this.time)),
            this.detail.parts.length > 1 ? h("p", { class: "muted-text" }, `Recorded in ${this.detail.parts.length} parts: the server restarted meanwhile, and the replay is silent while it was down.`) : null,
            h("ul", { class: "downloads", "aria-label": "Download" }, downloads))),
        h("div", { class: "col side-col" },
          h("section", { class: "panel timeline", "aria-labelledby": "replay-posts-title" },
            h("h2", { id: "replay-posts-title" }, "Posts"),
            this.count,
            this.list)),
      ),
    );
    this.renderControls();
    this.renderPosts(0);
  }

  /** A download link about to expire is renewed first. */
  async download(e, index) {
    if (Date.now() < this.detail.expires_at - LINK_MARGIN_MS) return;
    e.preventDefault();
    const a = e.currentTarget;
    const was = this.detail.expires_at;
    await this.renewLinks();
    if (!this.detail || this.detail.expires_at === was) return; // not renewed: told
    a.href = this.detail.parts[index].url;
    a.click();
  }

  async reopen() {
    const id = this.id;
    this.close();
    await this.open(id);
  }

  renderControls() {
    if (!this.playButton) return;
    const playing = this.playing;
    this.playButton.textContent = playing ? "❚❚ Pause" : "▶ Play";
    this.playButton.setAttribute("aria-label", playing ? "Pause the replay" : "Play the replay");
  }

  /** Show the posts shared by replay time `t`: new ones are added (and announced), a seek back removes. */
  renderPosts(t) {
    const n = shownBy(this.timed, t);
    if (n !== this.shown) {
      const jump = Math.abs(n - this.shown) > 3; // a seek: rebuild quietly rather than read out a flood
      if (jump) this.list.setAttribute("aria-busy", "true");
      while (this.list.children.length > n) this.list.lastElementChild.remove();
      for (let i = this.list.children.length; i < n; i++) this.list.append(this.postItem(this.timed[i]));
      if (jump) this.list.removeAttribute("aria-busy");
      this.list.scrollTop = this.list.scrollHeight;
      this.shown = n;
    }
    const total = this.timed.length;
    this.count.textContent = total ? `${n} of ${total} posts shared by now` : "No posts were shared while recording.";
  }

  postItem({ post, t }) {
    return h(
      "li",
      { class: "post", dataset: { postId: String(post.id), at: String(Math.round(t)) } },
      avatar(post, "small"),
      h(
        "div",
        { class: "post-body" },
        h("div", { class: "post-meta" },
          h("span", { class: "post-author" }, post.name, isGuest(post.user) ? " (guest)" : ""),
          h("button", { class: "link-btn", type: "button", "aria-label": `Play from ${spokenClock(t)}`, onclick: () => this.seek(t, true) }, clock(t))),
        h("p", { class: "post-text" }, post.text),
      ),
    );
  }

  // -- playing ----------------------------------------------------------------------------------------

  length() {
    return this.detail ? replayLength(this.detail.parts, this.detail.recording.duration_ms) : 0;
  }

  /** The replay time now (ms). */
  position() {
    if (!this.detail) return 0;
    if (this.target !== null) return this.target;
    if (this.gap) return this.gap.from + (this.gap.since !== null ? performance.now() - this.gap.since : 0);
    if (this.index < 0) return 0;
    return this.detail.parts[this.index].offset_ms + this.audio.currentTime * 1000;
  }

  tick() {
    if (!this.detail || this.root.hidden) return;
    const length = this.length();
    const t = Math.min(this.position(), length);
    const gap = this.gap;
    if (gap && gap.since !== null) {
      // Silence between parts (the server was down then): the next part begins at its offset.
      if (gap.index >= 0 && t >= this.detail.parts[gap.index].offset_ms) this.load(gap.index, 0, true);
      else if (gap.index < 0 && t >= length) this.finished();
    }
    if (document.activeElement !== this.slider) this.slider.value = String(Math.round(t));
    this.slider.max = String(length);
    this.slider.setAttribute("aria-valuetext", `${spokenClock(t)} of ${spokenClock(length)}`);
    this.time.textContent = `${clock(t)} / ${clock(length)}`;
    this.renderPosts(t);
  }

  async toggle() {
    if (!this.detail || !this.detail.parts.length) return;
    await this.tap.connect(); // from the click: the audio context may start now
    if (this.playing) {
      this.playing = false;
      if (this.gap && this.gap.since !== null) this.gap = { ...this.gap, from: this.position(), since: null };
      this.audio.pause();
    } else if (this.position() >= this.length() - 50) {
      await this.seek(0, true);
    } else {
      this.playing = true;
      if (this.gap) this.gap = { ...this.gap, since: performance.now() };
      else await this.audio.play().catch((e) => console.warn("stoa: replay did not start", e));
    }
    this.renderControls();
  }

  /** Go to replay time `t` (ms), playing on if it was playing (or if `play`). */
  async seek(t, play = false) {
    if (!this.detail || !this.detail.parts.length) return;
    const to = Math.max(0, Math.min(t, this.length()));
    const at = partAt(this.detail.parts, to);
    const playing = play || this.playing;
    if (at.wait > 0 || at.index < 0) {
      this.generation += 1; // a load under way is for another time
      this.audio.pause();
      this.target = null;
      this.playing = playing && at.index >= 0;
      this.gap = { from: to, since: this.playing ? performance.now() : null, index: at.index };
      this.tick();
      this.renderControls();
      return;
    }
    await this.load(at.index, at.local, playing);
  }

  /** Put part `index` in the audio element at `local` ms, and play it if `play`. */
  async load(index, local, play) {
    const generation = ++this.generation;
    const part = this.detail.parts[index];
    this.gap = null;
    this.playing = play;
    this.target = part.offset_ms + local;
    this.tick();
    if (Date.now() > this.detail.expires_at - LINK_MARGIN_MS) await this.renewLinks();
    if (generation !== this.generation) return;
    const url = this.detail.parts[index].url;
    this.index = index;
    if (this.loadedUrl !== url) {
      this.loadedUrl = url;
      this.audio.src = url;
      try {
        await once(this.audio, "loadedmetadata");
      } catch {
        return; // the element's "error" event renews the links and tries again (`failed`)
      }
      if (generation !== this.generation) return;
    }
    this.audio.currentTime = local / 1000;
    this.target = null;
    if (play) {
      await this.tap.connect();
      await this.audio.play().catch((e) => console.warn("stoa: replay did not start", e));
    } else {
      this.audio.pause();
    }
    this.renderControls();
  }

  /** The element played its part to the end: the next part, after the silence before it if there is one. */
  partEnded() {
    if (!this.detail || !this.playing) return;
    const next = this.index + 1;
    if (next >= this.detail.parts.length) return this.finished();
    const from = this.position();
    if (this.detail.parts[next].offset_ms > from + 20) this.gap = { from, since: performance.now(), index: next };
    else this.load(next, 0, true);
  }

  finished() {
    this.playing = false;
    this.gap = { from: this.length(), since: null, index: -1 };
    this.renderControls();
  }

  /** Fresh download links (the same recording: parts may have grown while it is still recording). */
  async renewLinks() {
    try {
      const detail = await this.app.request({ type: "get_recording", recording_id: this.id }, { quiet: true });
      if (this.detail && detail.recording.recording_id === this.id) this.detail = { ...this.detail, parts: detail.parts, expires_at: detail.expires_at };
    } catch (e) {
      toast(describeError(e), { kind: "error" });
    }
  }

  /** A load failed (most often an expired link): renew the links and go on where it was, at most every 5 s. */
  async failed() {
    if (!this.detail || !this.loadedUrl || performance.now() - this.lastRetry < RETRY_AFTER_MS) return;
    this.lastRetry = performance.now();
    const at = this.position();
    this.loadedUrl = null;
    await this.renewLinks();
    await this.seek(at, this.playing);
  }

  /** What the replay plays now (see `analyse`), with the replay time. */
  probe(freqs = []) {
    return this.tap.analyser ? { ...analyse(this.tap.analyser, freqs), t: this.position(), shown: this.shown } : null;
  }
}

function once(target, type) {
  return new Promise((resolve, reject) => {
    const done = () => {
      target.removeEventListener(type, done);
      target.removeEventListener("error", fail);
      resolve();
    };
    const fail = () => {
      target.removeEventListener(type, done);
      target.removeEventListener("error", fail);
      reject(new Error(`the replay's audio did not load (${target.error ? target.error.message || target.error.code : "error"})`));
    };
    target.addEventListener(type, done);
    target.addEventListener("error", fail);
  });
}
