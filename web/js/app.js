// The web client's entry point and controller: one connection, one identity, the audio (player and
// microphone), the route (`/` or `/s/<space_id>`), and the views. It reads /config.json to find the
// gateway's WebSocket.

import { Connection } from "./connection.js";
import { describeClose, describeError } from "./errors.js";
import { Identity } from "./identity.js";
import { Player } from "./player.js";
import { apply, fromSnapshot, onMic } from "./space-state.js";
import { openAuth, openCreate, setUpDialogs } from "./ui/dialogs.js";
import { h } from "./ui/dom.js";
import { HomeView } from "./ui/home.js";
import { showNotice } from "./ui/notices.js";
import { RecordingUi } from "./ui/recording.js";
import { ReplayView } from "./ui/replay.js";
import { ReplaysView } from "./ui/replays.js";
import { SpaceView } from "./ui/space.js";
import { announce, toast } from "./ui/toasts.js";
import { Voice } from "./voice.js";

const SPACE_PATH = /^\/s\/([A-Za-z0-9_-]{1,64})\/?$/;
const REPLAY_PATH = /^\/r\/(r-[0-9a-f]{1,60})\/?$/;
const SCREENS = ["home", "space", "replays", "replay"];
const PROCESSING = "stoa.processing";

class App {
  constructor(config) {
    this.config = config;
    this.identity = new Identity(() => this.renderAccount());
    this.conn = new Connection(config.ws_url, this.identity);
    this.player = new Player();
    this.voice = new Voice(this, config.ice_servers || []);
    this.space = null; // space-state.js, while in a space
    this.spaceId = null; // the space this page is in or joining (kept across reconnections)
    this.joining = null;
    this.pendingInvite = null; // a space id we were invited to speak in
    this.home = new HomeView(this);
    this.spaceView = new SpaceView(this);
    this.recordingUi = new RecordingUi(this);
    this.replays = new ReplaysView(this);
    this.replay = new ReplayView(this);
    this.lastAudioError = 0;
    this.lastRejoin = null; // how the last reconnection took the space back: "resumed", "events_gone", ...
  }

  get processing() {
    return localStorage.getItem(PROCESSING) !== "off";
  }

  set processing(on) {
    localStorage.setItem(PROCESSING, on ? "on" : "off");
  }

  start() {
    this.conn.addEventListener("status", (e) => this.renderStatus(e.detail));
    this.conn.addEventListener("ready", (e) => this.ready(e.detail));
    this.conn.addEventListener("welcome", () => this.renderAccount());
    this.conn.addEventListener("event", (e) => this.event(e.detail));
    this.conn.addEventListener("audio", (e) => {
      if (this.space) this.player.push(e.detail);
    });
    this.conn.addEventListener("speaking", (e) => this.spaceView.speaking(e.detail));
    this.conn.addEventListener("notice", (e) => showNotice(this, e.detail));
    window.addEventListener("popstate", () => this.route());
    window.addEventListener("online", () => this.conn.reconnectNow());
    for (const link of document.querySelectorAll("[data-nav]")) {
      link.addEventListener("click", (e) => {
        e.preventDefault();
        this.navigate(link.getAttribute("href"));
      });
    }
    setUpDialogs(this);
    this.renderAccount();
    this.conn.start();
  }

  // -- connection -------------------------------------------------------------------------------------

  async ready({ reconnected }) {
    this.renderAccount();
    const refusal = this.identity.lastRefusal;
    this.identity.lastRefusal = null;
    if (refusal === "token_invalid" || refusal === "token_expired" || refusal === "guest_token_invalid") {
      toast(describeError({ code: refusal }), { kind: "warn" });
    }
    if (reconnected && this.spaceId) {
      this.player.reset();
      this.voice.reconnected();
      if (!(await this.resume())) await this.join(this.spaceId, { rejoin: true });
      if (this.voice.live && this.space && onMic(this.space.role)) await this.voice.startSending();
    } else {
      this.route();
    }
  }

  renderStatus({ state, code, reason, retryInMs }) {
    const el = document.getElementById("conn");
    el.dataset.state = state;
    if (state === "open") el.textContent = "";
    else if (state === "connecting") el.textContent = "Connecting…";
    else if (state === "replaced" || state === "suspended" || state === "ended") el.textContent = describeClose(code, reason);
    else el.textContent = `${describeClose(code, reason)} (in ${Math.ceil(retryInMs / 1000)} s)`;
    if (state === "replaced") {
      toast(describeClose(4002), { kind: "warn", sticky: true, action: ["Use Stoa here", () => this.conn.start()] });
    }
  }

