// Speaking over the WebSocket: the microphone's `audio` messages go out at once while the socket keeps up. When
// it does not (a stalled network: the browser's send buffer holds bytes it could not pass on), each message
// waits here for the socket to drain; one more than STALE_MS older than its capture (`captured_at`: a stalled
// socket, or a stalled page or encoder that handed it over late) is dropped and counted, never sent late.
// Live speech that is already late is worthless to listeners, and the server keeps 6 packets a speaker and
// drops a backlog past its pace anyway (docs/protocol.md, `audio`). Requests never come here: connection.js
// sends them whatever the buffer holds.

import { encode } from "./msgpack.js";

/** How long a message may wait for the socket: 200 ms, 10 frames. A short hiccup (a garbage collection, one
 *  TCP retransmission) passes with nothing lost; anything later would reach a server that plays each speaker
 *  from a queue of at most 6 packets (120 ms) and skips a backlog: it would be dropped there, or delay the
 *  whole space. */
export const STALE_MS = 200;

/** What the browser's own send buffer may hold before messages wait here instead: about 4 `audio` messages
 *  of 32 kbit/s Opus (80 ms). What is in that buffer can no longer be dropped, so it is kept small. */
export const SOCKET_BACKLOG_BYTES = 512;

export class AudioSender {
  constructor() {
    this.ws = null; // the socket the waiting messages are for
    this.waiting = []; // {data, at}: encoded messages, oldest first, with when they were handed over
    this.stats = { sent: 0, dropped: 0 }; // dropped: stale, or waiting when the connection ended
  }

  /** Send `msg` on `ws` now, or let it wait (while the socket is backed up) until a later call finds the
   *  socket drained; the mic calls every 20 ms, which is when waiting messages are sent or dropped. */
  send(ws, msg, now = performance.now()) {
    if (ws !== this.ws) {
      this.stats.dropped += this.waiting.length; // a new connection: nothing of the old one's goes late
      this.waiting = [];
      this.ws = ws;
    }
    // Its capture on this clock (mic.js stamps `captured_at` from performance.timeOrigin: the same basis),
    // never later than now; a message without one counts from now.
    const captured = msg.captured_at > 0 ? msg.captured_at / 1000 - performance.timeOrigin : now;
    this.waiting.push({ data: encode(msg), at: Math.min(now, captured) });
    while (this.waiting.length && now - this.waiting[0].at > STALE_MS) {
      this.waiting.shift();
      this.stats.dropped += 1;
    }
    if (!this.waiting.length || ws.bufferedAmount > SOCKET_BACKLOG_BYTES) return;
    for (const { data } of this.waiting) ws.send(data);
    this.stats.sent += this.waiting.length;
    this.waiting = [];
  }
}
