"""The people who talk in a load test: per space a host and its speakers, all sending from compiled
`SpeakerPool`s on one capture clock.

Order: each host creates its space (a Python client); the other speakers (one pool for every space)
connect with their accounts' tokens and join; each host puts them on the mic and closes its Python
connection; the hosts then come back in a second pool (a host who rejoins within 30 s is host again,
`docs/protocol.md`), so the host is speaker 0, as on Spaces, where the host holds one of the 13 places
on the mic. Then the clock starts. At the end each host comes back once more, as a Python client, and
ends its space (an account hosts one live space at a time: a later run on the same data starts again).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio

from actors.space import Role
from gateway.client import connect
from loadtest import LINGER_US
from loadtest.accounts import Account
from mixer import PoolStats, SpeakerPool

PoolScript = tuple[list[bytes], list[int], list[int]]
"""A speaker's (packets, plan, levels) as `mixer.SpeakerPool` takes it: `loadtest.speech.Script` and each
packet's level (empty: sent without levels)."""

CLOCK_LEAD_S = 0.3  # the clock's slot 0 starts this long after every speaker is on the mic
JOIN_TIMEOUT_S = 60.0


@dataclass
class Cast:
    space_ids: list[str]
    pools: list[SpeakerPool]  # the guests' (speakers 1..), then the hosts' (speaker 0)
    speakers_of: list[list[tuple[int, int]]]  # per space, (pool, index in it) of each of its speakers
    t0_us: int

    def stop(self) -> None:
        for pool in self.pools:
            pool.stop()


def host_handle(space: int) -> str:
    return f"host{space}"


def speaker_handle(space: int, index: int) -> str:
    """Speaker 0 of a space is its host."""
    return host_handle(space) if index == 0 else f"spk{space}_{index}"


async def open_cast(
    url: str, accounts: dict[str, Account], scripts_of: list[list[PoolScript]], clock_slots: int
) -> Cast:
    """`scripts_of[s]` is space s's speakers' scripts, one per speaker, the host's first."""
    where = urlsplit(url)
    address = (where.hostname or "127.0.0.1", where.port or 80)
    space_ids: list[str] = []
    promote, promoted = trio.Event(), trio.Semaphore(0)
    async with trio.open_nursery() as nursery:
        for s, space_scripts in enumerate(scripts_of):
            users = [accounts[speaker_handle(s, i)].user for i in range(1, len(space_scripts))]
            space_ids.append(await nursery.start(_host, url, accounts[host_handle(s)], s, users, promote, promoted))
        guests = _pool(address, accounts, space_ids, scripts_of, range(1, 13), clock_slots)
        await _all_joined(guests)
        promote.set()
        for _ in scripts_of:
            await promoted.acquire()
    hosts = _pool(address, accounts, space_ids, scripts_of, range(1), clock_slots)
    await _all_joined(hosts)
    t0_us = (int(time.time() * 1e6) // 1000 + int(CLOCK_LEAD_S * 1000)) * 1000
    speakers_of: list[list[tuple[int, int]]] = [[] for _ in space_ids]
    for p, pool in enumerate((guests, hosts)):
        for i, member in enumerate(pool.speakers()):
            speakers_of[int(member.user.split("#")[0])].append((p, i))
        pool.start_speaking(t0_us)
    return Cast(space_ids, [guests, hosts], speakers_of, t0_us)


def _pool(
    address: tuple[str, int], accounts: dict[str, Account], space_ids: list[str], scripts_of: list[list[PoolScript]],
    speakers: range, clock_slots: int,
) -> SpeakerPool:  # fmt: skip
    """The speakers of these indices in every space; each member's label is `<space>#<handle>`."""
    members: list[tuple[str, str, str, int]] = []
    scripts: list[PoolScript] = []
    for s, space_scripts in enumerate(scripts_of):
        for i in speakers:
            if i < len(space_scripts):
                account = accounts[speaker_handle(s, i)]
                members.append((f"{s}#{account.handle}", account.token, space_ids[s], len(scripts)))
                scripts.append(space_scripts[i])
    return SpeakerPool(*address, members, scripts, clock_slots=clock_slots, connect_per_s=500.0, linger_us=LINGER_US)


async def _all_joined(pool: SpeakerPool) -> PoolStats:
    with trio.fail_after(JOIN_TIMEOUT_S):
        while (stats := pool.stats()).connecting:  # noqa: ASYNC110 (the Rust pool has no event to wait on)
            await trio.sleep(0.05)
    if stats.joined != len(pool.speakers()):
        failed = [(s.user, s.error) for s in pool.speakers() if s.state != "joined"]
        pool.stop()
        raise RuntimeError(f"speakers could not join: {failed[:5]}")
    return stats


async def _host(
    url: str, account: Account, index: int, speakers: list[str], promote: trio.Event, promoted: trio.Semaphore,
    *, task_status: trio.TaskStatus[str],
) -> None:  # fmt: skip
    async with connect(url, token=account.token) as host:
        task_status.started((await host.create_space(f"Load test {index}")).space.space_id)
        await promote.wait()
        for user in speakers:
            await host.set_role(user, Role.SPEAKER)
    promoted.release()


async def end_spaces(url: str, accounts: dict[str, Account], cast: Cast) -> None:
    """Each host comes back and ends its space (the speakers are gone by then)."""
    async with trio.open_nursery() as nursery:
        for s, space_id in enumerate(cast.space_ids):
            nursery.start_soon(_end, url, accounts[host_handle(s)], space_id)


async def _end(url: str, account: Account, space_id: str) -> None:
    with trio.move_on_after(10):
        async with connect(url, token=account.token) as host:
            await host.join_space(space_id)
            await host.end_space()


def produced(cast: Cast, window: tuple[int, int]) -> list[tuple[int, int]]:
    """Per space, as int bitmaps (bit k: slot k): the slots of `window` its speakers sent, and the
    slots right after one that two or more of them sent (where a slot no frame named may still have
    been heard: `loadtest/coverage.py`)."""
    maps = [[int.from_bytes(m, "little") for m in pool.slot_maps()] for pool in cast.pools]
    start, end = window
    inside = ((1 << end) - 1) ^ ((1 << start) - 1)
    out = []
    for members in cast.speakers_of:
        union = overlap = 0
        for p, i in members:
            overlap |= union & maps[p][i]
            union |= maps[p][i]
        out.append((union & inside, (overlap << 1) & inside))
    return out


def speakers_summary(cast: Cast) -> dict[str, object]:
    """The speakers' side of the report: how many, what they sent, how late it left."""
    stats = [pool.stats() for pool in cast.pools]
    lags = [pool.send_lag_percentiles([50.0, 99.0, 100.0]) for pool in cast.pools]
    worst = [max(column) / 1000 for column in zip(*lags, strict=True)]  # percentiles do not add up
    ended = Counter(
        f"{s.close_code} {s.error}".strip() for pool in cast.pools for s in pool.speakers() if s.state != "joined"
    )
    return {
        "planned": sum(len(pool.speakers()) for pool in cast.pools),
        "ended_early": ended.most_common(5),  # speakers no longer in their space at the end: close code, why
        "joined_at_end": sum(s.joined for s in stats),
        "closed_by_server": sum(s.closed_by_server for s in stats),
        "sent": sum(s.sent for s in stats),
        "late_sends": sum(s.late_sends for s in stats),
        "send_lag_ms": dict(zip(("p50", "p99", "max"), worst, strict=True)),
        # How the speakers' threads ran ("realtime" where the harness may): a late send's cause.
        "scheduling": sorted({pool.scheduling() for pool in cast.pools}),
    }
