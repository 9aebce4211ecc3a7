"""Types of the native mixer module (Rust, ``mixer-rs/src/lib.rs``)."""

from os import PathLike
from typing import Literal, Self, final

__all__ = [
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "MAX_PACKET_BYTES",
    "MixerError",
    "Encoder",
    "Decoder",
    "TickOutput",
    "MixerStats",
    "Mixer",
    "Fanout",
    "FanoutStats",
    "ListenerPool",
    "SpeakerPool",
    "PoolStats",
    "ListenerStats",
]

FRAME_SAMPLES: int
"""Samples in one 20 ms mono frame: 960."""
SAMPLE_RATE: int
"""48000."""
MAX_PACKET_BYTES: int
"""1500: larger Opus packets are refused unread."""

class MixerError(ValueError):
    """A refused argument or packet, or a codec failure.

    ``code`` is one of ``"bad_pcm_length"``, ``"packet_too_large"``,
    ``"bad_argument"``, ``"codec_error"``; codes never change once published.
    """

    code: str

@final
class Encoder:
    """One Opus encoder (48 kHz mono, 20 ms, VOIP), for clients and tests."""

    def __new__(cls, *, bitrate: int = 32000, complexity: int = 5) -> Self: ...
    def encode(self, pcm: bytes) -> bytes:
        """Exactly 1920 bytes of s16le in, one Opus packet out."""

@final
class Decoder:
    """One Opus decoder (48 kHz mono) with loss concealment."""

    def __new__(cls) -> Self: ...
    def decode(self, packet: bytes | None) -> bytes:
        """1920 bytes of s16le out; ``None`` means the packet was lost."""

@final
class TickOutput:
    """One tick's packets. A listener whose id is in ``mixed`` gets its entry
    in ``minus`` (or nothing if it has none); everyone else gets ``shared``."""

    @property
    def seq(self) -> int:
        """0 for a mixer's first tick, then +1 per tick."""
    @property
    def kind(self) -> str:
        """``"silent"`` (nobody talking: nothing encoded), ``"passthrough"`` (one talker's packet
        as it came) or ``"mixed"``."""
    @property
    def captured_at(self) -> int:
        """Smallest ``captured_at`` (µs) of the real packets in the mix; 0 if none."""
    @property
    def shared(self) -> bytes | None:
        """The one Opus packet for everyone not in the mix; ``None`` when silent."""
    @property
    def minus(self) -> list[tuple[int, bytes]]:
        """(input id, Opus packet of the mix without that input), in id order."""
    @property
    def mixed(self) -> list[int]:
        """Input ids whose voice is in this tick's mix, in id order: the talkers, at most
        ``max_mixed`` of them, the loudest. ``shared`` holds no voice that is not listed here."""
    @property
    def levels(self) -> list[tuple[int, int]]:
        """(input id, level of its frame in dBFS, -127..0) for every input that played audio
        this tick, mixed or not, in id order: who is talking, and how loud."""

@final
class MixerStats:
    """A snapshot of a mixer's counters since it was made."""

    @property
    def ticks(self) -> int: ...
    @property
    def packets_in(self) -> int:
        """Packets accepted by ``push`` (the pushes that returned True)."""
    @property
    def packets_dropped(self) -> int:
        """Packets discarded unplayed: the sum of the four ``dropped_*`` counts."""
    @property
    def dropped_no_input(self) -> int:
        """Pushed to an input that does not exist (not, or no longer, on the mic)."""
    @property
    def dropped_overflow(self) -> int:
        """Pushed out, oldest first, by a full queue (the ingress or the input's jitter queue)."""
    @property
    def dropped_removed(self) -> int:
        """Still queued when their input was removed."""
    @property
    def dropped_skipped(self) -> int:
        """Skipped unheard by a jitter queue that stood too deep (a burst's delay, shed): a packet of silence after
        25 ticks of that, any after 100."""
    @property
    def packets_late(self) -> int:
        """Accepted packets whose seq was already played or queued."""
    @property
    def concealed(self) -> int:
        """Frames of loss concealment played (hangover or undecodable packet), mixed or not."""
    @property
    def concealed_gaps(self) -> int:
        """Of `concealed`, the frames a later packet of the same talk spurt ended: packets lost, late for their tick
        or undecodable while the talker went on, or a pause shorter than the hangover by a sender that sends nothing
        while silent (the rest are the hangover after a spurt's last packet)."""
    @property
    def decode_errors(self) -> int: ...
    @property
    def encodes(self) -> int:
        """Opus encodes performed (shared and mix-minus)."""
    @property
    def decodes(self) -> int:
        """Opus packets decoded: every packet pushed without a level; one with a level when it is mixed with other
        voices or its input's levels proved false, and, first, the at most 3 before it that were not decoded
        (as before a loss concealment)."""
    @property
    def packets_with_level(self) -> int:
        """Packets accepted that came with the sender's level."""

