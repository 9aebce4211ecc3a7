"""Outbox: everything the server writes to one client, in order, drained by that connection's one writer.

Replies, events and audio share one queue so their order is kept and no two writers ever interleave on a
connection. The queue is bounded in bytes: when it is full, the oldest audio frames are dropped first
(audio is only worth its freshness); events and replies are never dropped: if they alone overflow the
queue, the client is too slow and the outbox closes with TOO_SLOW (PyFanout notices it to the gateway, which
closes the connection with 4000, as the Rust fan-out's overflow). Either close comes after the replies and
events already queued, as with the Rust fan-out (docs/protocol.md, *Transport*).
"""

from __future__ import annotations

from collections import deque

import trio

from gateway.errors import OVERFLOW_REASON, CloseCode

DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_MAX_AUDIO = 50  # 1 s of 20 ms frames


class OutboxClosed(Exception):
    pass


class Outbox:
    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, max_audio: int = DEFAULT_MAX_AUDIO) -> None:
        self._queue: deque[tuple[bool, bytes]] = deque()  # (is_audio, data)
        self._bytes = 0
        self._audio = 0
        self._max_bytes = max_bytes
        self._max_audio = max_audio
        self._nonempty = trio.Event()
        self.close_code: CloseCode | None = None
        self.close_reason = ""
        self.audio_dropped = 0

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def put(self, data: bytes) -> bool:
        """Queue a reply or an event. False (and the outbox closes with TOO_SLOW, keeping what it holds, as the
        Rust fan-out does: a client that catches up reads it before its close frame) when it cannot fit."""
        if self.closed:
            return False
        while self._bytes + len(data) > self._max_bytes and self._audio:
            self._drop_oldest_audio()
        if self._bytes + len(data) > self._max_bytes:
            self.close(CloseCode.TOO_SLOW, OVERFLOW_REASON)
            return False
        self._append(False, data)
        return True

    def put_audio(self, data: bytes) -> None:
        """Queue an audio message, dropping the oldest queued audio to make room."""
        if self.closed:
            return
        while self._audio and (self._audio >= self._max_audio or self._bytes + len(data) > self._max_bytes):
            self._drop_oldest_audio()
        if self._bytes + len(data) > self._max_bytes:
            self.audio_dropped += 1
            return
        self._append(True, data)

    def close(self, code: CloseCode, reason: str) -> None:
        """Take nothing more, and ask the writer to close the connection once it has written the replies and
        events still queued; the audio still queued is dropped, so that the close does not wait behind it."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
            if self._audio:
                self._queue = deque(item for item in self._queue if not item[0])
                self._bytes = sum(len(data) for _, data in self._queue)
                self._audio = 0
            self._nonempty.set()

    async def get(self) -> bytes:
        """The next message to write; raises OutboxClosed once `close()` was called and nothing is left."""
        while not self._queue:
            if self.closed:
                raise OutboxClosed
            self._nonempty = trio.Event()
            await self._nonempty.wait()
        is_audio, data = self._queue.popleft()
        self._bytes -= len(data)
        self._audio -= is_audio
        return data

    def _append(self, is_audio: bool, data: bytes) -> None:
        self._queue.append((is_audio, data))
        self._bytes += len(data)
        self._audio += is_audio
        self._nonempty.set()

    def _drop_oldest_audio(self) -> None:
        for i, (is_audio, data) in enumerate(self._queue):
            if is_audio:
                del self._queue[i]
                self._bytes -= len(data)
                self._audio -= 1
                self.audio_dropped += 1
                return
