// Speaking over WebRTC (docs/protocol.md, *WebRTC*): the microphone's track on a send-only peer connection,
// signalled on the WebSocket (`get_rtc_config` for the ICE servers, a TURN credential of this account's own
// among them; `rtc_offer` with the complete offer, no trickle ICE; `rtc_answer`). The server takes the Opus
// RTP payloads to the mixer; what a speaker hears still comes as `audio` on the WebSocket.

const GATHER_MS = 3000;

export class RtcSender {
  constructor(conn, iceServers = []) {
    this.conn = conn;
    this.iceServers = iceServers;
    this.pc = null;
  }

  static supported() {
    return typeof RTCPeerConnection !== "undefined";
  }

  get connected() {
    return this.pc !== null && this.pc.connectionState === "connected";
  }

  /** Open a peer connection sending `track`. Rejects with the server's RequestError (`unknown_type` when
   *  the server has no WebRTC) or an Error of the browser's. */
  async start(track) {
    this.stop();
    const marker = {};
    this.pc = marker; // a newer start() or stop() meanwhile replaces it
    const iceServers = await this.servers();
    if (this.pc !== marker) throw new Error("replaced");
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    pc.addTransceiver(track, { direction: "sendonly" });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    if (this.pc !== pc) throw new Error("replaced");
    const reply = await this.conn.request({ type: "rtc_offer", sdp: pc.localDescription.sdp });
    if (this.pc !== pc) throw new Error("replaced");
    await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
  }

  /** The ICE servers for a new peer connection: the server's answer to `get_rtc_config` (its STUN servers, and
   *  its TURN servers with a credential that expires, so asked again each time); `/config.json`'s STUN
   *  servers if the server does not know the request. */
  async servers() {
    try {
      const reply = await this.conn.request({ type: "get_rtc_config" });
      return reply.ice_servers;
    } catch (e) {
      if (e.code !== "unknown_type") throw e;
      return this.iceServers;
    }
  }

  /** Close the peer connection (the server learns it from ICE/DTLS, or closes it itself). */
  stop() {
    if (this.pc && this.pc.close) this.pc.close();
    this.pc = null;
  }
}

/** Resolves when ICE gathering is complete (or after GATHER_MS with what was found: host candidates are
 *  there at once). */
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, GATHER_MS);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