@final
class Mixer:
    """A space's mixer: ``push`` from the event loop, ``tick`` from a worker thread.

    Membership changes and pushes never wait for a running ``tick``; they take
    effect from the next tick on.

    Only talkers are mixed: an input talks while its frames reach ``silence_dbfs``
    (-127..0; DTX packets are silence) and for ``hold_ticks`` ticks after the last
    that did. Of those, the ``max_mixed`` loudest (1..13) are mixed; the others'
    packets are decoded but left out. A tick with no talker encodes nothing.
    """

    def __new__(
        cls,
        *,
        bitrate: int = 32000,
        complexity: int = 5,
        max_queue: int = 6,
        hangover_ticks: int = 5,
        max_mixed: int = 4,
        silence_dbfs: int = -50,
        hold_ticks: int = 10,
    ) -> Self: ...
    def add_input(self, input_id: int) -> None:
        """A speaker becomes an input; no-op if present."""
    def remove_input(self, input_id: int) -> None:
        """Immediate: queued packets are dropped, the voice is absent from the next tick; no-op if absent."""
    def has_input(self, input_id: int) -> bool: ...
    def push(self, input_id: int, seq: int, captured_at: int, packet: bytes, level: int | None = None) -> bool:
        """Queue one Opus packet; False (packet dropped) if ``input_id`` is not an input. ``level``: the sender's
        measure of its loudness (RFC 6464's −dBov, 0..127), if given: the mixer then decodes the packet only to
        mix it with other voices (``MixerStats.decodes``); out of range raises ``MixerError("bad_argument")``.

        Raises ``MixerError("packet_too_large")`` over ``MAX_PACKET_BYTES``.
        A packet whose seq was already played or queued is dropped as late.
        """
    @property
    def active(self) -> bool:
        """True while any input has queued packets or is inside its hangover (silent packets too)."""
    def tick(self) -> TickOutput:
        """One 20 ms tick; releases the GIL for all of its decode, mix and encode."""
    def stats(self) -> MixerStats: ...
    def codecs_held(self) -> int:
        """Sets of Opus state held now (the shared encoder, each playing input's codecs): 0 while the
        mixer is quiet, however many inputs it has; they are built when someone talks."""

@final
class FanoutStats:
    """A snapshot of a fan-out's counters (since it was made, except the first two)."""

    @property
    def connections(self) -> int:
        """Registered connections whose duplicate is still open (those flushing after ``close`` included)."""
    @property
    def groups(self) -> int: ...
    @property
    def messages_queued(self) -> int:
        """Messages queued, counted once per connection (a broadcast to 100 members counts 100)."""
    @property
    def bytes_written(self) -> int: ...
    @property
    def write_calls(self) -> int:
        """``sendmsg`` calls that wrote something (each may carry several queued messages)."""
    @property
    def audio_dropped(self) -> int:
        """Audio messages dropped for slow readers."""
    @property
    def audio_dropped_at_close(self) -> int:
        """Audio messages still queued, not begun, when ``close`` was called: dropped, so that the
        close frame queued after them goes out at once."""
    @property
    def overflows(self) -> int: ...
    @property
    def write_errors(self) -> int: ...
    @property
    def writers(self) -> int:
        """The writer threads (fixed at creation); the ``writer_*`` figures are their sums."""
    @property
    def writer_cpu_ns(self) -> int:
        """CPU time of the writer threads, as each measured it at the end of its last pass."""
    @property
    def writer_busy_ns(self) -> int:
        """Wall time the writers spent in passes that had connections to write (at most ``writers`` times
        the wall time)."""
    @property
    def writer_passes(self) -> int:
        """Passes that had connections to write (a message waits up to one: ``writer_busy_ns / writer_passes``,
        the mean pass)."""

