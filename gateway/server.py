"""The gateway server: accepts WebSocket connections (Origin-checked) and runs a Session for each.

`serve()` is the whole server: the store (`data_dir/stoa.db`), the fan-out, the space directory, the
listener socket, and every session, in one nursery. `Gateway.shut_down()` closes every connection with 1001.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgspec
import trio

import store
from actors.space import (
    MAX_COHOSTS,
    MAX_PINNED,
    MAX_POST_CHARS,
    MAX_SPEAKERS,
    MAX_TITLE_CHARS,
    Fanout as SpaceFanout,
    SpaceDirectory,
)
from gateway import identity, logs, protocol as p
from gateway.admin import Admin
from gateway.admission import Admission
from gateway.audio_report import report_audio
from gateway.connection import Connection
from gateway.context import Services
from gateway.engine_watch import watch_engine
from gateway.errors import OVERFLOW_REASON, CloseCode, report_incident
from gateway.gateway_config import GatewayConfig
from gateway.gcpolicy import GcPolicy
from gateway.handles import HandleCheck
from gateway.identity import GuestIds
from gateway.late_start import finish_start, finish_start_after
from gateway.limits import Limits
from gateway.loopwatch import LoopWatch
from gateway.metrics import GatewayMetrics
from gateway.pyfanout import PyFanout
from gateway.reminders import Scheduler
from gateway.replays import RecordingLinks, Replays, Retention
from gateway.session import CLOSE_TIMEOUT_S, Session
from gateway.space_store import SqliteSpaceStore
from gateway.transport import Refusal, open_http_socket, open_listeners, pump_wire, serve_python
from gateway.webhooks import Receivers, WebhookOutbox
from gateway.webrtc import RtcService, is_loopback
from mixer import Fanout, Wire

log = logs.get_logger("gateway")

SERVER_NAME = "stoa/0.1.0"
NOTICE_INTERVAL_S = 0.1
DATABASE_FILE = "stoa.db"
LAG_GRACE_S = 5.0
"""A listener that keeps losing audio because it reads too slowly is disconnected after this long."""
KEPT_LOSING_AUDIO = "the client kept losing audio: it reads too slowly"
SLOW_READER_REASONS = frozenset({OVERFLOW_REASON, KEPT_LOSING_AUDIO})
"""The reasons of 4000 closes for reading too slowly (`stoa_slow_listener_disconnects_total`): an overflow, found by
either fan-out (the Rust one's own close frame, which a client may answer before the gateway hears of it, says
the same), or lost audio; not a write that failed (4000 too, but nothing is sent)."""
DRAINING_REASON = "the server is draining: reconnect (to another server, or this one once back) and resume"


class Gateway:
    def __init__(
        self,
        directory: SpaceDirectory,
        config: GatewayConfig,
        nursery: trio.Nursery,
        fanout: Fanout | PyFanout,
        db: store.Database,
        outbox: WebhookOutbox | None = None,
        rtc: RtcService | None = None,
        receivers: Receivers | None = None,
    ) -> None:
        self.directory = directory
        self.outbox = outbox
        self.receivers = receivers
        self.db = db
        self.config = config
        self.nursery = nursery
        self.fanout = fanout
        self.sessions: dict[str, Session] = {}  # signed in, by user id
        self.connections: dict[int, Session] = {}  # every open connection, by fan-out id
        self.drained = trio.Event()
        self.loop_watch = LoopWatch()
        """The event loop's stalls and garbage-collection pauses: `loop_watch.snapshot()`."""
        self.gc_policy = GcPolicy() if config.gc_policy else None
        self.snapshots = p.JoinedSnapshots()
        self.draining = False
        """Set by `drain`: no new connections, /readyz answers 503."""
        self.limits = Limits(config.limits)
        self.admission = Admission(config.allowed_origins, self.limits)
        self.metrics = GatewayMetrics()
        self.scheduler = Scheduler(db, self.notify)
        self.services = Services(
            db=db,
            directory=directory,
            limits=self.limits,
            guests=GuestIds.from_secret(db.current_signing_key[1]),
            scheduler=self.scheduler,
            notify=self.notify,
            handles=HandleCheck(db),
            rtc=rtc,
            replays=Replays(config.data_dir, RecordingLinks(db.signing_keys, config.recording_link_lifetime_s)),
        )
        self.admin = Admin(self)

    def notify(self, account: store.AccountId, message: msgspec.Struct) -> None:
        """A user notification to `account`'s connection, if it is connected now."""
        session = self.sessions.get(identity.user_of(account))
        if session is not None:
            session.send(p.encode(message))

    def welcome(self, session: Session) -> p.Welcome:
        limits = p.Limits(
            max_message_bytes=p.MAX_MESSAGE_BYTES,
            max_opus_bytes=p.MAX_OPUS_BYTES,
            max_title_chars=MAX_TITLE_CHARS,
            max_post_chars=MAX_POST_CHARS,
            max_speakers=MAX_SPEAKERS,
            max_cohosts=MAX_COHOSTS,
            max_pinned=MAX_PINNED,
            frame_ms=20,
        )
        assert session.user is not None
        guest_token = session.token if session.account is None else None
        return p.Welcome(
            protocol=p.PROTOCOL_VERSION,
            user=session.user,
            name=session.name,
            handle=None if session.account is None else session.account.handle,
            guest_token=guest_token,
            server=SERVER_NAME,
            limits=limits,
        )

    def sign_in(self, session: Session) -> None:
        """One connection per user id: a newer one (which proved the id with a token) replaces the older
        (which may be a half-dead link)."""
        assert session.user is not None
        old = self.sessions.get(session.user)
        if old is not None and old is not session:
            old.close(CloseCode.REPLACED, "the same user connected again")
        self.sessions[session.user] = session

    def sign_out(self, session: Session) -> None:
        if session.user is not None and self.sessions.get(session.user) is session:
            del self.sessions[session.user]

    def admit(self, conn: int, origins: list[str], address: str) -> Refusal | None:
        return self.admission.admit(conn, origins, address, draining=self.draining)

    def leave(self, address: str) -> None:
        self.admission.leave(address)

    def handshake_refused(self, limit: str) -> None:
        self.limits.refuse(limit)

    async def serve(self, connection: Connection, conn: int, address: str) -> None:
        """Serve one admitted connection to its end. Whatever happens in it ends at most this connection: an
        exception in its handling is logged under an incident id and closes it with 1011 (see `_contain`)."""
        logs.bind(conn=conn, address=address)
        session = Session(connection, self, conn, address)
        self.connections[conn] = session
        self.metrics.connections_opened.inc()
        log.info("connected")
        if self.draining:  # the drain began while this one was being accepted: it missed the drain's close
            session.close(CloseCode.DRAINING, DRAINING_REASON)
        try:
            await session.run()
        except Exception as error:  # never trio.Cancelled: a BaseException, it passes through
            await self._contain(session, error)
        finally:
            if session.close_code is CloseCode.TOO_SLOW and session.close_reason in SLOW_READER_REASONS:
                self.metrics.slow_disconnects.inc()  # once, however it was found (an overflow, lost audio)
            code = int(session.close_code or 1006)
            peer = session.peer_close_code  # the client's close frame's code; 1006 if the connection just ended
            log.info("disconnected", user=session.user, code=code, peer_code=peer, reason=session.close_reason)
            del self.connections[conn]
            self.leave(address)
            if not self.connections:
                self.drained.set()

    def audio_unrouted(self, conn: int, packets: int) -> None:
        session = self.connections.get(conn)
        if session is not None:
            session.audio_unrouted(packets)

    async def _contain(self, session: Session, error: Exception) -> None:
        """A session failed outside its requests (a request's fault is the session's own to report): tell its
        client (1011, with the incident id), then leave its space and sign it out as a normal close would, so the
        space does not keep a participant whose connection is gone."""
        reason = report_incident(log, error, f"connection {session.conn} of {session.user or 'a client'}")
        session.close(CloseCode.INTERNAL_ERROR, reason)
        with trio.move_on_after(CLOSE_TIMEOUT_S):  # nothing is sent if the session had begun its own close
            await session.ws.aclose(int(CloseCode.INTERNAL_ERROR), reason)
        try:
            with trio.CancelScope(shield=True):
                await session.cleanup()  # what Session.run does after a normal close
        except Exception as cleanup_error:
            report_incident(log, cleanup_error, f"cleaning up after {reason}")

    async def drain(self, timeout_s: float) -> None:
        """Stop taking connections (new ones get HTTP 503, /readyz says 503), tell every connected client to
        reconnect elsewhere (close code 4004), and return once all have gone or after `timeout_s`. Each
        connection leaves its space as a normal close does, so what it did is in the store before this returns."""
        self.draining = True
        self.drained = trio.Event()
        if not self.connections:
            return
        for session in list(self.connections.values()):
            session.close(CloseCode.DRAINING, DRAINING_REASON)
        with trio.move_on_after(timeout_s):
            await self.drained.wait()

    async def shut_down(self, grace_s: float = 3.0) -> None:
        """Close every connection with 1001 and wait (at most `grace_s`) for the close handshakes."""
        self.drained = trio.Event()
        if not self.connections:
            return
        for session in list(self.connections.values()):
            session.close(CloseCode.GOING_AWAY, "the server is shutting down")
        with trio.move_on_after(grace_s):
            await self.drained.wait()

    async def watch_notices(self) -> None:
        """Act on what the fan-out reports: tell lagging listeners, cut those that lag too long."""
        lagging: set[Session] = set()
        while True:
            await trio.sleep(NOTICE_INTERVAL_S)
            now = time.monotonic()
            for conn, kind, value in self.fanout.take_notices():
                session = self.connections.get(conn)
                if session is None:
                    continue
                if kind == "lagging":
                    session.lagging(value, now)
                    lagging.add(session)
                elif kind == "overflow":
                    session.close(CloseCode.TOO_SLOW, OVERFLOW_REASON)
                else:  # "error": the fan-out has already given up on this socket
                    session.close(CloseCode.TOO_SLOW, "connection error")
            for session in list(lagging):
                if session.close_code is not None or now - session.lagging_last > 1.0:
                    session.lagging_since = None  # it caught up (or is gone)
                    lagging.discard(session)
                elif session.lagging_since is not None and now - session.lagging_since > LAG_GRACE_S:
                    session.close(CloseCode.TOO_SLOW, KEPT_LOSING_AUDIO)
                    lagging.discard(session)