  /** Send a request; on refusal, tell the person (unless `quiet`) and rethrow. */
  async request(msg, { quiet = false } = {}) {
    try {
      return await this.conn.request(msg);
    } catch (e) {
      if (!quiet) toast(describeError(e), { kind: "error" });
      throw e;
    }
  }

  // -- routing ----------------------------------------------------------------------------------------

  navigate(path) {
    if (location.pathname !== path) history.pushState({}, "", path);
    this.route();
  }

  route() {
    const m = SPACE_PATH.exec(location.pathname);
    if (m) {
      this.replay.close();
      if (this.spaceId !== m[1]) this.join(m[1]);
      else this.show("space");
      return;
    }
    if (this.spaceId) this.leave({ navigate: false });
    const r = REPLAY_PATH.exec(location.pathname);
    if (r) {
      this.show("replay");
      this.replay.open(r[1]);
    } else if (location.pathname.replace(/\/$/, "") === "/replays") {
      this.replay.close();
      this.show("replays");
      this.replays.refresh();
    } else {
      this.replay.close();
      this.show("home");
      this.home.refresh();
    }
  }

  show(which) {
    for (const screen of SCREENS) document.getElementById(screen).hidden = which !== screen;
    for (const link of document.querySelectorAll("[data-nav]")) {
      if (link.dataset.nav === which) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const titles = { space: this.space?.title, replay: this.replay.title };
    document.title = titles[which] ? `${titles[which]} · Stoa` : which === "replays" ? "Replays · Stoa" : "Stoa: live audio spaces";
  }

  // -- spaces -----------------------------------------------------------------------------------------

  /** Join `spaceId` (or rejoin it after a reconnection: the server keeps the place, the same role, for a
   *  while after a drop). */
  async join(spaceId, { rejoin = false } = {}) {
    if (this.spaceId && this.spaceId !== spaceId) await this.leave({ navigate: false });
    this.spaceId = spaceId;
    if (SPACE_PATH.exec(location.pathname)?.[1] !== spaceId) history.pushState({}, "", `/s/${spaceId}`);
    this.show("space");
    if (!rejoin) this.spaceView.loading();
    await this.startAudio();
    try {
      const joined = await this.request({ type: "join_space", space_id: spaceId }, { quiet: true });
      this.entered(joined);
    } catch (e) {
      if (e.code === "disconnected" || e.code === "timeout") return; // joined again when reconnected
      if (e.code === "already_in_space") {
        await this.conn.request({ type: "leave_space" }).catch(() => {});
        if (!rejoin) return this.join(spaceId, { rejoin: true });
      }
      this.spaceId = null;
      this.space = null;
      this.spaceView.failed(e);
    }
  }

  /** After a reconnection: take back the place in the space with the events missed (`resume`, see
   *  docs/protocol.md, Reconnecting and resuming). False when the server cannot (an older server answers
   *  `unknown_type`; `not_resumable` after a restart): the caller joins again instead. */
  async resume() {
    const space = this.space;
    if (!space || space.id !== this.spaceId || space.status !== "live") return false;
    let reply;
    try {
      reply = await this.conn.request({ type: "resume", space_id: space.id, last_seq: space.seq });
    } catch (e) {
      if (e.code === "unknown_type" || e.code === "not_resumable" || e.code === "disconnected") {
        this.lastRejoin = `joined (${e.code})`;
        return false;
      }
      this.spaceId = null;
      this.space = null;
      this.voice.drop();
      this.spaceView.failed(e);
      return true;
    }
    if (reply.type === "joined") {
      this.lastRejoin = reply.resume || "joined"; // "events_gone" or "window_passed"
      this.entered(reply);
      return true;
    }
    this.lastRejoin = "resumed";
    this.spaceView.resetTalking(); // a `speaking` follows the reply when anyone talks
    for (const ev of reply.events) this.event(ev);
    if (this.space) {
      this.space.role = reply.role;
      if (reply.muted) this.space.muted.add(this.identity.user);
      else this.space.muted.delete(this.identity.user);
      this.spaceView.render();
    }
    return true;
  }

  /** The `joined` reply of join_space, create_space or start_scheduled. */
  entered(joined) {
    this.space = fromSnapshot(joined.space, joined.role);
    this.spaceId = this.space.id;
    this.spaceView.resetTalking(); // a `speaking` follows the reply when anyone talks
    if (SPACE_PATH.exec(location.pathname)?.[1] !== this.spaceId) history.pushState({}, "", `/s/${this.spaceId}`);
    if (!onMic(joined.role)) this.voice.drop();
    else if (this.voice.live && this.space.muted.has(this.identity.user)) this.voice.setLive(false);
    this.show("space");
    this.spaceView.render();
  }

  async leave({ navigate = true } = {}) {
    const was = this.spaceId;
    this.spaceId = null;
    this.space = null;
    this.recordingUi.reset();
    this.voice.drop();
    this.player.reset();
    if (was) await this.conn.request({ type: "leave_space" }).catch(() => {});
    if (navigate) this.navigate("/");
  }

  async startAudio() {
    if (!Player.supported()) {
      toast("This browser cannot play Stoa's audio (it needs WebCodecs). Try a recent Chrome, Edge or Firefox.", {
        kind: "error",
      });
      return false;
    }
    try {
      await this.player.start();
    } catch (e) {
      console.warn("stoa: audio did not start", e);
    }
    this.spaceView.renderDock();
    return this.player.running;
  }

  event(ev) {
    if (!this.space || ev.space_id !== this.space.id) return;
    if (!apply(this.space, ev, this.identity.user)) return;
    const me = this.identity.user;
    if (ev.type === "reaction") this.spaceView.reaction(ev);
    if (ev.type === "mute_changed" && ev.user === me && ev.muted && this.voice.live) {
      this.voice.setLive(false, { tellServer: false });
      if (ev.by !== me) toast("A host muted you. Unmute when you want to speak again.", { kind: "warn" });
    }
    if (ev.type === "role_changed" && ev.user === me) {
      if (ev.role === "listener") {
        this.voice.drop();
        toast("You are back in the audience.");
      } else {
        toast(ev.role === "cohost" ? "You are now a co-host." : "You are on the mic. Unmute to speak.");
      }
    }
    if (ev.type === "hand_lowered" && ev.user === me && ev.reason === "denied") {
      toast("Your request to speak was declined this time.");
    }
    if (ev.type === "participant_removed" && ev.user === me) {
      this.voice.drop();
      this.spaceId = null;
      toast("You were removed from this space.", { kind: "warn" });
    }
    if (ev.type === "space_ended") {
      this.voice.drop();
      this.spaceId = null;
      announce("The space has ended.");
    }
    this.spaceView.render();
  }

  async acceptFromInvite(spaceId) {
    if (this.spaceId !== spaceId) await this.join(spaceId);
    if (this.space && this.space.id === spaceId) this.spaceView.acceptInvite();
  }

  // -- account ----------------------------------------------------------------------------------------

  renderAccount() {
    const nav = document.getElementById("account");
    const id = this.identity;
    if (!id.user) {
      nav.replaceChildren();
      return;
    }
    if (id.isGuest) {
      nav.replaceChildren(
        h("span", { class: "who" }, h("span", { class: "badge guest" }, "Guest"), " ", id.name),
        h("button", { class: "btn ghost", type: "button", onclick: () => openAuth(this, "login") }, "Log in"),
        h("button", { class: "btn primary", type: "button", onclick: () => openAuth(this, "signup") }, "Sign up"),
      );
    } else {
      nav.replaceChildren(
        h("span", { class: "who" }, "@", id.handle),
        h("button", { class: "btn ghost", type: "button", onclick: () => this.logOut() }, "Log out"),
      );
    }
    this.home.renderStartButton();
    if (this.space) this.spaceView.render();
  }

  async logIn(handle, password) {
    const wasIn = this.spaceId;
    if (wasIn) await this.leave({ navigate: false });
    const reply = await this.conn.request({ type: "log_in", handle, password });
    this.identity.loggedIn(reply);
    if (wasIn) await this.join(wasIn);
    return reply;
  }

  async logOut() {
    const wasIn = this.spaceId;
    if (wasIn) await this.leave({ navigate: false });
    try {
      await this.request({ type: "log_out" });
    } finally {
      this.identity.loggedOut();
    }
    toast("You are logged out. You can still listen as a guest.");
    if (wasIn) await this.join(wasIn);
    else this.route();
  }

  openCreate() {
    if (this.identity.isGuest) {
      toast(describeError({ code: "account_required" }), { kind: "warn" });
      openAuth(this, "signup");
      return;
    }
    openCreate(this);
  }
}

const response = await fetch("/config.json");
const config = await response.json();
const app = new App(config);
// For the browser tests and for people diagnosing audio: the app, and what is playing now.
window.stoa = {
  app,
  probe: (freqs) => app.player.probe(freqs),
  replayProbe: (freqs) => app.replay.probe(freqs),
  micLevel: () => app.voice.mic.level(),
};
app.start();