@final
class Fanout:
    """Every byte written to registered client sockets, by Rust writer threads ("stoa-fanout"): ``writers`` of
    them (1 to 64), connection ``conn`` written by writer ``conn % writers`` alone.

    Python keeps reading each socket; the fan-out writes to its own duplicate of it.
    Messages go out in the order they were queued on each connection. Each connection's
    queue holds at most ``max_queue_bytes`` not yet written and ``max_audio_messages``
    audio messages: audio is dropped oldest-first when a client lags (never a message
    whose writing has begun), control never is; control that cannot fit closes the
    connection ("overflow"). A slow client never delays another.

    Thread-safe: any method from any thread. No call waits for a write. Ids of
    connections and groups start at 1 and are never reused.
    """

    def __new__(cls, *, max_queue_bytes: int = 262144, max_audio_messages: int = 64, writers: int = 1) -> Self:
        """Starts the writer threads. Raises ``MixerError("bad_argument")`` for a setting below 1 (or more
        than 64 writers)."""
    def register(self, fd: int, *, borrow: bool = False) -> int:
        """Registers the stream socket ``fd`` and returns its connection id.

        By default the fan-out takes a duplicate of ``fd`` and the caller keeps, and eventually closes,
        its own. With ``borrow=True`` it uses ``fd`` itself (one descriptor per client instead of two)
        and never closes it, on any path (a panic of the writer included): the caller must keep ``fd``
        open until, after ``close(conn)``, ``released(conn)`` is true, on every path of its own
        (cancellation included), or a new socket given the same number would receive ``conn``'s bytes.
        Either way the socket becomes non-blocking.
        """

    def idle_ms(self, conn: int) -> int:
        """Milliseconds since bytes last went into ``conn``'s socket (or since it was registered); -1 if
        unknown."""

    def released(self, conn: int) -> bool:
        """True once the writer is done with ``conn`` for good (or never knew it), or once the writer
        thread has ended (nothing can write to the socket any more)."""

    def send_raw(self, conn: int, data: bytes) -> bool:
        """Queues already-framed bytes (handshake response, ping/pong/close frames) as control.

        False if ``conn`` is unknown or closed, or overflowed now (it is then closing).
        """
    def send(self, conn: int, payload: bytes) -> bool:
        """Queues ``payload`` as one binary WebSocket message, as control; False as ``send_raw``."""
    def send_audio(self, conn: int, payload: bytes) -> None:
        """Queues ``payload`` as one binary WebSocket message, as audio (droppable); ignored if closed."""
    def new_group(self) -> int: ...
    def join_group(self, group: int, conn: int) -> None:
        """No-op if already a member, or if ``conn`` is unknown or closed; ``KeyError`` for an unknown group."""
    def leave_group(self, group: int, conn: int) -> None:
        """No-op if not a member."""
    def drop_group(self, group: int) -> None:
        """Forgets the group (members stay registered); no-op if unknown."""
    def broadcast_audio(self, group: int, payload: bytes) -> int:
        """Frames ``payload`` once and queues the same bytes as audio for every member.

        Returns the number of members (a lagging one counts). Releases the GIL.
        ``KeyError`` for an unknown group.
        """
    def broadcast(self, group: int, payload: bytes) -> list[int]:
        """Frames once and queues as control for every member; returns the members that
        overflowed (each now closing, with an "overflow" notice). Releases the GIL.
        ``KeyError`` for an unknown group.
        """
    def close(self, conn: int) -> None:
        """No more sends; ``conn`` leaves every group now. Its queued audio not yet begun is
        dropped (``audio_dropped_at_close``); the writer flushes the rest (for at most 2 s), then
        shuts the socket down for writing (the peer sees EOF) and closes its duplicate.
        Idempotent; no-op if unknown.
        """
    def take_notices(self) -> list[tuple[int, str, int]]:
        """Notices since the last call, as (conn, kind, value):

        ``(conn, "lagging", n)``: n audio messages dropped since its previous "lagging" notice;
        ``(conn, "overflow", queued_bytes)``: control could not fit; the connection is closing;
        ``(conn, "error", errno)``: a write failed (peer reset...); the connection is closed.
        "lagging" ones come first, then the others in the order they happened.
        """
    def queued_bytes(self, conn: int) -> int:
        """Bytes queued and not yet written; 0 if unknown or closed by the writer."""
    def stats(self) -> FanoutStats: ...
    def shutdown(self) -> None:
        """Stops and joins the writer after one last non-blocking write per connection; closes
        every duplicate (with a FIN for connections already closed). Later sends return False.
        Idempotent; also done when the fan-out is garbage-collected.
        """

@final
class PoolStats:
    """A ``ListenerPool`` at one moment. Each counter is read on its own (no lock), so a
    snapshot taken while the pool runs is consistent per field, not across fields.

    ``connecting + joined + failed + closed`` is the number of users.
    """

    @property
    def connecting(self) -> int:
        """Listeners not yet joined and not ended, those still waiting for the ramp-up included."""
    @property
    def connected(self) -> int:
        """WebSocket connections open now (upgraded, not yet closed), joined or not."""
    @property
    def joined(self) -> int: ...
    @property
    def failed(self) -> int:
        """Listeners that ended before joining (refused, connect error, closed by the server...)."""
    @property
    def closed(self) -> int:
        """Listeners that ended after joining, or that ``stop`` ended before they joined."""
    @property
    def closed_by_server(self) -> int:
        """Connections the server ended: a close frame it started, or the TCP connection dropped."""
    @property
    def messages(self) -> int:
        """WebSocket messages received, of every type."""
    @property
    def events(self) -> int:
        """Messages that were space events (``participant_joined``, ``role_changed``...)."""
    @property
    def malformed(self) -> int:
        """Messages that could not be read (not a msgpack map, a text message, a frame without ``seq``)."""
    @property
    def frames(self) -> int:
        """Audio frames received."""
    @property
    def lost(self) -> int:
        """Frames missing from the listeners' runs of ``seq``: each gap ``prev+1..new-1`` counts."""
    @property
    def late(self) -> int:
        """Frames whose latency (``now - captured_at``) exceeded ``late_after_ms``."""
    @property
    def reordered(self) -> int:
        """Frames whose ``seq`` was not above the listener's previous one (duplicate or backward)."""
    @property
    def off_clock(self) -> int:
        """Real frames whose ``captured_at`` is not a slot of the run's capture clock (with a clock)."""
    @property
    def unstamped(self) -> int:
        """Real frames measured at the pool's read for want of a usable kernel arrival stamp (none, or one
        before the frame's capture): their latency includes the harness's own delay."""
    @property
    def restamped(self) -> int:
        """Data messages one read took together with a later one of the same connection: the kernel
        stamps a read with its last segment's arrival, so these may carry a later stamp than their
        own (not if the server wrote both in one send). An upper bound on the messages whose
        latency is overstated; latency is never understated."""
    @property
    def sent(self) -> int:
        """A ``SpeakerPool``: audio packets sent."""
    @property
    def late_sends(self) -> int:
        """A ``SpeakerPool``: packets of the window sent more than 20 ms after their slot was due
        (the harness fell behind its own clock: its fault, not the server's)."""
    @property
    def bytes(self) -> int:
        """Bytes received, WebSocket framing and the HTTP upgrade response included."""
    @property
    def cpu_us(self) -> int:
        """CPU time of the pool thread (CLOCK_THREAD_CPUTIME_ID), sampled at least every 100 ms."""

