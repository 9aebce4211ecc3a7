"""The server's Prometheus metrics, served at /metrics by gateway/http/ops.py (text format, prometheus_client).

Two kinds. What the server already counts (the Rust fan-out's and tick pool's counters, the speakers' packets
by reason, the rate limiters, the open connections and spaces) is read when /metrics is scraped, by
`ServerCollector`: no Python work per frame or per packet on the audio path. What nothing counted yet (joins,
leaves, sign-ins, slow-listener disconnects, resumes, store write latency) is counted in `GatewayMetrics`,
bumped where it happens: a few times per connection or join, never per frame. Both become Prometheus metric
families only at a scrape: prometheus_client is imported then (`GatewayMetrics.render`), not when the server
starts. One registry per server, so two servers in one process (tests) never share one. docs/operations.md,
Metrics, lists them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixer import Fanout, TickPool, Wire

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

    from gateway.server import Gateway

RESUME_RESULTS = ("resumed", "events_gone", "window_passed", "refused")
"""The `result` label of `stoa_resumes_total`: the missed events sent (`resumed`), a snapshot instead because
the space no longer held them (`events_gone`) or the place was let go (`window_passed`), or an `error`."""
STORE_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class StallSnapshot:
    """Event-loop stalls since start, as a histogram: (upper bound in seconds, stalls at most that long),
    cumulative, the last bound `inf`; and the sum of the stalls in seconds."""

    buckets: Sequence[tuple[float, int]]
    sum_s: float

    @classmethod
    def from_counts(cls, bounds_s: Sequence[float], counts: Sequence[int], sum_s: float) -> StallSnapshot:
        """From per-bucket counts (not cumulative): `counts[i]` stalls at most `bounds_s[i]` and over the bound
        before it, and one more count past the last bound. (A stall monitor's histogram in this form, e.g.
        bounds and counts in ms, becomes the metric's with `from_counts([b / 1000 ...], counts, sum_ms / 1000)`.)"""
        total, cumulative = 0, []
        for bound, count in zip((*bounds_s, float("inf")), counts, strict=True):
            total += count
            cumulative.append((bound, total))
        return cls(cumulative, sum_s)


class Count:
    """A counter (`inc`), or one per value of a label (`labels(name=value)`)."""

    def __init__(self, label: str | None = None, values: Sequence[str] = ()) -> None:
        self.value = 0
        self.label = label
        self.by: dict[str, Count] = {value: Count() for value in values}

    def inc(self, amount: int = 1) -> None:
        self.value += amount

    def labels(self, **label: str) -> Count:
        (value,) = label.values()
        return self.by.setdefault(value, Count())


class Durations:
    """A histogram of durations in seconds (`observe`), with fixed bucket bounds."""

    def __init__(self, bounds_s: Sequence[float]) -> None:
        self.bounds_s = tuple(bounds_s)
        self.counts = [0] * (len(self.bounds_s) + 1)
        self.sum_s = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds_s, seconds)] += 1  # the first bound at or above it: `le`
        self.sum_s += seconds

    def snapshot(self) -> StallSnapshot:
        return StallSnapshot.from_counts(self.bounds_s, self.counts, self.sum_s)


