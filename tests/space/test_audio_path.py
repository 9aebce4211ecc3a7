"""Speakers' packets from the session to the mixer: never behind the actor's mailbox (nor a store write, nor
any command), every drop counted by reason, and a reconnecting speaker's new stream heard from its first
packet. Real Opus through the real Rust mixer, ticked by the Rust tick pool and read from real sockets
written by the Rust fan-out (`tests/space/sockets.py`); the store test runs on the Python baseline's tick
as well, with a deeper speaker queue than the server's (25 packets, not 6: see `open_python_directory`), since
`--transport python` must not lose packets behind a store write either."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
import trio
import trio.testing

from actors.runtime import MailboxFull
from actors.space import AudioStats, Post, Role, SpaceDirectory, SpaceRef
from actors.space.commands import MemberLink, PushAudio
from actors.space.persistence import NoStore, SpaceStore
from actors.space.ticking import MixConfig, TrioTicker
from bench.idle_bench import trio_tasks
from mixer import Fanout, TickPool
from tests.audio import assert_tone_present, decode_stream, encode_tone, tone_level
from tests.space.fakes import RecordingFanout, RecordingLink
from tests.space.sockets import QUIET_POLL_S, SocketLink, frames_once_quiet, open_rust_directory, stream

SPEAKERS = [f"s{i}" for i in range(12)]  # with the host: 13 on the mic
SLOW_WRITE_S = 1.0

Directory = AbstractAsyncContextManager[tuple[SpaceDirectory, Callable[[], MemberLink]]]


class SlowStore(NoStore):
    """A store whose post writes take a second (one SQLite writer for the whole server, busy)."""

    async def post_shared(self, space_id: str, post: Post) -> None:
        await trio.sleep(SLOW_WRITE_S)


@asynccontextmanager
async def open_python_directory(store: SpaceStore) -> AsyncIterator[tuple[SpaceDirectory, Callable[[], MemberLink]]]:
    """The `--transport python` baseline: a Python fan-out, so the Python tick. Its tick shares the event loop
    with `talk`, so a stall of the loop (a busy machine) delays both, and `talk` then pushes its late packets
    at once while the tick catches up one thread hop at a time: 100 ms of stall overflowed the default queue
    of 6 (a packet a speaker lost). A queue of 25 (0.5 s) takes that; a second-long write that held the mix
    still overflows it and skips ticks (a gap in `seq`)."""
    fanout = RecordingFanout()
    async with trio.open_nursery() as nursery:
        yield SpaceDirectory(nursery, fanout, store=store, mix=MixConfig(max_queue=25)), lambda: RecordingLink(fanout)
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_space(
    store: SpaceStore, transport: Callable[[SpaceStore], Directory] = open_rust_directory
) -> AsyncIterator[tuple[SpaceDirectory, SpaceRef, RecordingLink | SocketLink]]:
    """A space with the host and 12 speakers on the mic, and one listener."""
    async with transport(store) as (directory, new_link):
        space = await directory.create("host", "Busy")
        await space.join("host", new_link())
        ear = new_link()
        assert isinstance(ear, RecordingLink | SocketLink)
        await space.join("ear", ear)
        for user in SPEAKERS:
            await space.join(user, new_link())
            await space.set_role("host", user, Role.SPEAKER)
        yield directory, space, ear


async def talk(push: object, users: list[str], seconds: float) -> int:
    """Every user sends real Opus, one packet per 20 ms, through `push(user, seq, captured_at, opus)`;
    returns how many packets were sent."""
    packets = encode_tone(440, seconds)
    start = trio.current_time()
    for seq, packet in enumerate(packets):
        await trio.sleep_until(start + seq * 0.020)
        for user in users:
            push(user, seq, time.time_ns() // 1000, packet)  # type: ignore[operator]
    return len(packets) * len(users)


async def heard(directory: SpaceDirectory, space: SpaceRef, ear: RecordingLink | SocketLink) -> list[tuple[int, bytes]]:
    """Every frame `ear` was sent, once the last packets are ticked."""
    if isinstance(ear, SocketLink):
        return await frames_once_quiet(directory, ear)
    ticker = space.audio.ticker
    assert isinstance(ticker, TrioTicker)
    while ticker.talking:  # noqa: ASYNC110 (the Python tick's task parks with no event for others to wait on)
        await trio.sleep(QUIET_POLL_S)
    return ear.frames


@pytest.mark.parametrize(
    "transport", [open_python_directory, open_rust_directory], ids=["python-tick", "rust-tick-pool"]
)
async def test_a_one_second_store_write_while_13_speakers_talk_loses_no_packet(
    transport: Callable[[SpaceStore], Directory],
) -> None:
    with trio.fail_after(20):
        async with open_space(SlowStore(), transport) as (directory, space, ear):
            before = directory.audio_stats()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(space.share_post, "host", "a post whose write takes a second")
                sent = await talk(space.push_audio, ["host", *SPEAKERS], 2.0)
            frames = await heard(directory, space, ear)
            stats = directory.audio_stats()
            assert stats.packets_in - before.packets_in == sent
            assert stats.dropped == 0, stats
            seqs = [seq for seq, _ in frames]
            assert len(seqs) >= 100, "the listener heard the 2 s of talk"
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the mix went on during the write"


async def test_control_packets_told_to_the_busy_actor_are_lost() -> None:
    """The same second-long write, with packets through the actor's mailbox: the way they used to go. The
    mailbox fills while the actor waits for the store, so the scenario above does test the path."""
    with trio.fail_after(20):
        async with open_space(SlowStore()) as (_, space, _ear):
            refused = 0

            def tell(user: str, seq: int, captured_at: int, opus: bytes) -> None:
                nonlocal refused
                try:
                    space._actor.tell_nowait(PushAudio(user, seq, captured_at, opus))
                except MailboxFull:
                    refused += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(space.share_post, "host", "a post whose write takes a second")
                await talk(tell, ["host", *SPEAKERS], 2.0)
            assert refused > 100


async def test_each_packet_not_played_is_counted_under_its_reason() -> None:
    with trio.fail_after(10):
        async with open_space(NoStore()) as (directory, space, ear):
            packet = encode_tone(440, 0.02)[0]
            space.push_audio("ear", 0, 0, packet)  # a listener: no input
            space.push_audio("host", 5, 0, packet)
            space.push_audio("host", 5, 0, packet)  # a duplicate
            space.push_audio("host", 6, 0, b"x" * 2000)  # over MAX_PACKET_BYTES
            assert isinstance(ear, SocketLink)
            # 5 was played (a fixed wait could end before, on a busy machine); then 4 is late.
            while not ear.frames:  # noqa: ASYNC110 (filled by the link's reader task)
                await trio.sleep(0.01)
            space.push_audio("host", 4, 0, packet)
            while directory.audio_stats().dropped_late < 2:  # noqa: ASYNC110 (the Rust mixer's counter)
                await trio.sleep(0.01)
            stats = directory.audio_stats()
            assert (stats.dropped_no_input, stats.dropped_refused, stats.dropped_late) == (1, 1, 2)
            assert stats.packets_in == 3
            assert stats.dropped == 4


async def restart_the_stream(new_connection: bool) -> tuple[SpaceDirectory, list[bytes], list[bytes], int]:
    """The host talks (440 Hz, seq from 0), then, on a new connection or the same one, talks again (1000 Hz)
    with its seq from 0 again. Returns the directory, the stream as a listener received it, the second
    stream as sent, and how many frames the listener had before the second stream."""
    async with open_rust_directory() as (directory, new_link):
        space = await directory.create("host", "Reconnects")
        ear = new_link()
        await space.join("host", new_link())
        await space.join("ear", ear)
        first, second = encode_tone(440, 1.5), encode_tone(1000, 1.0)
        await stream(space, "host", first)
        heard_before = len(await frames_once_quiet(directory, ear))
        if new_connection:
            await space.join("host", new_link())
        await stream(space, "host", second)
        heard = await frames_once_quiet(directory, ear)
    return directory, [opus for _, opus in heard], second, heard_before


async def test_a_speaker_who_reconnects_is_heard_from_the_first_packet_of_its_new_stream() -> None:
    with trio.fail_after(20):
        _, heard, second, before = await restart_the_stream(new_connection=True)
    assert len(heard) - before >= len(second) - 2, "the new stream's packets are all played"
    pcm = decode_stream(heard)[before * 960 :]
    assert_tone_present(pcm[: 960 * 10], 1000)  # within its first 10 packets


async def test_control_a_stream_that_restarts_its_seq_on_the_same_connection_is_dropped_as_late() -> None:
    """Without a new connection (no new stream), numbers already played are late: the check above can fail."""
    with trio.fail_after(20):
        directory, heard, _, before = await restart_the_stream(new_connection=False)
    assert len(heard) == before
    assert directory.audio_stats().dropped_late >= 45
    pcm = decode_stream(heard)
    assert tone_level(pcm, 1000) * 31.6 < tone_level(pcm, 440)


def test_audio_stats_add_up_field_by_field() -> None:
    total = AudioStats(packets_in=3, dropped_late=1) + AudioStats(packets_in=2, dropped_no_input=4)
    assert total == AudioStats(packets_in=5, dropped_no_input=4, dropped_late=1)
    assert total.dropped == 5


def os_threads() -> set[str]:
    """The OS thread ids of this process (native threads and Python's alike)."""
    return set(os.listdir("/proc/self/task"))


async def test_live_silent_spaces_hold_no_thread_and_no_opus_state() -> None:
    """Counts the threads that start while the spaces are made, by id: not the process's number of threads,
    which other tests' threads change as they end (a Trio worker thread idle for 10 s, an earlier test's pool
    collected). Nothing else in this process starts a thread meanwhile."""
    fanout = Fanout()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            directory = SpaceDirectory(nursery, fanout)  # with the Rust fan-out: its own TickPool, started now
            before = os_threads()
            spaces = [await directory.create(f"host{i}", "Silent") for i in range(200)]
            await trio.testing.wait_all_tasks_blocked()
            assert os_threads() - before == set()
            assert sum(space.audio.mixer.codecs_held() for space in spaces) == 0
            # The control: the count does see threads come (each exists once `TickPool` returns), and a talking
            # space does hold codecs.
            extra = TickPool(threads=3)
            assert len(os_threads() - before) == 3
            del extra
            await stream(spaces[0], "host0", encode_tone(440, 0.1))
            assert spaces[0].audio.mixer.codecs_held() > 0
            nursery.cancel_scope.cancel()
    fanout.shutdown()


async def test_a_live_silent_space_is_one_trio_task() -> None:
    fanout = Fanout()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            directory = SpaceDirectory(nursery, fanout)
            await directory.create("warm-up", "Silent")  # starts the directory's supervisor
            await trio.testing.wait_all_tasks_blocked()
            before = trio_tasks()
            for i in range(50):
                await directory.create(f"host{i}", "Silent")
            await trio.testing.wait_all_tasks_blocked()
            assert trio_tasks() == before + 50
            # The control: the count does see a task come.
            nursery.start_soon(trio.sleep_forever)
            await trio.testing.wait_all_tasks_blocked()
            assert trio_tasks() == before + 51
            nursery.cancel_scope.cancel()
    fanout.shutdown()