@final
class ListenerStats:
    """One listener of a ``ListenerPool`` at one moment."""

    @property
    def user(self) -> str: ...
    @property
    def state(self) -> str:
        """``"connecting"``, ``"joined"``, ``"failed"`` (ended before joining) or ``"closed"``
        (ended after joining, or stopped before)."""
    @property
    def frames(self) -> int: ...
    @property
    def lost(self) -> int: ...
    @property
    def late(self) -> int: ...
    @property
    def reordered(self) -> int: ...
    @property
    def first_seq(self) -> int:
        """``seq`` of the first frame received; -1 before any."""
    @property
    def last_seq(self) -> int:
        """Highest ``seq`` received; -1 before any."""
    @property
    def max_latency_us(self) -> int: ...
    @property
    def close_code(self) -> int:
        """The close code the server sent or echoed; 1006 if the connection dropped without
        one; 0 while open or if the WebSocket never opened."""
    @property
    def error(self) -> str:
        """Why it failed or ended abnormally (e.g. ``"refused: no_such_space"``); ``""`` if it did not."""

@final
class ListenerPool:
    """Listeners for load tests: one WebSocket connection per user, all on one Rust thread
    ("stoa-loadpool", epoll) that never takes the GIL. ``space_id`` is the space every user
    joins, or a list of one space per user (listeners of many spaces on one thread).

    Each listener connects (at most ``connect_per_s`` connections started per second), sends
    ``hello`` and ``join_space`` (ref 1), waits for ``joined``, then reads forever, answering
    pings. Per audio frame it checks ``seq`` for gaps and records ``now - captured_at``
    (CLOCK_REALTIME; frames with ``captured_at`` 0 have no latency) in a histogram with 1%
    precision; other messages are counted.

    Resource handling: one open file per listener; the constructor refuses more listeners than
    the process may open (less 64). ``stop()`` (or leaving a ``with`` block, or garbage
    collection) closes every connection with a close frame (code 1000), waits at most 2 s
    for the server's answers, and joins the thread.

    ``linger_us``: after a wait that found work, the thread sleeps this long before it waits
    again, so that messages arriving meanwhile are read together instead of each waking it (on
    loopback the server's sending thread runs each wake-up). Latency is still stamped by the kernel
    at arrival, but two messages of one connection read together both carry the later one's
    stamp (``PoolStats.restamped``): lingering can overstate latency, never understate it. 0 (the
    default): no lingering.

    With a capture clock (``clock_t0_us``, the run's slot 0 in µs of unix time, and
    ``clock_slots`` slots of 20 ms), each real frame (``captured_at`` not 0) names the slot it
    carries (``captured_at = t0 + 20 ms · k``); the listener marks slot ``k`` in its bitmap
    (``slot_maps``), and the frame's latency is recorded only if ``k`` is in the window
    (``set_window``). A real frame off the clock is counted in ``off_clock``.

    Error handling: a bad argument raises ``MixerError("bad_argument")``; an unknown host or
    a system failure at start raises ``OSError``. After the start, nothing raises: a listener
    that fails says why in ``ListenerStats.error``.
    """

    def __new__(
        cls,
        host: str,
        port: int,
        space_id: str | list[str],
        users: list[str],
        *,
        connect_per_s: float = 2000.0,
        late_after_ms: int = 250,
        clock_t0_us: int = 0,
        clock_slots: int = 0,
        linger_us: int = 0,
    ) -> Self: ...
    def set_window(self, start: int, end: int) -> None:
        """Records latency only for frames of the clock's slots ``start`` to ``end - 1``."""
    def slot_maps(self) -> list[bytes]:
        """One per user: the slots it received as real frames, a bitmap in little-endian bytes
        (``int.from_bytes(b, "little") >> k & 1`` is slot ``k``)."""
    def coverage(
        self, start: int, end: int, produced: bytes | list[bytes], after_overlap: bytes | list[bytes]
    ) -> list[int]:
        """One per user: how many slots of ``start`` to ``end - 1`` that are set in ``produced``
        (a bitmap as ``slot_maps`` gives) it heard: received as real frames, or, if set in
        ``after_overlap``, named by no frame between two consecutive ticks that named the slots
        on either side (the slot after one two speakers produced, played behind it). A listener
        that never joined has 0. Each bitmap is one for every user or a list of one per user
        (its space's); a list of another length raises ``MixerError("bad_argument")``."""
    def heard_maps(self, after_overlap: bytes | list[bytes]) -> list[bytes]:
        """One per user: the slots ``coverage`` counts as heard (named by a frame, or bridged where
        ``after_overlap`` is set), as ``slot_maps``."""
    def latency_buckets(self) -> list[tuple[int, int]]:
        """The latency histogram's non-empty buckets, ``(highest µs in the bucket, count)``: the
        histograms of several pools add up bucket by bucket. A frame's latency is its arrival at
        the listener's socket (the kernel's receive stamp) minus its ``captured_at``."""
    def read_latency_buckets(self) -> list[tuple[int, int]]:
        """The same frames' latency as the pool's thread read them: the difference from
        ``latency_buckets`` is the harness's own delay."""
    def stats(self) -> PoolStats:
        """Cheap (a few atomic loads): call it as often as a progress display needs."""
    def listeners(self) -> list[ListenerStats]:
        """One per user, in the order given."""
    def latency_percentiles(self, ps: list[float], *, reset: bool = False) -> list[int]:
        """Latency (µs) at each percentile (0 to 100) over the frames since the start or the last
        reset; never under the true value, at most 1% over; zeros before any frame.

        With ``reset=True`` the histogram is emptied in the same pass, so consecutive windows
        (one a second, for plots) lose no frame between them.
        """
    def reset_latency(self) -> None:
        """Starts a new measurement window."""
    def stop(self) -> None:
        """Closes every connection and joins the thread, releasing the GIL; idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(self, exc_type: object, exc: object, traceback: object) -> bool: ...

@final
class SpeakerPool:
    """Speakers for load tests, of any number of spaces, on one Rust thread ("stoa-loadpool")
    that never takes the GIL: they send real Opus packets on the run's capture clock.

    ``speakers`` gives per speaker ``(handle, token, space_id, script)``: it connects, says
    ``hello`` with the account's session ``token`` and joins ``space_id`` (someone must then
    put it on the mic). ``scripts[i]`` is ``(packets, plan, levels)``: at slot ``k`` the speaker sends
    ``packets[plan[k % len(plan)]]``, or nothing where the entry is negative (quiet, as a client
    with voice activity detection); ``levels[i]`` is packet ``i``'s ``level`` (RFC 6464), sent with
    it (an empty list: no levels are sent). After ``start_speaking(t0_us)``, slot ``k`` carries
    ``captured_at = t0 + 20 ms · k`` (the time the audio stands for) and is sent once its 20 ms
    are over, at ``t0 + 20 ms · (k + 1)``, by every speaker that has joined. What each speaker
    sent is in ``slot_maps`` (bitmaps of ``clock_slots`` slots); how late packets left after they
    were due, in ``send_lag_percentiles`` and ``PoolStats.late_sends``.

    Resource handling, errors and ``linger_us`` as ``ListenerPool`` (without its ``with`` block);
    lingering never delays a packet past its due time.
    """

    def __new__(
        cls,
        host: str,
        port: int,
        speakers: list[tuple[str, str, str, int]],
        scripts: list[tuple[list[bytes], list[int], list[int]]],
        *,
        clock_slots: int,
        connect_per_s: float = 2000.0,
        linger_us: int = 0,
    ) -> Self: ...
    def stats(self) -> PoolStats: ...
    def speakers(self) -> list[ListenerStats]:
        """One per speaker, in the order given (``user`` is its handle)."""
    def start_speaking(self, t0_us: int) -> None:
        """Starts the capture clock: slot 0 at ``t0_us`` (µs of unix time)."""
    def set_window(self, start: int, end: int) -> None:
        """Records send lag (and ``late_sends``) only for the slots ``start`` to ``end - 1``."""
    def stop_speaking(self) -> None:
        """No packet from now on; the connections stay open until ``stop``."""
    def scheduling(self) -> str:
        """How the speakers' thread runs: ``"realtime"`` (SCHED_FIFO, where the process may), else
        ``"nice"`` (nice -10), else ``"normal"``; ``""`` before the thread started."""
    def slot_maps(self) -> list[bytes]:
        """One per speaker: the slots it sent, as ``ListenerPool.slot_maps``."""
    def send_lag_percentiles(self, ps: list[float]) -> list[int]:
        """How late the window's packets left after their slot was due (µs), at each percentile (0
        to 100)."""
    def stop(self) -> None:
        """Closes every connection and joins the thread, releasing the GIL; idempotent (also done
        when the pool is garbage-collected)."""

@final
class TickPool:
    """The server's tick threads ("stoa-tick"): they tick every talking space's mixer at its own 20 ms
    deadlines, from one deadline-ordered queue. ``threads`` start at once; one more starts whenever a
    tick is taken late (up to ``max_threads``, by default twice the cores the process may run on, within 4
    to 64, and no more than there are talking spaces), and such an extra thread ends after 5 s without
    work. A space where nobody talks is not in the queue and costs no thread. Dropping the pool stops and
    joins its threads."""

    def __new__(cls, *, threads: int = 2, max_threads: int | None = None) -> Self: ...
    @property
    def threads(self) -> int:
        """Threads alive now."""
    @property
    def talking(self) -> int:
        """Spaces in the queue now: someone talks (or just stopped, and their last frames are due), or the space
        records (a recording space ticks every 20 ms, talking or not)."""
    @property
    def audience(self) -> int:
        """Listeners of the talking spaces, summed, each space's as its last audience message reached them
        (what `auto` chooses frames per message for: docs/operations.md, Frames per message)."""
    @property
    def pressure(self) -> tuple[int, int]:
        """(raised, lowered): times the fan-out's saturated writers raised every talking space's frames per
        message a step, and times a calm lowered that floor (docs/operations.md, Frames per message)."""
    def stats(self) -> TickPoolStats:
        """The pool's counters since it started (a few atomic loads): cheap enough for every scrape."""