class GatewayMetrics:
    """The metrics bumped where things happen, and /metrics's text (`render`)."""

    def __init__(self) -> None:
        self.connections_opened = Count()
        self.sign_ins = Count("kind", ("account", "guest"))
        self.joins = Count()
        self.leaves = Count()
        self.slow_disconnects = Count()
        self.resumes = Count("result", RESUME_RESULTS)
        self.store_write_seconds = Durations(STORE_BUCKETS_S)
        self.webhook_backlog: Callable[[], int] = lambda: 0
        """Events waiting for the webhook receivers (the server sets it to theirs)."""
        self._registry: CollectorRegistry | None = None
        self._collector: ServerCollector | None = None

    def watch(self, gateway: Gateway, wire: Wire | None = None) -> None:
        """From now on /metrics also reads `gateway`'s own counters (and its store's write times), and
        `wire`'s (the Rust transport's reader) if given."""
        self._collector = ServerCollector(gateway, self, wire)
        gateway.db.on_write = self.store_write_seconds.observe

    def render(self) -> tuple[bytes, str]:
        """The text of /metrics and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self._registry is None:
            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(self)  # (it has `collect`: all a registry asks of a collector)
        return generate_latest(self._registry), CONTENT_TYPE_LATEST

    def collect(self) -> Iterator[Metric]:
        opened = [((), self.connections_opened.value)]
        yield _counter("stoa_connections_opened", "WebSocket connections accepted", opened)
        yield _counter("stoa_sign_ins", "successful hellos, by kind of user", _by(self.sign_ins), ["kind"])
        yield _counter("stoa_joins", "participants who joined a space (a join_space or create_space)",
                       [((), self.joins.value)])  # fmt: skip
        yield _counter("stoa_leaves", "participants who left a space (left, disconnected, removed)",
                       [((), self.leaves.value)])  # fmt: skip
        yield _counter("stoa_slow_listener_disconnects", "connections closed with 4000 for reading too slowly",
                       [((), self.slow_disconnects.value)])  # fmt: skip
        yield _counter("stoa_resumes", "reconnections that asked to resume, by result", _by(self.resumes), ["result"])
        yield _histogram("stoa_store_write_seconds", "store write transactions, from asking to committed (on disk)",
                         self.store_write_seconds.snapshot())  # fmt: skip
        yield _gauge("stoa_webhook_backlog", "webhook events waiting for delivery, summed over the receivers",
                     [((), self.webhook_backlog())])  # fmt: skip
        if self._collector is not None:
            yield from self._collector.collect()


def _by(count: Count) -> list[tuple[tuple[str, ...], float]]:
    return [((value,), labelled.value) for value, labelled in count.by.items()]


class ServerCollector:
    """Reads, at each scrape, what the server counts anyway."""

    def __init__(self, gateway: Gateway, metrics: GatewayMetrics, wire: Wire | None = None) -> None:
        self._gateway = gateway
        self._metrics = metrics
        self._wire = wire

    def collect(self) -> Iterator[Metric]:
        gw = self._gateway
        yield _gauge("stoa_draining", "1 while the server drains (readyz answers 503)", [((), int(gw.draining))])
        yield _gauge("stoa_connections", "open WebSocket connections", [((), len(gw.connections))])
        yield _gauge("stoa_users_signed_in", "connections past hello", [((), len(gw.sessions))])
        roles: dict[str, int] = {"host": 0, "cohost": 0, "speaker": 0, "listener": 0}
        for session in gw.connections.values():
            if session.role is not None:
                roles[session.role.value] = roles.get(session.role.value, 0) + 1
        by_role = [((role,), n) for role, n in roles.items()]
        yield _gauge("stoa_participants", "connected participants in a space, by role", by_role, ["role"])
        directory = gw.directory
        pool = directory.tick_pool
        spaces = [(("live",), directory.live_count), (("unmoderated",), directory.unmoderated_count)]
        if pool is not None:
            spaces.append((("talking",), pool.talking))
        yield _gauge("stoa_spaces", "spaces by state: live; of those, talking (ticking now) and unmoderated "
                     "(no host or co-host present)", spaces, ["state"])  # fmt: skip
        yield _counter("stoa_space_restarts", "space actors restarted after a crash", [((), directory.restarts)])
        refused = dict(gw.limits.refused_by)
        if self._wire is not None:  # the Rust reader's caps on handshakes, counted where they act
            stats = self._wire.stats()
            refused["handshakes_per_address"] = refused.get("handshakes_per_address", 0) + stats.handshakes_refused
            refused["handshakes"] = refused.get("handshakes", 0) + stats.handshakes_evicted
        refusals = [((name,), n) for name, n in sorted(refused.items())]
        yield _counter("stoa_rate_limit_refusals", "requests and connections refused by a rate limit or cap, "
                       "by limit (docs/security.md)", refusals, ["limit"])  # fmt: skip
        if gw.outbox is not None:
            yield _counter("stoa_webhook_events_dropped", "webhook events not written because the outbox was full",
                           [((), gw.outbox.dropped)])  # fmt: skip
        yield from _audio(gw)
        if isinstance(gw.fanout, Fanout):
            yield from _fanout(gw.fanout)
        if isinstance(pool, TickPool):
            yield from _ticks(pool)
        if self._wire is not None:
            yield from _wire(self._wire)
        watched = gw.loop_watch.snapshot().since_start.stalls  # in ms
        stalls = StallSnapshot.from_counts([b / 1000 for b in watched.bounds_ms], watched.counts, watched.sum_ms / 1000)
        yield _histogram("stoa_event_loop_stall_seconds", "how late the event loop ran a task due to run (the loop "
                         "watch's 10 ms sleeps)", stalls)  # fmt: skip


def _audio(gw: Gateway) -> Iterator[Metric]:
    audio = gw.directory.audio_stats()
    accepted = [((), audio.packets_in)]
    yield _counter("stoa_speaker_packets_accepted", "speakers' Opus packets taken by the mixers", accepted)
    dropped = [(("no_input",), audio.dropped_no_input), (("refused",), audio.dropped_refused),
               (("overflow",), audio.dropped_overflow), (("late",), audio.dropped_late),
               (("removed",), audio.dropped_removed), (("skipped",), audio.dropped_skipped)]  # fmt: skip
    yield _counter("stoa_speaker_packets_dropped", "speakers' packets never played, by reason (docs/operations.md)",
                   dropped, ["reason"])  # fmt: skip
    yield _counter("stoa_concealed_frames", "frames of loss concealment played for missing packets",
                   [((), audio.concealed)])  # fmt: skip
    yield _counter("stoa_concealed_gap_frames", "of those, the frames inside a talk spurt (not the hangover after it)",
                   [((), audio.concealed_gaps)])  # fmt: skip
    yield _counter("stoa_speaker_packets_with_level", "speakers' packets accepted that came with their level",
                   [((), audio.with_level)])  # fmt: skip
    yield _counter("stoa_speaker_packets_decoded", "speakers' packets the mixers decoded (those with a level: only "
                   "to mix them with other voices)", [((), audio.decoded)])  # fmt: skip


def _fanout(fanout: Fanout) -> Iterator[Metric]:
    s = fanout.stats()
    yield _counter("stoa_frames_sent", "WebSocket messages queued to clients, once per connection (audio, "
                   "events and replies)", [((), s.messages_queued)])  # fmt: skip
    yield _counter("stoa_bytes_sent", "bytes written to client sockets", [((), s.bytes_written)])
    yield _counter("stoa_fanout_sends", "the writers' sendmsg calls that wrote bytes (a call can carry several "
                   "messages to one client)", [((), s.write_calls)])  # fmt: skip
    yield _counter("stoa_frames_dropped", "audio messages not sent, by reason: slow_listener (the client read "
                   "too slowly; its oldest audio went first), closing (queued when the server closed the "
                   "connection: its close frame goes first)",
                   [(("slow_listener",), s.audio_dropped), (("closing",), s.audio_dropped_at_close)],
                   ["reason"])  # fmt: skip
    yield _counter("stoa_connections_failed", "connections the fan-out gave up on, by reason",
                   [(("overflow",), s.overflows), (("write_error",), s.write_errors)], ["reason"])  # fmt: skip
    yield _gauge("stoa_fanout_writers", "the fan-out's writer threads", [((), s.writers)])
    yield _counter("stoa_fanout_writer_cpu_seconds", "CPU time of the fan-out's writer threads",
                   [((), s.writer_cpu_ns / 1e9)])  # fmt: skip
    yield _counter("stoa_fanout_writer_busy_seconds", "wall time the fan-out's writers spent writing (in passes "
                   "over the connections with bytes to send), summed over the writers",
                   [((), s.writer_busy_ns / 1e9)])  # fmt: skip
    yield _counter("stoa_fanout_writer_passes", "the fan-out writers' passes that had connections to write",
                   [((), s.writer_passes)])  # fmt: skip


def _ticks(pool: TickPool) -> Iterator[Metric]:
    s = pool.stats()
    yield _counter("stoa_mixer_ticks", "20 ms mixer ticks of every talking space", [((), s.ticks)])
    yield _counter("stoa_mixer_ticks_late", "ticks taken more than 5 ms after their deadline", [((), s.late)])
    yield _counter("stoa_mixer_ticks_skipped", "ticks skipped by spaces more than 200 ms behind", [((), s.skipped)])
    yield _gauge("stoa_tick_threads", "the tick pool's threads alive now", [((), pool.threads)])
    yield _gauge("stoa_talking_audience", "listeners of the talking spaces, as their last publications of "
                 "audio reached them (what frames per message are chosen for)", [((), pool.audience)])  # fmt: skip
    raised, lowered = pool.pressure
    yield _counter("stoa_batching_pressure_raised", "times the fan-out's saturated writers raised every talking "
                   "space's frames per message a step", [((), raised)])  # fmt: skip
    yield _counter("stoa_batching_pressure_lowered", "times a calm lowered the floor the writers' saturation set",
                   [((), lowered)])  # fmt: skip
    yield _histogram("stoa_mixer_tick_seconds", "how long one space's tick took (decode, mix, encode, queue)",
                     StallSnapshot(s.duration_buckets, s.duration_sum_s))  # fmt: skip


def _wire(wire: Wire) -> Iterator[Metric]:
    s = wire.stats()
    yield _gauge("stoa_wire_connections", "client sockets the Rust reader holds open, handshakes included",
                 [((), s.connections)])  # fmt: skip
    yield _counter("stoa_wire_accepted", "TCP connections the Rust reader accepted", [((), s.accepted)])
    yield _counter("stoa_wire_bad_handshakes", "connections that sent no valid WebSocket upgrade, or none in "
                   "time", [((), s.bad_handshakes)])  # fmt: skip
    yield _counter("stoa_wire_messages", "client messages the Rust reader handed to the gateway (not the audio "
                   "it routed itself)", [((), s.messages)])  # fmt: skip
    yield _counter("stoa_wire_audio", "speakers' audio messages read by the Rust reader, by route: routed "
                   "(pushed into a mixer), unrouted (no route: listener, muted, in no space) or over_pace (dropped: "
                   "faster than a connection may send)",
                   [(("routed",), s.audio_routed), (("unrouted",), s.audio_unrouted),
                    (("over_pace",), s.audio_over_pace)], ["route"])  # fmt: skip
    yield _counter("stoa_wire_bytes_read", "bytes read from client sockets", [((), s.bytes_read)])
    yield _counter("stoa_wire_audio_at_tick", "speakers' audio messages (of those routed) read at their space's "
                   "tick from a parked speaker, with the others parked then, not as they arrived",
                   [((), s.audio_at_tick)])  # fmt: skip
    yield _gauge("stoa_wire_parked_speakers", "speakers parked for their space's ticks (counted every 250 ms)",
                 [((), s.parked)])  # fmt: skip
    yield _counter("stoa_wire_reader_cpu_seconds", "CPU time of the Rust reader thread",
                   [((), s.reader_cpu_ns / 1e9)])  # fmt: skip
    yield _gauge("stoa_wire_reader_scheduling", "1 for how the Rust reader thread runs: realtime (SCHED_FIFO), "
                 "nice (-10) or normal", [((wire.scheduling(),), 1)], ["policy"])  # fmt: skip


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


Values = Sequence[tuple[tuple[str, ...], float]]


def _gauge(name: str, doc: str, values: Values, labels: Sequence[str] = ()) -> Metric:
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, doc, labels=list(labels))
    for label_values, value in values:
        family.add_metric(list(label_values), value)
    return family


def _counter(name: str, doc: str, values: Values, labels: Sequence[str] = ()) -> Metric:
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, doc, labels=list(labels))
    for label_values, value in values:
        family.add_metric(list(label_values), value)
    return family


def _histogram(name: str, doc: str, snapshot: StallSnapshot) -> Metric:
    from prometheus_client.core import HistogramMetricFamily

    family = HistogramMetricFamily(name, doc)
    family.add_metric([], [(_le(bound), n) for bound, n in snapshot.buckets], snapshot.sum_s)
    return family
