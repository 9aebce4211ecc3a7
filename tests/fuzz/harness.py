"""What the fuzz targets run: client bytes through the gateway's one decoder, and through a real Session's
read-decode-dispatch loop, and the outcomes the protocol documents for them.

- `decode_one(data)`: `protocol.decode_client` returns a `ClientMessage` or raises `BadMessage` / `UnknownType`.
- `SessionHarness.feed(data)`: a real `Session` (the gateway's, unchanged) over an in-memory WebSocket, with a real
  store (SQLite in memory), a real `SpaceDirectory` (space actors, mixers) and a real `Gateway`, inside
  `trio.run`. The input picks a start (`SCENARIOS`: before `hello`, a guest, an account hosting a space, an
  account listening in one), whether the messages are read as the Rust `Wire` reads them (its audio reader
  first) or as trio-websocket does (`through_wire`), and holds the client's messages separated by
  `SEPARATOR`. Every reply must be an `error` with a documented code other than `internal`, or a normal reply;
  the session must end with a documented close code, never 1011 (an unexpected exception, contained) and
  nothing may escape it. A violation raises, which is the fuzzer's crash.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import argon2
import msgspec
import trio
from trio_websocket import CloseReason, ConnectionClosed

import store
from actors.space import SpaceDirectory
from gateway import protocol as p
from gateway.errors import ERROR_CODES, BadMessage, CloseCode, UnknownType
from gateway.gateway_config import GatewayConfig
from gateway.limits import LimitSettings
from gateway.pyfanout import PyFanout
from gateway.server import Gateway
from gateway.session import Session
from mixer import parse_audio

SEPARATOR = b"\xc1\xc1"  # 0xc1 is never used in msgpack, so valid messages never hold it
SCENARIOS = ("before_hello", "guest", "host", "listener")
DOCUMENTED_CODES = frozenset(ERROR_CODES.values()) - {"internal"}
DOCUMENTED_CLOSES = frozenset({CloseCode.NORMAL, CloseCode.POLICY_VIOLATION, CloseCode.TOO_SLOW})
INPUT_TIMEOUT_S = 60.0  # of wall time: a hang, even at nice 19 beside busy tests (scripts/test.sh)
USER = "fuzz"  # the guest's name, and the account's handle
PASSWORD = "correct horse battery staple"
NO_LIMITS = LimitSettings(enabled=False)
"""Rate limits off: with them, most inputs would stop at `rate_limited` before reaching deep states (the
limiters have tests of their own, tests/gateway/test_limits.py)."""
FAST_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # register/log_in in microseconds


class Violation(AssertionError):
    """The gateway did something the protocol does not document."""


def decode_one(data: bytes) -> p.ClientMessage | None:
    """The byte-level target: a typed message, or a documented refusal (None); anything else escapes."""
    try:
        message = p.decode_client(data)
    except (BadMessage, UnknownType) as refusal:
        if refusal.code not in DOCUMENTED_CODES:
            raise Violation(f"undocumented code {refusal.code}") from refusal
        return None
    if not isinstance(message, p.ClientMessage):
        raise Violation(f"decoded to {type(message).__name__}")
    return message


def split(data: bytes) -> tuple[str, list[bytes]]:
    """An input as (scenario, the client's messages)."""
    if not data:
        return SCENARIOS[0], []
    return SCENARIOS[data[0] % len(SCENARIOS)], [m for m in data[1:].split(SEPARATOR)]


def through_wire(data: bytes) -> bool:
    """Whether an input is read as the Rust `Wire` reads it (bit 2 of its first byte; seeds leave it clear)."""
    return bool(data) and data[0] & 4 != 0


def join(scenario: str, messages: list[bytes]) -> bytes:
    """The inverse of `split`: how seeds are written."""
    return bytes([SCENARIOS.index(scenario)]) + SEPARATOR.join(messages)


class MemoryWebSocket:
    """What a Session uses of its connection, in memory: it yields `incoming`, then the peer closes (1000).

    With `wire`, it reads as the Rust transport's `Wire` does: a message the wire's own reader takes as audio
    (`mixer.parse_audio`, the Rust code) never reaches the session; as from a connection with no route to a
    mixer, the session is told of it (`audio_unrouted`)."""

    closed_by_server = False  # the peer closes

    def __init__(self, incoming: list[bytes], *, wire: bool = False) -> None:
        self._incoming = deque(incoming)
        self._wire = wire
        self.session: Session | None = None
        self.closed_with: tuple[int, str | None] | None = None

    async def get_message(self) -> bytes:
        await trio.lowlevel.checkpoint()
        while self._incoming:
            message = self._incoming.popleft()
            if self._wire and parse_audio(message) is not None and self.session is not None:
                self.session.audio_unrouted(1)
                continue
            return message
        raise ConnectionClosed(CloseReason(1000, None))

    async def send_message(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()

    async def ping(self, payload: bytes | None = None) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await trio.lowlevel.checkpoint()
        self.closed_with = (code, reason)


class RecordingFanout(PyFanout):
    """The plain Python fan-out, keeping what is sent to each connection as a reply for the checks."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: dict[int, list[bytes]] = {}

    def send(self, conn: int, payload: bytes) -> bool:
        self.replies.setdefault(conn, []).append(payload)
        return super().send(conn, payload)


class Incidents(logging.Handler):
    """Keeps the exceptions the gateway reports as incidents (what a 1011 close hides)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


class SessionHarness:
    """One server's worth of real gateway objects, running in a Trio loop on a thread of its own, so that a
    synchronous fuzzer can `feed` it input after input."""

    def __init__(self) -> None:
        self._token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._stop: trio.Event | None = None
        self.incidents = Incidents()
        self._logger = logging.getLogger("gateway")
        self._logger.addHandler(self.incidents)
        self._propagated = self._logger.propagate
        self._logger.propagate = False  # the fuzzer's output is its findings, not the gateway's log
        self._thread = threading.Thread(target=trio.run, args=(self._serve,), daemon=True)
        self._thread.start()
        self._ready.wait()

    async def _serve(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with store.open_database(":memory:", hasher=FAST_HASHER) as db, trio.open_nursery() as nursery:
            self.fanout = RecordingFanout()
            directory = SpaceDirectory(nursery, self.fanout)
            config = GatewayConfig(transport="python", limits=NO_LIMITS)
            self.gateway = Gateway(directory, config, nursery, self.fanout, db)
            await store.register(db, USER, PASSWORD, USER)
            self.token = (await store.log_in(db, USER, PASSWORD)).token
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def feed(self, data: bytes) -> None:
        """One input, start to end: raise `Violation` (or whatever escaped) on anything undocumented."""
        self.run(self._feed, data)

    def close(self) -> None:
        assert self._stop is not None
        self.run(self._set_stop)
        self._thread.join()
        self._logger.removeHandler(self.incidents)
        self._logger.propagate = self._propagated

    async def _set_stop(self) -> None:
        assert self._stop is not None
        self._stop.set()

    async def _feed(self, data: bytes) -> None:
        scenario, messages = split(data)
        space_id = None
        if scenario == "listener":
            space_id = (await self.gateway.directory.create("somebody", "Fuzzed")).space_id
        account = p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, token=self.token))
        start = {
            "before_hello": [],
            "guest": [hello()],
            "host": [account, request(p.CreateSpace(ref=0, title="Fuzzed"))],
            "listener": [account, request(p.JoinSpace(ref=0, space_id=space_id or ""))],
        }[scenario]
        conn, _ = self.fanout.register_outbox()
        ws = MemoryWebSocket(start + messages, wire=through_wire(data))
        session = Session(ws, self.gateway, conn, "127.0.0.1")
        ws.session = session
        del self.incidents.errors[:]
        try:
            with trio.fail_after(INPUT_TIMEOUT_S):
                await session.run()
        finally:
            replies = self.fanout.replies.pop(conn, [])
            self.fanout.close(conn)
            await self._end_spaces(session, space_id)
        if self.incidents.errors:
            raise Violation("an unexpected exception in the session") from self.incidents.errors[0]
        if session.close_code not in DOCUMENTED_CLOSES:
            raise Violation(f"closed with {session.close_code!r}: {session.close_reason}")
        for reply in replies:
            check_reply(reply)

    async def _end_spaces(self, session: Session, space_id: str | None) -> None:
        """Spaces made for or by this input end with it, so that a long run does not pile them up."""
        made = [(space_id, "somebody")]
        if session.space is not None:
            made.append((session.space.space_id, session.user))
        for sid, host in made:
            if sid is not None and host is not None:
                try:
                    await self.gateway.directory.get(sid).end(host)
                except Exception:  # already over, or the input gave the space to someone else
                    pass


def hello() -> bytes:
    """A new guest's hello."""
    return p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, name=USER))


def request(message: msgspec.Struct) -> bytes:
    return p.encode(message)


def check_reply(data: bytes) -> None:
    message = p.SERVER_DECODER.decode(data)
    if isinstance(message, p.Error) and message.code not in DOCUMENTED_CODES:
        raise Violation(f"error reply with code {message.code!r}: {message.message}")