@final
class TickPoolStats:
    """A ``TickPool``'s counters since it started, each read on its own."""

    @property
    def ticks(self) -> int:
        """Ticks done, of every space (each a pass over one space: mix, encode, queue the frames)."""
    @property
    def late(self) -> int:
        """Ticks taken more than 5 ms after their deadline (no thread was free in time)."""
    @property
    def skipped(self) -> int:
        """Ticks skipped by spaces that fell more than 200 ms behind (their frames' ``seq`` jumps)."""
    @property
    def duration_sum_s(self) -> float: ...
    @property
    def duration_buckets(self) -> list[tuple[float, int]]:
        """(upper bound in seconds, ticks that took at most that long), cumulative; the last bound is
        ``inf`` (every tick)."""

@final
class BatchPolicy:
    """How a space chooses the frames per message of its audience's stream. ``fixed=N``: always N (1 to
    10). Otherwise from the audience: N frames while it has at most N × ``listeners_per_frame``
    listeners, N one of 1, 2, 3, 5, 10 up to ``max_frames`` (1 to 10; it is a step too); down a step only
    once the audience fits within 80% of the lower step's capacity. Out of range: ``MixerError``
    ``bad_argument``. Immutable, comparable, hashable."""

    def __new__(cls, *, fixed: int | None = None, max_frames: int = 10, listeners_per_frame: int = 2500) -> Self: ...
    @property
    def fixed(self) -> int | None: ...
    @property
    def max_frames(self) -> int:
        """The most frames a message holds (the fixed count, when fixed)."""
    @property
    def listeners_per_frame(self) -> int | None:
        """None when fixed."""
    @property
    def initial(self) -> int:
        """Frames per message before the audience is known: the fixed count, or 1."""
    def next(self, current: int, audience: int) -> int:
        """Frames per message of the next message, given the last one's (``current``) and the listeners
        it reached (``audience``), from the audience alone: a running server may also hold a space a step
        higher while its fan-out's writers are saturated (docs/operations.md, Frames per message)."""

