// One WebSocket connection to the gateway, kept open: `hello` on every (re)connection, requests matched to
// replies by `ref`, space events, audio and user notifications handed to listeners, and reconnection after a
// drop with a jittered exponential backoff. What the connection was doing (the space it was in) is the
// app's to restore: it listens for "ready" with `reconnected: true`.

import { AudioSender } from "./audio-send.js";
import { decode, encode } from "./msgpack.js";

export const PROTOCOL = 2;
const BACKOFF_FIRST_MS = 400;
const BACKOFF_MAX_MS = 15000;
const REQUEST_TIMEOUT_MS = 20000;
// Closes after which a client does not reconnect by itself: the server ended the connection normally (1000),
// a client bug (1002, 1003, 1007, 1008, 1009), a newer connection of this user took over (4002), a suspended account (4005).
const FINAL_CLOSES = new Set([1000, 1002, 1003, 1007, 1008, 1009, 4002, 4005]);

export class RequestError extends Error {
  constructor(code, message, retryAfterMs) {
    super(message || code);
    this.code = code;
    this.retry_after_ms = retryAfterMs;
  }
}

/**
 * Events (EventTarget, `detail` holds the message):
 * - "ready" {welcome, reconnected}: `hello` succeeded; requests may be sent
 * - "status" {state: "connecting"|"open"|"closed"|"replaced"|"suspended"|"ended", code, reason, retryInMs}
 * - "event": a space event (has `seq` and `space_id`)
 * - "audio": an `audio` message
 * - "speaking": a `speaking` message (who is talking in the space)
 * - "notice": a user notification (dm_received, space_starting, space_cancelled, host_reminder), `lagging`,
 *   or an error without a `ref` (refused audio)
 * - "welcome": a later `welcome` (after `log_out`)
 */
export class Connection extends EventTarget {
  /** `identity.hello()` gives the `hello` to send; `identity.refused(code)` is told when it is refused (it
   *  changes what the next `hello()` gives, e.g. drops a stale token), `identity.welcomed(welcome)` on success. */
  constructor(url, identity) {
    super();
    this.url = url;
    this.identity = identity;
    this.ws = null;
    this.nextRef = 1;
    this.pending = new Map();
    this.ready = false;
    this.everReady = false;
    this.attempt = 0;
    this.stopped = false;
    this.timer = null;
    this.welcome = null;
    this.audio = new AudioSender(); // `audio.stats`: messages sent, and dropped as stale
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000); // a goodbye: the server lets the place in a space go at once
  }

  /** Close the socket now, as a dropped network would, and reconnect (used when the page goes back online). */
  reconnectNow() {
    clearTimeout(this.timer);
    this.attempt = 0;
    // 4100: a client closing on purpose to reconnect (any code but 1000 and 1001 keeps its place)
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(4100);
    else this.open();
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  open() {
    clearTimeout(this.timer);
    this.emit("status", { state: "connecting" });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleReconnect(1006);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => this.sendHello();
    ws.onmessage = (m) => this.receive(m.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new RequestError("disconnected", "The connection dropped before the server answered."));
      }
      this.pending.clear();
      if (this.helloWaiter) this.helloWaiter.reject(new RequestError("disconnected", "closed"));
      this.helloWaiter = null;
      if (FINAL_CLOSES.has(e.code) && !this.stopped) {
        // docs/protocol.md, Close codes: these say "do not reconnect"
        const state = e.code === 4002 ? "replaced" : e.code === 4005 ? "suspended" : "ended";
        this.emit("status", { state, code: e.code, reason: e.reason });
        return;
      }
      if (!this.stopped) this.scheduleReconnect(e.code, e.reason);
    };
  }

  scheduleReconnect(code, reason = "") {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    // 4004: the server is draining; come back after a random 0 to 2 s (docs/protocol.md, Close codes)
    const delay = code === 4004 && this.attempt === 0 ? Math.round(Math.random() * 2000) : Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt += 1;
    this.emit("status", { state: "closed", code, reason, retryInMs: delay });
    this.timer = setTimeout(() => this.open(), delay);
  }

  async sendHello() {
    for (let tries = 0; tries < 3; tries++) {
      const hello = { type: "hello", protocol: PROTOCOL, ...this.identity.hello() };
      let reply;
      try {
        reply = await this.helloExchange(hello);
      } catch (e) {
        return; // the socket closed; the reconnect is scheduled
      }
      if (reply.type === "welcome") {
        const reconnected = this.everReady;
        this.ready = true;
        this.everReady = true;
        this.attempt = 0;
        this.welcome = reply;
        this.identity.welcomed(reply);
        this.emit("status", { state: "open" });
        this.emit("ready", { welcome: reply, reconnected });
        return;
      }
      this.identity.refused(reply.code);
    }
    if (this.ws) this.ws.close();
  }

  /** `hello` has no `ref`: its reply is the next `welcome` or ref-less `error`. */
  helloExchange(msg) {
    return new Promise((resolve, reject) => {
      this.helloWaiter = { resolve, reject };
      this.sendRaw(msg);
    });
  }

  sendRaw(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) throw new RequestError("disconnected", "Not connected.");
    this.ws.send(encode(msg));
  }

  /** Send a request; resolves with its reply (`ok`, `joined`, ...), rejects with a RequestError. */
  request(msg) {
    if (!this.ready) return Promise.reject(new RequestError("disconnected", "Not connected to the server yet."));
    const ref = this.nextRef++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new RequestError("timeout", "The server did not answer in time."));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      try {
        this.sendRaw({ ...msg, ref });
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(ref);
        reject(e);
      }
    });
  }

  /** Send an `audio` message: at once, or, while the socket is backed up, after a short wait, or never once
   *  stale (audio-send.js: counted in `audio.stats`); false when not connected. */
  send(msg) {
    const ws = this.ws;
    if (!this.ready || !ws || ws.readyState !== WebSocket.OPEN) return false;
    this.audio.send(ws, msg);
    return true;
  }

  receive(data) {
    let msg;
    try {
      msg = decode(new Uint8Array(data));
    } catch (e) {
      console.warn("stoa: unreadable message from the server", e);
      return;
    }
    const type = msg.type;
    if (type === "audio") {
      this.emit("audio", msg);
      return;
    }
    if (type === "speaking") {
      this.emit("speaking", msg);
      return;
    }
    if (this.helloWaiter && !this.ready && (type === "welcome" || (type === "error" && msg.ref == null))) {
      const waiter = this.helloWaiter;
      this.helloWaiter = null;
      waiter.resolve(msg);
      return;
    }
    if (msg.ref != null && this.pending.has(msg.ref)) {
      const { resolve, reject, timer } = this.pending.get(msg.ref);
      clearTimeout(timer);
      this.pending.delete(msg.ref);
      if (type === "error") reject(new RequestError(msg.code, msg.message, msg.retry_after_ms));
      else resolve(msg);
      return;
    }
    if (type === "welcome") {
      this.welcome = msg;
      this.identity.welcomed(msg);
      this.emit("welcome", msg);
      return;
    }
    if (typeof msg.seq === "number" && typeof msg.space_id === "string") {
      this.emit("event", msg);
      return;
    }
    this.emit("notice", msg);
  }
}
