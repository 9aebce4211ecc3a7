"""`ListenerPool` against a real server process: compiled listeners join a space, hear a speaker's
real Opus at the 20 ms pace with no frame lost and loopback latency, leave when stopped, and report
a refused join with its code."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import trio

from actors.space import AudienceChanged, Role
from gateway.client import Client, connect_account
from loadtest.coverage import latency_ms
from mixer import ListenerPool, ListenerStats, MixerError
from tests.audio import encode_tone
from tests.conftest import ServerProcess

# No frame lost at the 20 ms pace, loopback latency: those tests run alone. A refused join and the latency
# window's reset count nothing in time, and run beside the other tests.
at_the_pace = pytest.mark.serial

LISTENERS = 50
SECONDS = 2.0


async def wait_until(condition: Callable[[], bool]) -> None:
    """Polls `condition` every 20 ms (the pool runs on its own thread: there is no event to wait
    on); bound it with `trio.fail_after`."""
    while True:
        if condition():
            return
        await trio.sleep(0.02)


async def stream(speaker: Client, packets: list[bytes]) -> None:
    """Sends packets at the real 20 ms pace, each stamped with its capture time."""
    start = trio.current_time()
    for seq, packet in enumerate(packets):
        await trio.sleep_until(start + seq * 0.020)
        await speaker.send_audio(seq, time.time_ns() // 1000, packet)


async def settled_listeners(pool: ListenerPool) -> list[ListenerStats]:
    """The listeners once their frame counts have stopped growing for 300 ms."""
    previous: list[int] = []
    while True:
        listeners = pool.listeners()
        counts = [listener.frames for listener in listeners]
        if counts == previous:
            return listeners
        previous = counts
        await trio.sleep(0.3)


@at_the_pace
async def test_listeners_hear_every_frame_and_leave_when_stopped(server: ServerProcess) -> None:
    users = [f"listener_{i}" for i in range(LISTENERS)]
    with trio.fail_after(60):
        async with connect_account(server.url, "host") as host, connect_account(server.url, "speaker") as speaker:
            space_id = (await host.create_space("Load test")).space.space_id
            await speaker.join_space(space_id)
            await host.set_role(speaker.user, Role.SPEAKER)
            with ListenerPool("127.0.0.1", server.port, space_id, users, connect_per_s=500.0) as pool:
                await wait_until(lambda: pool.stats().joined == LISTENERS)
                await stream(speaker, encode_tone(440.0, SECONDS))
                listeners = await settled_listeners(pool)

                assert [listener.user for listener in listeners] == users
                for listener in listeners:
                    assert listener.state == "joined", listener
                    assert listener.frames > 80, listener
                    assert (listener.lost, listener.reordered) == (0, 0), listener
                    assert listener.last_seq - listener.first_seq + 1 == listener.frames, listener
                stats = pool.stats()
                assert stats.frames == sum(listener.frames for listener in listeners)
                assert (stats.failed, stats.closed_by_server, stats.malformed) == (0, 0, 0), stats
                assert stats.events > 0, "the listeners saw the later ones join"
                p50, p99 = pool.latency_percentiles([50.0, 99.0])
                assert 0 < p50 < 200_000, f"p50 {p50} µs on loopback"
                assert p50 <= p99 < 1_000_000, f"p99 {p99} µs on loopback"
                # Arrival (the kernel's stamp) comes before the pool's thread reads the same frames.
                arrival, read = latency_ms(pool.latency_buckets()), latency_ms(pool.read_latency_buckets())
                assert arrival["frames"] == read["frames"] > 0
                assert 0 < arrival["p50"] <= read["p50"] and arrival["max"] <= read["max"], (arrival, read)
                assert pool.stats().unstamped <= arrival["frames"] // 10, "the kernel stamped (nearly) every read"

                await trio.to_thread.run_sync(pool.stop)
                for listener in pool.listeners():
                    assert (listener.state, listener.close_code, listener.error) == ("closed", 1000, ""), listener
                assert (pool.stats().connected, pool.stats().closed) == (0, LISTENERS)

            departed = 0
            while departed < len(users):
                event = await host.next_event()
                if isinstance(event, AudienceChanged):
                    departed += event.departed_count
                    assert event.listener_count == len(users) - departed
            assert departed == len(users)


async def test_a_refused_join_fails_each_listener_with_the_code(server: ServerProcess) -> None:
    with trio.fail_after(20):
        pool = ListenerPool("127.0.0.1", server.port, "no_such_space_id", ["a", "b", "c"])
        try:
            await wait_until(lambda: pool.stats().failed == 3)
            for listener in pool.listeners():
                assert listener.state == "failed"
                assert listener.error == "refused: no_such_space", listener
        finally:
            await trio.to_thread.run_sync(pool.stop)
        assert pool.stats().connected == 0


async def test_latency_windows_can_be_read_and_reset_at_once(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "host") as host:
            space_id = (await host.create_space("Windows")).space.space_id
            with ListenerPool("127.0.0.1", server.port, space_id, ["l1", "l2"]) as pool:
                await wait_until(lambda: pool.stats().joined == 2)
                await stream(host, encode_tone(440.0, 0.5))
                await settled_listeners(pool)
                first = pool.latency_percentiles([50.0, 100.0], reset=True)
                assert 0 < first[0] <= first[1]
                assert pool.latency_percentiles([50.0, 100.0]) == [0, 0], "the window was emptied"


@at_the_pace
async def test_one_pool_holds_listeners_of_several_spaces(server: ServerProcess) -> None:
    """One thread for listeners of two spaces (the harness's workers): each joins its own and hears
    only its own; coverage takes each listener's own space's bitmaps."""
    with trio.fail_after(30):
        async with connect_account(server.url, "host_a") as a, connect_account(server.url, "host_b") as b:
            talking = (await a.create_space("Talking")).space.space_id
            quiet = (await b.create_space("Quiet")).space.space_id
            spaces = [talking, quiet, talking, quiet]
            users = ["l1", "l2", "l3", "l4"]
            with ListenerPool("127.0.0.1", server.port, spaces, users, linger_us=2000) as pool:
                await wait_until(lambda: pool.stats().joined == 4)
                await stream(a, encode_tone(440.0, 1.0))
                listeners = await settled_listeners(pool)
                heard = [listener.frames > 40 for listener in listeners]
                assert heard == [True, False, True, False], listeners
                assert [listener.lost for listener in listeners] == [0, 0, 0, 0], listeners

                everything, nothing = b"\xff" * 8, b""
                assert pool.coverage(0, 64, everything, nothing) == [0, 0, 0, 0], "no clock: no slots named"
                assert pool.coverage(0, 64, [everything] * 4, [nothing] * 4) == [0, 0, 0, 0]
                assert len(pool.heard_maps([nothing] * 4)) == 4
                for wrong in ([everything] * 3, [everything] * 5):
                    with pytest.raises(MixerError) as refused:
                        pool.coverage(0, 64, wrong, nothing)
                    assert refused.value.code == "bad_argument"
                with pytest.raises(MixerError):
                    pool.heard_maps([nothing])

    with pytest.raises(MixerError) as refused:
        ListenerPool("127.0.0.1", server.port, ["only_one"], ["l1", "l2"])
    assert refused.value.code == "bad_argument"