class SpaceDriver:
    """A space's registration with a ``TickPool`` (no thread of its own): while its mixer is active (or it
    records) the pool ticks it every 20 ms and hands its frames to the fan-out: one `send_audio` per routed speaker
    per tick, and each tick's shared frame appended to ``audience_group``'s stream, published every as many
    ticks as ``batching`` chooses (default ``BatchPolicy()``): each listener's writer then sends it the frames
    it has not had (docs/operations.md, Frames per message). Numbered from ``first_seq``. No Python runs on
    its audio path."""

    def __new__(
        cls,
        pool: TickPool,
        mixer: Mixer,
        fanout: Fanout,
        audience_group: int,
        *,
        batching: BatchPolicy | None = None,
        first_seq: int = 0,
    ) -> Self: ...
    def route(self, input_id: int, conn: int) -> None:
        """Speaker ``input_id`` is at ``conn``: it hears its own stream (its mix-minus while in the mix) there,
        and the ``audio`` that ``conn`` sends goes to input ``input_id`` (read by the pool's ``Wire``, no Python)."""
    def unroute(self, input_id: int) -> None:
        """Speaker ``input_id`` has no connection here any more: its stream and its audio stop."""
    def notify(self) -> None:
        """Packets were pushed: queue the space for ticking if it is quiet (one atomic load if not)."""
    @property
    def next_seq(self) -> int: ...
    @property
    def skipped_ticks(self) -> int: ...
    @property
    def ticks(self) -> int: ...
    @property
    def frames_per_message(self) -> int:
        """Frames per message of the audience's stream now."""
    @property
    def batch_switches(self) -> int:
        """Times the audience's frames per message changed."""
    def start_recording(self, path: str | PathLike[str], serial: int) -> None:
        """Record the space into a new Ogg Opus file at ``path`` (RFC 7845: ``OpusHead``, ``OpusTags``, then a
        page per second of 20 ms packets; Ogg stream serial number ``serial``, 0 to 2**32 - 1) from the next
        tick on. While recording, the space ticks every 20 ms even when nobody talks, and silence is written as
        silence, so the file keeps the space's time. Each tick the recording gets the voices mixed for listeners
        whose input consented (``set_consent``): the listeners' own packet when that is all of them, silence
        when it is none, otherwise a mix of its own with its own encoder. Pages are written by a thread of the
        recording's own, synced at least every 2 s: a process killed at any moment leaves a file that
        ``repair_recording`` makes playable up to about a second before the kill.

        The file is created (never over an existing one: ``FileExistsError``) and its headers made durable
        before this returns; any ``OSError`` leaves no file. ``ValueError`` if a recording is running already
        or the driver is stopped; ``MixerError`` (``bad_argument``) for a ``serial`` out of range."""
    def set_consent(self, input_id: int, consent: bool) -> None:
        """Whether the voice of mixer input ``input_id`` may enter the recording (inputs are not consented by
        default), from the next tick on. Kept whether or not a recording runs (it may be given before the input
        exists), and forgotten when the input is removed from the mixer: a speaker's new input (after a
        reconnection) must be given it again."""
    def stop_recording(self) -> RecordingStats | None:
        """Finish the recording: ticks a busy pool still owed it are written as silence (the file is as long as
        the recording ran), its last page gets the end-of-stream flag and the granule position of its last
        sample, and is synced; returns its figures, or None if none was running. ``stop()`` (and dropping the
        driver) does the same."""
    def recording_stats(self) -> RecordingStats | None:
        """The running recording's figures so far (what its file holds: the page being filled, up to 1 s, is not
        counted yet), or None."""
    def tell_speaking(self, space_id: str, everyone_group: int) -> None:
        """From now on, whenever the voices in the mix change, a ``speaking`` message (docs/protocol.md) goes
        to ``everyone_group``: at most one per 250 ms, the last change always told (the driver ticks a quiet
        space until it is)."""
    def name_input(self, input_id: int, user_id: str) -> None:
        """Input ``input_id`` speaks for ``user_id`` (an input with no name is never told)."""
    def forget_input(self, input_id: int) -> None: ...
    def send_speaking(self, conn: int) -> None:
        """Queue the ``speaking`` set last told for ``conn``, a newcomer (after its ``joined``); nothing when
        nobody talks."""
    @property
    def speaking_messages(self) -> int:
        """``speaking`` messages told so far."""
    @property
    def failure(self) -> str | None:
        """Why the space's tick failed (a panic's message: a bug), once it has: the pool caught it, the space
        ticks no more and should be ended (its other spaces go on)."""
    def _inject_panic(self) -> None:
        """For tests of a failing tick: the space's next tick panics."""
    def stop(self) -> None:
        """No more ticks: waits for a tick under way, then sends what is batched (not after a failed tick) and
        finishes a recording. Idempotent."""

