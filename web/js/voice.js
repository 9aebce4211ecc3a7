// This page's voice: the microphone (mic.js) and how it reaches the server, over WebRTC (rtc.js) when the
// server takes it, else as `audio` messages on the WebSocket; live or muted. The app owns one.

import { Microphone } from "./mic.js";
import { RtcSender } from "./rtc.js";
import { onMic } from "./space-state.js";
import { toast } from "./ui/toasts.js";

export class Voice {
  constructor(app, iceServers) {
    this.app = app;
    this.mic = new Microphone((packet) => this.packet(packet));
    this.rtc = new RtcSender(app.conn, iceServers);
    // No WebRTC: the browser has none, the server answered rtc_offer with unknown_type, or localStorage's
    // "stoa.webrtc" is "off" (a switch for diagnosing, and for the bench to measure the WebSocket path).
    this.rtcUnavailable = !RtcSender.supported() || localStorage.getItem("stoa.webrtc") === "off";
    this.live = false;
    this.via = null; // "webrtc" or "websocket" while the microphone is open
  }

  /** One of the microphone's `audio` messages (when it sends over the WebSocket). */
  packet(packet) {
    const space = this.app.space;
    if (this.live && space && onMic(space.role)) this.app.conn.send(packet);
  }

  /** Go live (open the microphone if needed, unmute on the server) or mute. */
  async setLive(live, { tellServer = true } = {}) {
    const app = this.app;
    const me = app.identity.user;
    if (live) {
      if (!Microphone.supported()) {
        toast("This browser cannot capture the microphone for Stoa (it needs WebCodecs).", { kind: "error" });
        return;
      }
      try {
        await this.mic.start({ processing: app.processing });
      } catch (e) {
        toast("Stoa cannot use your microphone. Allow it in the browser's site settings, then try again.", {
          kind: "error",
        });
        return;
      }
      if (tellServer && app.space && app.space.muted.has(me)) await app.request({ type: "unmute" });
      this.mic.setMuted(false);
      this.live = true;
      if (!this.via) await this.startSending();
    } else {
      this.mic.setMuted(true);
      this.live = false;
      if (tellServer && app.space && !app.space.muted.has(me)) {
        await app.request({ type: "mute", user: me }).catch(() => {});
      }
    }
    app.spaceView.renderDock();
  }

  /** Send the open microphone over WebRTC when the server takes it, else as `audio` messages. */
  async startSending() {
    this.via = "websocket";
    this.mic.sendVia = "ws";
    if (this.rtcUnavailable || !this.mic.track) return;
    this.mic.sendVia = "rtc";
    try {
      await this.rtc.start(this.mic.track);
      this.via = "webrtc";
    } catch (e) {
      if (e.code === "unknown_type") this.rtcUnavailable = true; // a server without WebRTC
      else console.info("stoa: WebRTC did not connect; speaking over the WebSocket", e);
      this.rtc.stop();
      this.mic.sendVia = "ws";
    }
    this.app.spaceView.renderDock();
  }

  /** Off the mic: the microphone closed, no peer connection. */
  drop() {
    this.live = false;
    this.via = null;
    this.rtc.stop();
    this.mic.stop();
  }

  /** A new WebSocket: the microphone's stream starts again, and the old one's peer connection is gone (the
   *  server closed it with that WebSocket). */
  reconnected() {
    this.mic.restartStream();
    this.rtc.stop();
  }

  /** The server closed the peer connection (`rtc_closed`): for leaving the mic or the space there is nothing to
   *  do; after a failure, the microphone goes on over the WebSocket. */
  rtcClosed(reason) {
    if (this.live && this.via === "webrtc" && !["left_mic", "left_space"].includes(reason)) {
      this.rtc.stop();
      this.mic.sendVia = "ws";
      this.via = "websocket";
    }
  }
}
