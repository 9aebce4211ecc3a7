// The replays screen: recorded spaces with their duration (everyone's public ones, or my own), and a host's
// choices on their own recordings (who may play it, delete it), shared with the player.

import { clock } from "../replay-time.js";
import { dateTimeText, fill, h, isGuest } from "./dom.js";
import { toast } from "./toasts.js";

const PAGE = 20;

export class ReplaysView {
  constructor(app) {
    this.app = app;
    this.list = document.getElementById("replay-list");
    this.more = document.getElementById("replays-more");
    this.mine = false;
    this.shown = [];
    this.tabs = { all: document.getElementById("replays-all"), mine: document.getElementById("replays-mine") };
    this.tabs.all.addEventListener("click", () => this.choose(false));
    this.tabs.mine.addEventListener("click", () => this.choose(true));
    this.more.addEventListener("click", () => this.refresh({ append: true }));
  }

  choose(mine) {
    this.mine = mine;
    this.tabs.all.setAttribute("aria-pressed", String(!mine));
    this.tabs.mine.setAttribute("aria-pressed", String(mine));
    this.refresh();
  }

  async refresh({ append = false } = {}) {
    if (document.getElementById("replays").hidden || !this.app.conn.ready) return;
    this.tabs.mine.hidden = this.app.identity.isGuest;
    if (this.app.identity.isGuest && this.mine) this.choose(false);
    const last = append ? this.shown[this.shown.length - 1] : null;
    const ask = { type: "list_recordings", mine: this.mine, limit: PAGE };
    if (last) ask.before = last.started_at;
    try {
      const reply = await this.app.request(ask, { quiet: true });
      this.shown = append ? [...this.shown, ...reply.recordings] : reply.recordings;
      this.more.hidden = !reply.more;
      this.render();
    } catch (e) {
      if (e.code !== "disconnected") toast("The replays could not be listed. Try again in a moment.", { kind: "warn" });
    }
  }

  render() {
    fill(
      this.list,
      this.shown.length
        ? this.shown.map((r) => this.card(r))
        : h("li", { class: "empty" }, this.mine ? "You have no recordings. Turn on “Record this space” when you start one." : "No replays yet."),
    );
  }

  card(r) {
    const open = () => this.app.navigate(`/r/${r.recording_id}`);
    const running = r.ended_at === null;
    return h(
      "li",
      { class: "card replay-card", dataset: { recording: r.recording_id } },
      h(
        "div",
        { class: "card-top" },
        running
          ? h("span", { class: "pill rec" }, h("span", { class: "rec-dot", "aria-hidden": "true" }), "Recording now")
          : h("span", { class: "pill", title: `Duration: ${durationWords(r.duration_ms)}` }, clock(r.duration_ms)),
        r.visibility === "private" ? h("span", { class: "badge private" }, "Private") : null,
      ),
      h("h3", { class: "card-title" }, h("a", { href: `/r/${r.recording_id}`, onclick: (e) => { e.preventDefault(); open(); } }, r.title)),
      h("p", { class: "card-host" }, "Hosted by ", h("strong", {}, isGuest(r.host) ? r.host_name : `@${r.host_name}`), ` · ${dateTimeText(r.started_at)}`),
      r.part_count > 1 ? h("p", { class: "card-counts" }, h("span", {}, `${r.part_count} parts`)) : null,
      h(
        "div",
        { class: "card-actions" },
        running
          ? h("button", { class: "btn primary", type: "button", onclick: () => this.app.join(r.space_id), "aria-label": `Join ${r.title} live` }, "Join live")
          : h("button", { class: "btn primary", type: "button", onclick: open, "aria-label": `Play the replay of ${r.title}` }, "▶ Play"),
        hostActions(this.app, r, () => this.refresh()),
      ),
    );
  }
}

export function durationWords(ms) {
  const minutes = Math.floor(ms / 60000);
  if (ms < 60000) return `${Math.max(0, Math.floor(ms / 1000))} s`;
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A file's size for people: "820 KB", "14.2 MB". */
export function sizeWords(bytes) {
  return bytes < 1e6 ? `${Math.max(1, Math.round(bytes / 1e3))} KB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The host's controls on their own recording: public or private, and delete (null for anyone else). */
export function hostActions(app, r, changed) {
  if (r.host !== app.identity.user) return null;
  const running = r.ended_at === null;
  const id = `visibility-${r.recording_id}`;
  return h(
    "div",
    { class: "host-actions" },
    h("label", { for: id, class: "sr-only" }, `Who may play ${r.title}`),
    h(
      "select",
      {
        id,
        "data-focus-key": id,
        onchange: async (e) => {
          const visibility = e.target.value;
          try {
            await app.request({ type: "set_recording_visibility", recording_id: r.recording_id, visibility });
            toast(visibility === "private" ? "Only you can play this recording now." : "Anyone can play this recording now.");
          } catch {
            /* told */
          }
          changed();
        },
      },
      h("option", { value: "public", selected: r.visibility === "public" }, "Public"),
      h("option", { value: "private", selected: r.visibility === "private" }, "Private: only me"),
    ),
    running
      ? null
      : h("button", {
          class: "btn small danger",
          type: "button",
          "aria-label": `Delete the recording of ${r.title}`,
          onclick: async () => {
            if (!confirm(`Delete the recording of “${r.title}” for good?`)) return;
            try {
              await app.request({ type: "delete_recording", recording_id: r.recording_id });
              toast("The recording is deleted.");
            } catch {
              /* told */
            }
            changed(true);
          },
        }, "Delete"),
  );
}