@final
class RecordingStats:
    """A recording's figures: what its file holds."""

    @property
    def duration_ms(self) -> int:
        """What the file plays: 20 ms per packet, less the 6.5 ms pre-skip."""
    @property
    def bytes(self) -> int:
        """The file's size, headers included."""
    @property
    def frames(self) -> int:
        """20 ms packets in the file: ``frames_shared + frames_own + frames_silent``."""
    @property
    def frames_shared(self) -> int:
        """Packets that were the listeners' own (everyone mixed had consented)."""
    @property
    def frames_own(self) -> int:
        """Packets of the recording's own mix (someone talking had not consented)."""
    @property
    def frames_silent(self) -> int:
        """Packets of silence (nobody who consented was talking)."""
    @property
    def write_errors(self) -> int:
        """Pages not written (a failed write ends the file at its last whole page, which is then given its end).
        0 for a sound recording."""

def engine_failure() -> str | None:
    """The first panic of one of the engine's threads ("stoa-fanout", "stoa-wire", "stoa-tick", "stoa-rec")
    since the module was loaded, as "thread 'NAME' panicked at FILE:LINE: MESSAGE"; None while none has. Such
    a thread is then gone for good: the server exits (gateway/engine_watch.py)."""

def _panic_in_thread(thread_name: str, message: str) -> None:
    """For tests: a thread named `thread_name` panics with `message` (and is joined)."""

def repair_recording(path: str | PathLike[str]) -> int:
    """Make a recording cut off by a crash well-formed: a torn last page is cut off and the last whole page
    gets the end-of-stream flag (a file with no audio page gets one of 20 ms of silence). Leaves a finished
    file as it is. Returns the milliseconds the file plays. ``ValueError`` if the file does not start with
    whole Ogg Opus headers; ``OSError`` if it cannot be read or written."""

def parse_audio(data: bytes) -> tuple[int, int, bytes, int | None] | None:
    """How a ``Wire`` reads one client message: an ``audio`` message's (seq, captured_at, opus, level), or None for
    anything it hands to Python (which decodes it, or refuses it with ``bad_message``, as any other)."""

@final
class WireEvent:
    """What a ``Wire`` tells the gateway about one connection; ``kind`` says which fields mean something."""

    @property
    def kind(self) -> Literal["opened", "message", "audio_unrouted", "closed"]: ...
    @property
    def conn(self) -> int:
        """The connection's id (the fan-out's)."""
    @property
    def data(self) -> bytes | None:
        """ "message": its bytes (a binary message the wire did not take itself)."""
    @property
    def packets(self) -> int:
        """ "audio_unrouted": audio messages from this connection with no route since the last such event."""
    @property
    def code(self) -> int:
        """ "closed": the close code (the client's, the server's, or 1006 if none)."""
    @property
    def reason(self) -> str: ...
    @property
    def by_server(self) -> bool:
        """ "closed": the code and reason are the server's (its own close, or one the wire made itself, such as
        1002 for a broken frame), not the client's."""
    @property
    def peer(self) -> str:
        """ "opened": the client's IP address."""
    @property
    def path(self) -> str:
        """ "opened": the upgrade request's path."""
    @property
    def origins(self) -> list[str]:
        """ "opened": every Origin header, in order (bytes read as Latin-1)."""

