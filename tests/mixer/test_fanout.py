"""The Rust `Fanout` as the gateway uses it: register a socket, queue messages, and read exact
WebSocket frames on the other end of a real socket pair.

Networking rules: Unix socket pairs only (no network at all); every read has a socket timeout as
its ceiling, and every wait a bounded loop, so nothing can hang."""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import pytest

import mixer
from gateway.errors import OVERFLOW_REASON
from mixer import Fanout, FanoutStats, MixerError
from tests.gilcheck import counting_thread
from tests.wsframes import take_frame

CEILING_S = 10.0


class Peer:
    """The client end: reads and parses server frames (unmasked, unfragmented)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(CEILING_S)
        self.sock = sock
        self.buf = bytearray()

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            assert chunk, f"EOF with {len(self.buf)} of {n} bytes"
            self.buf += chunk

    def read_exact(self, n: int) -> bytes:
        self._fill(n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_frame(self) -> tuple[int, bytes]:
        while (frame := take_frame(self.buf)) is None:
            self._fill(len(self.buf) + 1)
        return frame

    def read_message(self) -> bytes:
        first, payload = self.read_frame()
        assert first == 0x82, "FIN + binary"
        return payload

    def read_to_eof(self) -> bytes:
        rest = bytes(self.buf)
        self.buf.clear()
        while chunk := self.sock.recv(1 << 16):
            rest += chunk
        return rest


@contextmanager
def open_fanout(**settings: int) -> Iterator[Fanout]:
    fanout = Fanout(**settings)
    try:
        yield fanout
    finally:
        fanout.shutdown()


@contextmanager
def connections(fanout: Fanout, count: int, *, sndbuf: int | None = None) -> Iterator[list[tuple[int, Peer]]]:
    """`count` registered socket pairs: (conn id, peer). The server ends stay open, as the
    gateway keeps its own descriptors, and are closed at the end, as it closes them."""
    pairs = [socket.socketpair() for _ in range(count)]
    try:
        conns = []
        for server_end, client_end in pairs:
            if sndbuf is not None:
                server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
            conns.append((fanout.register(server_end.fileno()), Peer(client_end)))
        yield conns
    finally:
        for server_end, client_end in pairs:
            server_end.close()
            client_end.close()


def numbered(seq: int, size: int) -> bytes:
    return struct.pack("!I", seq) + bytes((seq + i) % 251 for i in range(size - 4))


def seq_of(payload: bytes) -> int:
    return int.from_bytes(payload[:4], "big")


def wait_until(what: str, cond: Callable[[], bool]) -> None:
    deadline = time.monotonic() + CEILING_S
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_the_public_names_are_the_native_classes() -> None:
    assert {"Fanout", "FanoutStats"} <= set(mixer.__all__)
    assert mixer.Fanout is mixer._mixer.Fanout
    assert mixer.FanoutStats is mixer._mixer.FanoutStats


@pytest.mark.parametrize(
    ("size", "header"),
    [
        (0, b"\x82\x00"),
        (125, b"\x82\x7d"),
        (126, b"\x82\x7e\x00\x7e"),
        (65_535, b"\x82\x7e\xff\xff"),
        (65_536, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_send_frames_one_binary_message_with_the_exact_header(size: int, header: bytes) -> None:
    payload = os.urandom(size)
    with open_fanout() as fanout, connections(fanout, 1) as [(conn, peer)]:
        assert fanout.send(conn, payload)
        assert peer.read_exact(len(header)) == header
        assert peer.read_exact(size) == payload


def test_raw_control_and_audio_arrive_in_the_order_they_were_queued() -> None:
    close_frame = b"\x88\x02\x03\xe8"  # as trio-websocket frames a 1000 close
    with open_fanout() as fanout, connections(fanout, 1) as [(conn, peer)]:
        for seq in range(60):
            if seq % 3 == 0:
                assert fanout.send(conn, numbered(seq, 40))
            elif seq % 3 == 1:
                fanout.send_audio(conn, numbered(seq, 300))
            else:
                assert fanout.send_raw(conn, close_frame)
        for seq in range(60):
            if seq % 3 == 2:
                assert peer.read_exact(4) == close_frame
            else:
                assert peer.read_message() == numbered(seq, 40 if seq % 3 == 0 else 300)


def test_a_broadcast_reaches_every_member_exactly() -> None:
    opened = time.monotonic_ns()
    with open_fanout(max_audio_messages=1_000) as fanout, connections(fanout, 12) as conns:
        group = fanout.new_group()
        for conn, _ in conns:
            fanout.join_group(group, conn)
        for seq in range(100):
            if seq % 2:
                assert fanout.broadcast_audio(group, numbered(seq, 200)) == 12
            else:
                assert fanout.broadcast(group, numbered(seq, 90)) == []
        for _, peer in conns:
            assert [peer.read_message() for _ in range(100)] == [
                numbered(seq, 200 if seq % 2 else 90) for seq in range(100)
            ]
        stats = fanout.stats()
        assert isinstance(stats, FanoutStats)
        assert (stats.connections, stats.groups, stats.messages_queued) == (12, 1, 1_200)
        framed = 50 * (200 + 4) + 50 * (90 + 2)  # a header of 4 bytes above 125, 2 below
        wait_until("the writer's counters", lambda: fanout.stats().bytes_written == 12 * framed)
        stats = fanout.stats()
        assert stats.write_calls > 0 and stats.writer_cpu_ns > 0
        assert (stats.audio_dropped, stats.overflows, stats.write_errors) == (0, 0, 0)
        # Busy is the wall time of passes with work: some, within the time the fan-out ran, none while idle.
        assert 0 < stats.writer_passes <= stats.write_calls
        assert 0 < stats.writer_busy_ns < time.monotonic_ns() - opened
        time.sleep(0.2)
        assert fanout.stats().writer_busy_ns == stats.writer_busy_ns


def test_a_slow_reader_loses_its_oldest_audio_and_is_noticed_while_a_fast_reader_gets_all() -> None:
    with open_fanout(max_audio_messages=64) as fanout, connections(fanout, 2, sndbuf=4096) as conns:
        (slow, slow_peer), (fast, fast_peer) = conns
        group = fanout.new_group()
        fanout.join_group(group, slow)
        fanout.join_group(group, fast)
        notices: list[tuple[int, str, int]] = []
        sent = 0
        # Paced by the fast reader, so only the slow one can fall behind.
        while fanout.stats().audio_dropped < 50:
            assert fanout.broadcast_audio(group, numbered(sent, 1_000)) == 2
            assert seq_of(fast_peer.read_message()) == sent
            sent += 1
            notices += fanout.take_notices()
            assert sent < 5_000, "never lagged"
        notices += fanout.take_notices()
        dropped = fanout.stats().audio_dropped
        assert {(conn, kind) for conn, kind, _ in notices} == {(slow, "lagging")}
        assert sum(value for _, _, value in notices) == dropped
        assert fanout.queued_bytes(fast) == 0
        got: list[int] = []
        while not got or got[-1] != sent - 1:
            got.append(seq_of(slow_peer.read_message()))
        assert got == sorted(set(got)), "in order, no repeats"
        assert len(got) == sent - dropped
        assert got[-63:] == list(range(sent - 63, sent)), "the newest 63 were kept"


def test_control_that_cannot_fit_closes_only_that_connection() -> None:
    with open_fanout(max_queue_bytes=32_768) as fanout, connections(fanout, 2, sndbuf=4096) as conns:
        (stuck, stuck_peer), (fine, fine_peer) = conns
        group = fanout.new_group()
        fanout.join_group(group, stuck)
        fanout.join_group(group, fine)
        for seq in itertools.count():
            overflowed = fanout.broadcast(group, numbered(seq, 4_000))
            assert seq_of(fine_peer.read_message()) == seq
            if overflowed:
                break
            assert seq < 1_000, "never overflowed"
        assert overflowed == [stuck]
        [(conn, kind, queued)] = fanout.take_notices()
        assert (conn, kind) == (stuck, "overflow") and 32_768 - 4_004 < queued <= 32_768
        assert not fanout.send(stuck, b"x")
        assert fanout.broadcast(group, b"after") == []
        assert fine_peer.read_message() == b"after"
        # Closed with 4000: what was queued is flushed, then the close frame (docs/protocol.md), then EOF.
        for expected in range(seq):
            assert seq_of(stuck_peer.read_message()) == expected
        assert stuck_peer.read_frame() == (0x88, struct.pack("!H", 4000) + OVERFLOW_REASON.encode())
        assert stuck_peer.read_to_eof() == b""


def test_close_flushes_what_is_queued_then_the_peer_sees_eof() -> None:
    with open_fanout(max_queue_bytes=1 << 22) as fanout:
        server_end, client_end = socket.socketpair()
        with client_end:
            conn = fanout.register(server_end.fileno())
            for seq in range(500):
                assert fanout.send(conn, numbered(seq, 2_000))
            assert fanout.queued_bytes(conn) > 0
            fanout.close(conn)
            server_end.close()  # the gateway closes its own descriptor at once
            fanout.close(conn)  # idempotent
            assert not fanout.send(conn, b"late")
            peer = Peer(client_end)
            assert [seq_of(peer.read_message()) for _ in range(500)] == list(range(500))
            assert peer.read_to_eof() == b""
        wait_until("the writer to forget it", lambda: fanout.stats().connections == 0)
        assert fanout.queued_bytes(conn) == 0


def test_a_peer_that_goes_away_is_noticed_and_dropped_alone() -> None:
    with open_fanout() as fanout, connections(fanout, 2) as conns:
        (gone, gone_peer), (stays, stays_peer) = conns
        group = fanout.new_group()
        fanout.join_group(group, gone)
        fanout.join_group(group, stays)
        gone_peer.sock.close()
        notices: list[tuple[int, str, int]] = []
        for seq in itertools.count():
            fanout.broadcast_audio(group, numbered(seq, 100))
            assert seq_of(stays_peer.read_message()) == seq
            notices += fanout.take_notices()
            if notices:
                break
            assert seq < 1_000
        assert notices == [(gone, "error", errno.EPIPE)]
        assert fanout.stats().write_errors == 1
        assert fanout.broadcast_audio(group, b"left") == 1
        assert stays_peer.read_message() == b"left"


def test_other_threads_run_during_broadcast_audio() -> None:
    """Method of `test_gil.py`: the calls run back to back from C, so, holding the GIL, the main
    thread would never hand it over. Each call hands it back and forth: a short switch interval
    keeps the batch short while the counting thread competes for it."""
    edge_ns = 20_000_000  # thread start-up and a few switch intervals, with room
    with open_fanout() as fanout, connections(fanout, 1_000) as conns:
        group = fanout.new_group()
        for conn, _ in conns:
            fanout.join_group(group, conn)
        broadcast = partial(fanout.broadcast_audio, group)
        started, calls = time.perf_counter_ns(), 0
        while time.perf_counter_ns() - started < 50_000_000:
            broadcast(b"x" * 100)
            calls += 1
        interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        try:
            with counting_thread() as stamps:
                time.sleep(0.05)
                start = time.perf_counter_ns()
                deque(map(broadcast, itertools.repeat(b"y" * 100, 2 * calls)), maxlen=0)
                end = time.perf_counter_ns()
        finally:
            sys.setswitchinterval(interval)
        inside = [t for t in stamps if start + edge_ns < t < end - edge_ns]
        assert end - start > 3 * edge_ns
        assert inside, "the counting thread never ran during broadcasts: the GIL is held"


def test_a_broadcast_from_a_worker_thread_works() -> None:
    with open_fanout() as fanout, connections(fanout, 3) as conns:
        group = fanout.new_group()
        for conn, _ in conns:
            fanout.join_group(group, conn)
        results: list[int] = []
        worker = threading.Thread(target=lambda: results.append(fanout.broadcast_audio(group, b"hi")))
        worker.start()
        worker.join(CEILING_S)
        assert results == [3]
        assert [peer.read_message() for _, peer in conns] == [b"hi"] * 3


def writer_threads() -> int:
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                names.append(comm.read().strip())
        except FileNotFoundError:
            pass
    return names.count("stoa-fanout")


@pytest.mark.parametrize("writers", [1, 3])
def test_shutdown_joins_the_writer_threads_and_refuses_everything_after(writers: int) -> None:
    before = writer_threads()
    fanout = Fanout(writers=writers)
    assert fanout.stats().writers == writers
    # 4 connections: every writer has one, and with 3 writers one has two.
    with connections(fanout, 4) as conns:
        wait_until("the writer threads", lambda: writer_threads() == before + writers)
        for conn, _ in conns:
            assert fanout.send(conn, b"bye %d" % conn)
            fanout.close(conn)
        fanout.shutdown()
        fanout.shutdown()  # idempotent
        # Joined: each writer has exited. Its /proc entry goes a moment later (a thread's join returns when its
        # exit clears its tid, before the kernel releases the task), so the count is waited for, not read once.
        wait_until("the writer threads to be gone", lambda: writer_threads() == before)
        for conn, peer in conns:
            assert peer.read_message() == b"bye %d" % conn
            assert peer.read_to_eof() == b""
            assert not fanout.send(conn, b"x")
            with pytest.raises(RuntimeError):
                fanout.register(peer.sock.fileno())


def test_refused_arguments() -> None:
    with pytest.raises(MixerError) as caught:
        Fanout(max_queue_bytes=0)
    assert caught.value.code == "bad_argument"
    with pytest.raises(MixerError):
        Fanout(max_audio_messages=-1)
    for writers in (0, 65):
        with pytest.raises(MixerError) as caught:
            Fanout(writers=writers)
        assert (caught.value.code, str(caught.value)) == ("bad_argument", "writers must be 1 to 64")
    with open_fanout() as fanout, open(os.devnull, "rb") as devnull:
        with pytest.raises(OSError) as os_error:
            fanout.register(devnull.fileno())
        assert os_error.value.errno == errno.ENOTSOCK
        with pytest.raises(KeyError):
            fanout.broadcast_audio(12345, b"x")
        with pytest.raises(KeyError):
            fanout.join_group(12345, 1)
        assert not fanout.send(12345, b"x")
        assert fanout.queued_bytes(12345) == 0
        fanout.close(12345)
        fanout.leave_group(12345, 1)
        fanout.drop_group(12345)
        assert fanout.take_notices() == []
