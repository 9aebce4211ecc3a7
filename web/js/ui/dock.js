// The dock at the bottom of a space: leave, raise a hand or accept an invitation, the microphone with its
// level meter, reactions, volume, the listening delay, and the microphone's frames dropped as too late to send.

import { onMic } from "../space-state.js";
import { openAuth } from "./dialogs.js";
import { fill, h } from "./dom.js";
import { toast } from "./toasts.js";

export const REACTIONS = ["💯", "👏", "✋", "😂", "❤️", "🔥", "👍", "🙏", "😮", "😢"];

export class Dock {
  constructor(app, view) {
    this.app = app;
    this.view = view;
    this.el = h("footer", { class: "dock", "aria-label": "Space controls" });
    this.meter = h("span", { class: "meter-fill" });
    this.delay = h("span", { class: "delay", "aria-live": "off" });
    this.late = h("span", {
      class: "via late",
      "aria-live": "off",
      title: "Microphone audio the connection could not send within 200 ms: dropped rather than sent late",
    });
    this.volume = h("input", {
      id: "volume",
      type: "range",
      min: "0",
      max: "1.5",
      step: "0.05",
      value: String(app.player.volume),
      "aria-label": "Volume",
      "data-focus-key": "volume",
      oninput: (e) => app.player.setVolume(Number(e.target.value)),
    });
    // Built once, not at each render: a re-render (any event in the room) then moves the same menu, still open
    // if it was, with the same buttons, instead of closing it under the pointer.
    this.reactions = h("details", { class: "react-menu" },
      h("summary", { class: "btn", "data-focus-key": "react" }, "😊 React"),
      h("div", { class: "reactions", role: "group", "aria-label": "Reactions" },
        REACTIONS.map((emoji) => h("button", {
          class: "emoji",
          type: "button",
          "aria-label": `React ${emoji}`,
          "data-focus-key": `react ${emoji}`,
          onclick: () => app.request({ type: "react", emoji }).catch(() => {}),
        }, emoji))));
    app.player.addEventListener("state", () => this.render());
  }

  render() {
    const app = this.app;
    const space = app.space;
    if (!space) return;
    const me = app.identity.user;
    const live = space.status === "live" && !space.removed;
    const mine = [];
    mine.push(h("button", { class: "btn ghost", type: "button", "data-focus-key": "leave", onclick: () => app.leave() }, live ? "Leave quietly" : "Back"));
    if (live && !app.player.running) {
      mine.push(h("button", { class: "btn primary", type: "button", "data-focus-key": "play", onclick: () => app.startAudio() }, "▶ Tap to listen"));
    }
    if (live && space.role === "listener") {
      const raised = space.hands.some((p) => p.user === me);
      const invited = space.invited.has(me) || app.pendingInvite === space.id;
      if (invited) {
        mine.push(h("button", { class: "btn primary", type: "button", "data-focus-key": "accept", onclick: () => this.view.acceptInvite() }, "Accept invitation to speak"));
      }
      if (app.identity.isGuest) {
        mine.push(h("button", { class: "btn", type: "button", "data-focus-key": "signup", onclick: () => openAuth(app, "signup") }, "Sign up to ask to speak"));
      } else {
        mine.push(
          h("button", {
            class: `btn ${raised ? "" : "primary"}`,
            type: "button",
            "data-focus-key": "hand",
            "aria-pressed": raised ? "true" : "false",
            onclick: () => app.request({ type: raised ? "lower_hand" : "raise_hand" }).catch(() => {}),
          }, raised ? "✋ Lower hand" : "✋ Request to speak"),
        );
      }
    }
    if (live && onMic(space.role)) {
      const liveMic = app.voice.live;
      mine.push(
        h("button", {
          class: `btn mic ${liveMic ? "on" : ""}`,
          type: "button",
          "data-focus-key": "mic",
          "aria-pressed": liveMic ? "true" : "false",
          onclick: () => app.voice.setLive(!liveMic),
        }, liveMic ? "🎙 Mute" : "🎙 Unmute"),
        h("span", { class: "via", title: "How your voice reaches the server" }, app.voice.via === "webrtc" ? "WebRTC" : app.voice.via === "websocket" ? "WebSocket" : ""),
        this.late,
        h("span", { class: "meter", role: "meter", "aria-label": "Microphone level", "aria-valuemin": "0", "aria-valuemax": "100" }, this.meter),
        h("label", { class: "check" },
          h("input", {
            type: "checkbox",
            checked: app.processing,
            onchange: (e) => {
              app.processing = e.target.checked;
              toast("Voice processing applies the next time the microphone opens.");
            },
          }),
          " Voice processing"),
        app.recordingUi.dockControl(space),
      );
      if (space.role !== "host") {
        mine.push(h("button", { class: "btn ghost", type: "button", onclick: () => app.request({ type: "set_role", user: me, role: "listener" }).catch(() => {}) }, "Leave the mic"));
      }
    }
    const reactions = live && !app.identity.isGuest ? this.reactions : null;
    if (!reactions) this.reactions.open = false;
    fill(
      this.el,
      h("div", { class: "dock-mine" }, mine),
      reactions,
      h("div", { class: "dock-audio" }, h("label", { for: "volume", class: "vol-label" }, "🔊"), this.volume, this.delay),
    );
  }

  tick() {
    const level = this.app.voice.live ? Math.min(1, this.app.voice.mic.level() * 2) : 0;
    this.meter.style.transform = `scaleX(${level.toFixed(3)})`;
    const meter = this.meter.parentElement;
    if (meter) meter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
    const s = this.app.player.stats;
    this.delay.textContent = s.playing ? `${s.delayMs + 20} ms buffer` : "";
    const dropped = this.app.conn.audio.stats.dropped;
    this.late.textContent = dropped ? `${dropped} late ${dropped === 1 ? "frame" : "frames"} dropped` : "";
  }
}
