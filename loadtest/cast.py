"""The people who talk in a load test: per space a host (a Python client) and its speakers (one
compiled `SpeakerPool` for every space), on one capture clock.

Order: each host creates its space; the speakers connect with their accounts' tokens and join;
each host puts its speakers on the mic and leaves (a host does not talk, and a Python client
reading a space's audio would cost the harness more than its speakers do); the clock starts. At
the end, each host comes back and ends its space (an account hosts one live space at a time, so a
later run on the same data can start again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio

from actors.space import Role
from gateway.client import connect
from loadtest.accounts import Account
from loadtest.speech import Script
from mixer import SpeakerPool

CLOCK_LEAD_S = 0.3  # the clock's slot 0 starts this long after every speaker is on the mic
JOIN_TIMEOUT_S = 60.0


@dataclass
class Cast:
    space_ids: list[str]
    pool: SpeakerPool
    speakers_of: list[list[int]]  # per space, the indices of its speakers in the pool
    t0_us: int


def host_handle(space: int) -> str:
    return f"host{space}"


def speaker_handle(space: int, index: int) -> str:
    return f"spk{space}_{index}"


async def open_cast(
    url: str, accounts: dict[str, Account], scripts_of: list[list[Script]], clock_slots: int
) -> Cast:
    """`scripts_of[s]` is space s's speakers' scripts, one per speaker."""
    where = urlsplit(url)
    space_ids: list[str] = []
    promote, promoted = trio.Event(), trio.Semaphore(0)
    speakers: list[tuple[str, str, str, int]] = []
    scripts: list[Script] = []
    speakers_of: list[list[int]] = []
    async with trio.open_nursery() as nursery:
        for s, space_scripts in enumerate(scripts_of):
            users = [accounts[speaker_handle(s, i)].user for i in range(len(space_scripts))]
            space_ids.append(await nursery.start(_host, url, accounts[host_handle(s)], s, users, promote, promoted))
            speakers_of.append([])
            for i, script in enumerate(space_scripts):
                account = accounts[speaker_handle(s, i)]
                speakers_of[-1].append(len(speakers))
                speakers.append((account.handle, account.token, space_ids[-1], len(scripts)))
                scripts.append(script)
        address = (where.hostname or "127.0.0.1", where.port or 80)
        pool = SpeakerPool(*address, speakers, scripts, clock_slots=clock_slots, connect_per_s=500.0)
        with trio.fail_after(JOIN_TIMEOUT_S):
            while (stats := pool.stats()).connecting:  # noqa: ASYNC110 (the Rust pool has no event to wait on)
                await trio.sleep(0.05)
        if stats.joined != len(speakers):
            failed = [(s.user, s.error) for s in pool.speakers() if s.state != "joined"]
            pool.stop()
            raise RuntimeError(f"speakers could not join: {failed[:5]}")
        promote.set()
        for _ in scripts_of:
            await promoted.acquire()
    t0_us = (int(time.time() * 1e6) // 1000 + int(CLOCK_LEAD_S * 1000)) * 1000
    pool.start_speaking(t0_us)
    return Cast(space_ids, pool, speakers_of, t0_us)


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


def produced(cast: Cast, window: tuple[int, int]) -> list[int]:
    """Per space, the slots of `window` its speakers sent, as an int bitmap (bit k: slot k)."""
    maps = [int.from_bytes(m, "little") for m in cast.pool.slot_maps()]
    start, end = window
    inside = ((1 << end) - 1) ^ ((1 << start) - 1)
    out = []
    for members in cast.speakers_of:
        union = 0
        for i in members:
            union |= maps[i]
        out.append(union & inside)
    return out
