// The home screen: live and upcoming spaces, search, reminders, and the host's scheduled spaces.

import { dateTimeText, fill, h, isGuest } from "./dom.js";
import { recordingMark } from "./recording.js";
import { shareButton } from "./share.js";
import { toast } from "./toasts.js";

const REFRESH_MS = 15000;
const REMINDERS = "stoa.reminders";

function remembered() {
  try {
    return new Set(JSON.parse(localStorage.getItem(REMINDERS) || "[]"));
  } catch {
    return new Set();
  }
}

export class HomeView {
  constructor(app) {
    this.app = app;
    this.query = "";
    this.timer = null;
    this.live = document.getElementById("live-list");
    this.upcoming = document.getElementById("upcoming-list");
    document.getElementById("search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.query = document.getElementById("search").value.trim();
      this.refresh();
    });
    document.getElementById("search").addEventListener("search", (e) => {
      if (!e.target.value) {
        this.query = "";
        this.refresh();
      }
    });
    document.getElementById("start-space").addEventListener("click", () => app.openCreate());
  }

  renderStartButton() {
    const button = document.getElementById("start-space");
    button.textContent = this.app.identity.isGuest ? "Sign up to host" : "Start a space";
  }

  async refresh() {
    clearTimeout(this.timer);
    if (document.getElementById("home").hidden || !this.app.conn.ready) return;
    try {
      if (this.query) {
        const found = await this.app.request({ type: "search_spaces", query: this.query, limit: 50 });
        this.render(found.live, found.upcoming);
      } else {
        const live = await this.app.request({ type: "list_spaces", kind: "live", limit: 50 }, { quiet: true });
        const upcoming = await this.app.request({ type: "list_spaces", kind: "upcoming", limit: 25 }, { quiet: true });
        this.render(live.live, upcoming.upcoming);
      }
    } catch (e) {
      if (e.code !== "disconnected" && e.code !== "rate_limited") console.warn("stoa: listing failed", e);
    }
    this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  render(live, upcoming) {
    const searching = this.query !== "";
    document.getElementById("live-title").textContent = searching ? `Live: “${this.query}”` : "Live now";
    fill(
      this.live,
      live.length
        ? live.map((s) => this.liveCard(s))
        : h("li", { class: "empty" }, searching ? "No live space matches." : "Nobody is live right now. Start a space?"),
    );
    fill(
      this.upcoming,
      upcoming.length
        ? upcoming.map((s) => this.upcomingCard(s))
        : h("li", { class: "empty" }, searching ? "No upcoming space matches." : "Nothing scheduled yet."),
    );
  }

  liveCard(s) {
    const open = () => this.app.join(s.space_id);
    return h(
      "li",
      { class: "card live" },
      h("div", { class: "card-top" }, h("span", { class: "pill live" }, "LIVE"), recordingMark(s.recording ? {} : null), topics(s.topics)),
      h("h3", { class: "card-title" }, h("a", { href: `/s/${s.space_id}`, onclick: (e) => { e.preventDefault(); open(); } }, s.title)),
      h("p", { class: "card-host" }, "Hosted by ", h("strong", {}, isGuest(s.host) ? `${s.host_name} (guest)` : `@${s.host_name}`)),
      h(
        "p",
        { class: "card-counts" },
        h("span", {}, `${s.listener_count} listening`),
        h("span", {}, `${s.speaker_count} on the mic`),
      ),
      h(
        "div",
        { class: "card-actions" },
        h("button", { class: "btn primary", type: "button", onclick: open, "aria-label": `Listen to ${s.title}` }, "Listen"),
        shareButton(this.app, s.space_id, s.title),
      ),
    );
  }

  upcomingCard(s) {
    const mine = s.host === this.app.identity.user;
    const reminded = remembered().has(s.scheduled_id);
    const actions = [];
    if (mine) {
      actions.push(h("button", { class: "btn primary", type: "button", onclick: () => this.startScheduled(s.scheduled_id) }, "Start now"));
      actions.push(h("button", { class: "btn ghost", type: "button", onclick: () => this.cancel(s) }, "Cancel"));
    } else {
      actions.push(
        h(
          "button",
          {
            class: `btn ${reminded ? "" : "primary"}`,
            type: "button",
            "aria-pressed": reminded ? "true" : "false",
            onclick: () => this.toggleReminder(s, !reminded),
          },
          reminded ? "Reminder set" : "Remind me",
        ),
      );
    }
    return h(
      "li",
      { class: "card upcoming" },
      h("div", { class: "card-top" }, h("span", { class: "pill" }, dateTimeText(s.starts_at)), s.record ? h("span", { class: "badge rec-badge", title: "This space will be recorded" }, "● Recorded") : null, topics(s.topics)),
      h("h3", { class: "card-title" }, s.title),
      s.description ? h("p", { class: "card-desc" }, s.description) : null,
      h("p", { class: "card-host" }, "Hosted by ", h("strong", {}, `@${s.host_name}`), ` · ${s.reminder_count} reminded`),
      h("div", { class: "card-actions" }, actions),
    );
  }

  async toggleReminder(s, on) {
    if (this.app.identity.isGuest) {
      toast("Sign up or log in to get reminders: guests only listen.", { kind: "warn" });
      return;
    }
    await this.app.request({ type: on ? "set_reminder" : "clear_reminder", scheduled_id: s.scheduled_id });
    const set = remembered();
    if (on) set.add(s.scheduled_id);
    else set.delete(s.scheduled_id);
    localStorage.setItem(REMINDERS, JSON.stringify([...set]));
    toast(on ? `We'll tell you when “${s.title}” starts.` : "Reminder removed.");
    this.refresh();
  }

  async startScheduled(scheduledId) {
    if (this.app.spaceId) await this.app.leave({ navigate: false });
    await this.app.startAudio();
    const joined = await this.app.request({ type: "start_scheduled", scheduled_id: scheduledId });
    this.app.entered(joined);
  }

  async cancel(s) {
    await this.app.request({ type: "cancel_scheduled", scheduled_id: s.scheduled_id });
    toast(`“${s.title}” is cancelled; everyone with a reminder is told.`);
    this.refresh();
  }
}

export function topics(list) {
  return h("span", { class: "topics" }, (list || []).map((t) => h("span", { class: "topic" }, `#${t}`)));
}