@dataclass(frozen=True)
class Server:
    """What `serve()` reports once it listens."""

    port: int
    gateway: Gateway
    http_port: int | None = None
    wire: Wire | None = None
    """The Rust transport's reader of client sockets (its stats say what it took itself)."""


async def serve(
    config: GatewayConfig,
    *,
    web_after: trio.Event | None = None,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the server until cancelled; reports a `Server` (with the bound ports) through `task_status`.

    The HTTP side (`gateway.late_start.serve_web`) and the garbage-collection policy start before that report, or, with
    `web_after`, once that event is set: `stoa serve` sets it once it has printed that it listens, so that the
    WebSocket gateway serves as soon as it can. The HTTP socket listens from the start either way: a request
    meanwhile waits in its queue.

    For an orderly stop, call `server.gateway.shut_down()` first, then cancel.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    http_socket = None if config.http_port is None else open_http_socket(config.host, config.http_port)
    fanout: Fanout | PyFanout
    if config.transport == "rust":
        fanout = Fanout(
            max_queue_bytes=config.max_queue_bytes,
            max_audio_messages=config.max_audio_messages,
            writers=config.fanout_writers,
        )
    else:
        fanout = PyFanout(max_queue_bytes=config.max_queue_bytes, max_audio_messages=config.max_audio_messages)
    wire: Wire | None = None
    try:
        async with store.open_database(config.data_dir / DATABASE_FILE) as db, trio.open_nursery() as nursery:
            await nursery.start(watch_engine)  # a dead engine thread ends the server (gateway/engine_watch.py)
            outbox = WebhookOutbox(db, config.webhooks.enabled, config.webhooks.max_events)
            receivers = Receivers(outbox, config.webhooks)
            await receivers.load()  # before the spaces come back: whether their events are written
            space_fanout: SpaceFanout = fanout
            directory = SpaceDirectory(
                nursery,
                space_fanout,
                config.mix,
                config.batching,
                store=SqliteSpaceStore(db, outbox),
                abandon_after_s=config.abandon_after_s,
                data_dir=config.data_dir,
            )
            restored = await directory.restore()
            await nursery.start(directory.sweep_abandoned)
            await nursery.start(Retention(db, config.data_dir, config.recording_retention_s).run)
            if restored:
                log.info("%d live space(s) brought back", restored)
            rtc = None
            if config.rtc is not None:
                rtc = RtcService(config.rtc, loopback=is_loopback(config.host))
                await nursery.start(rtc.run)
            gateway = Gateway(directory, config, nursery, fanout, db, outbox, rtc, receivers)
            await gateway.admin.load_suspended()
            await nursery.start(receivers.run)
            gateway.metrics.webhook_backlog = receivers.backlog
            if isinstance(fanout, PyFanout):
                limits = config.limits
                handshakes = (limits.handshakes_from_one_address(), limits.max_handshakes, limits.defer_accept_s)
                port: int = await nursery.start(
                    serve_python, fanout, config.host, config.port, gateway, p.MAX_MESSAGE_BYTES, handshakes
                )
            else:
                assert directory.tick_pool is not None  # made by the directory for the Rust fan-out
                listeners = open_listeners(config.host, config.port)
                try:
                    port = listeners[0].getsockname()[1]
                    wire = Wire(
                        [listener.fileno() for listener in listeners],
                        fanout,
                        directory.tick_pool,
                        max_message_bytes=p.MAX_MESSAGE_BYTES,
                        sndbuf=config.sndbuf,
                        realtime=config.realtime_reader,
                        max_handshakes_per_address=config.limits.handshakes_from_one_address(),
                        max_handshakes=config.limits.max_handshakes,
                        defer_accept_s=config.limits.defer_accept_s,
                    )
                    log.info("reader thread scheduling: %s", wire.scheduling())  # realtime, nice or normal
                finally:
                    for listener in listeners:  # the wire serves its own duplicates
                        listener.close()
                await nursery.start(pump_wire, wire, gateway)
            nursery.start_soon(gateway.watch_notices)
            nursery.start_soon(report_audio, directory)
            await nursery.start(gateway.scheduler.run)
            gateway.metrics.watch(gateway, wire)
            http_port = None if http_socket is None else int(http_socket.getsockname()[1])
            await nursery.start(gateway.loop_watch.run)
            if web_after is None:
                await finish_start(nursery, gateway, port, http_socket)
            else:
                nursery.start_soon(finish_start_after, web_after, nursery, gateway, port, http_socket)
            log.info("listening on ws://%s:%d/ (%s transport)", config.host, port, config.transport)
            task_status.started(Server(port, gateway, http_port, wire))
    finally:
        if isinstance(fanout, Fanout):
            fanout.shutdown()
        if wire is not None:
            wire.shutdown()  # after the fan-out's: every descriptor is then released, and closed
        if http_socket is not None and http_socket.fileno() != -1:  # not yet handed to hypercorn
            http_socket.close()