@final
class WireStats:
    """A snapshot of a wire's counters (since it started, except ``connections``)."""

    @property
    def connections(self) -> int:
        """Connections open now, handshakes included."""
    @property
    def accepted(self) -> int: ...
    @property
    def bad_handshakes(self) -> int:
        """Requests that were no valid upgrade, or timed out before one."""
    @property
    def handshakes_refused(self) -> int:
        """Connections closed at accept, their request not whole: their address (an IPv6 one's /64) had
        ``max_handshakes_per_address`` handshakes in progress."""
    @property
    def handshakes_evicted(self) -> int:
        """Handshakes ended to make room for a newer one, ``max_handshakes`` being in progress."""
    @property
    def messages(self) -> int:
        """Messages handed to the gateway."""
    @property
    def audio_routed(self) -> int:
        """Audio messages pushed into a mixer by the reader."""
    @property
    def audio_unrouted(self) -> int:
        """Audio messages from connections with no route."""
    @property
    def audio_over_pace(self) -> int:
        """Audio messages dropped unread for coming faster than ``AUDIO_BURST``, ``AUDIO_PER_SECOND`` allow."""
    @property
    def bytes_read(self) -> int: ...
    @property
    def audio_at_tick(self) -> int:
        """Audio messages (of ``audio_routed``) read at their space's tick, from a parked speaker."""
    @property
    def parked(self) -> int:
        """Speakers parked for their space's ticks, as the reader counted them at its last sweep."""
    @property
    def reader_cpu_ns(self) -> int:
        """CPU time of the reader thread, as it measured it at the end of its last pass."""

@final
class AudioPace:
    """One connection's audio pace, the Rust reader's own (docs/protocol.md, Rate limits and caps): 250
    messages at once, then 100 a second; beyond, dropped; 2,500 over that pace, not since repaid, close the
    connection with 1008."""

    def __new__(cls) -> Self: ...
    def take(self) -> Literal["within", "over", "too_fast"]:
        """One message now: play it, drop it, or close the connection."""

@final
class Wire:
    """The read side of every client socket of one listening socket, on one Rust thread ("stoa-wire"): accept,
    the WebSocket handshake, frames (unmasked, reassembled; text refused with 1003, over
    ``max_message_bytes`` with 1009, protocol errors with 1002), ping/pong, the close handshake, and the
    keepalive (a connection idle both ways for 5 s is pinged, and closed with 4001 if nothing comes back
    within 5 s). Every byte it writes goes through ``fanout``. A speaker's ``audio`` goes from the socket into
    its space's mixer through ``pool``'s routes (``SpaceDriver.route``), never through Python.

    The gateway waits until ``fileno()`` is readable and takes the events: an "opened" connection is
    answered with ``accept`` or ``refuse``; each of its "message" events is acknowledged with ``taken`` once
    handled (at ``max_pending_messages`` not taken, the wire stops reading that socket); "closed" ends it.
    Call ``shutdown`` after ``Fanout.shutdown``.

    ``realtime``: the reader thread asks to run as soon as it wakes (SCHED_FIFO at the lowest real-time
    priority where the process may, else nice -10), so that speakers' packets reach their mixers before
    their tick on a machine whose cores are all busy; ``scheduling()`` says what it got.

    Handshakes in progress (accepted, the upgrade request not yet read whole): each new connection is read at
    once, and one whose request came whole is not counted. One whose request has not, from an address (an
    IPv6 client by its /64) with ``max_handshakes_per_address`` of them, is closed, unanswered; past
    ``max_handshakes`` in all, it ends the oldest (docs/security.md, Limits). Both at least 1. The listening
    sockets defer accepting a connection until its first bytes come, at most ``defer_accept_s`` seconds
    (TCP_DEFER_ACCEPT; 0: off)."""

    def __new__(
        cls,
        listener_fds: list[int],
        fanout: Fanout,
        pool: TickPool,
        *,
        max_message_bytes: int = 65536,
        sndbuf: int | None = None,
        max_pending_messages: int = 8,
        realtime: bool = False,
        max_handshakes_per_address: int = 16,
        max_handshakes: int = 1024,
        defer_accept_s: int = 1,
    ) -> Self: ...
    def scheduling(self) -> Literal["realtime", "nice", "normal"]:
        """How the reader thread runs: what ``realtime`` asked for and the system allowed."""
    def fileno(self) -> int: ...
    def take_events(self) -> list[WireEvent]: ...
    def accept(self, conn: int) -> None: ...
    def refuse(self, conn: int, status: int, body: bytes, headers: list[tuple[str, str]] = ...) -> None:
        """Answer the upgrade with ``status``, ``headers`` and ``body``, then close (no "closed" event follows)."""
    def close(self, conn: int, code: int, reason: str) -> None:
        """Start the close handshake; "closed" follows when the client answers, or after 2 s."""
    def _inject_panic(self, conn: int) -> None:
        """For tests of a fault: ``conn``'s next bytes make the reader panic there (contained: it alone is closed
        with 1011, an incident id in the reason and on stderr)."""
    def taken(self, conn: int) -> None: ...
    def stats(self) -> WireStats: ...
    def stop_listening(self) -> None:
        """Stop taking connections: the listening sockets are shut down, so a client's connect is refused at once
        (and those not yet accepted are reset); open connections go on. For a drain's end, when upgrades are no
        longer answered. Idempotent; ``OSError`` if a socket could not be shut down."""
    def shutdown(self) -> None:
        """Stop the reader thread; connections still open are closed. Idempotent."""
