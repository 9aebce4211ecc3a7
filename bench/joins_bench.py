"""Joins: a burst of listeners into one live space where 13 people are talking.

    python -m bench.joins_bench [--listeners 2000,10000] [--speakers 13] [--witnesses 40] [--base ../main]
                                [--out joins.json]

For each size: a server of its own (`bench.loop_server`, a process), a host and 12 speakers (accounts,
streaming Opus at the 20 ms pace), then at once N guest listeners from the Rust listener pool
(`mixer.ListenerPool`: connect, WebSocket upgrade, `hello`, `join_space`, as fast as it can open them) and
`--witnesses` Python listeners spread through the burst, who read their whole `joined` snapshot.

Reports joins a second, the time until all were admitted, refusals, the server's CPU (per join too), the
event loop's longest stall during the burst (and its garbage collection), then, once the pool closes every
listener at once, how long until the server held only the speakers and the longest stall of that
departure (the server's own `LoopWatch`, reported each second; its GC policy's figures are in the row
too), and whether every snapshot checked was correct: every listener of the pool admitted (its `joined`
received, none refused); and for each witness, the speakers as participants with their roles,
`listener_count` at least the listeners admitted before it asked and at most everyone, itself among the
listed arrivals, and the next event numbered `seq + 1`.

Target (issue 10): at least 3,000 joins a second, 10,000 admitted within 5 s, none refused, and no stall of
the event loop over 50 ms. Exits 1 when a snapshot is wrong or a listener refused (a missed speed target is
printed, as the machine is shared). With `--base`, each size runs first on that checkout's server (this
environment's Python with its code), then on this one's. Writes `bench/results/joins.json` (`--out`) and
the servers' logs beside it (`joins-N-server.log`, `joins-N-base-server.log`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from actors.space import Role
from bench.loop_server import Running, running
from bench.results_file import RESULTS, checkout, save
from gateway.client import Client, connect, connect_account
from loadtest.accounts import Account
from loadtest.audio import speaker_packets
from loadtest.monitor import usage
from mixer import ListenerPool

TARGET_JOINS_PER_S = 3000
TARGET_10K_S = 5.0
LOOP_REPORT_S = 1.2  # the server reports its loop once a second: this long after a moment, its second is in


@dataclass
class Witnesses:
    checked: int = 0
    wrong: list[str] = field(default_factory=list)


async def speak(client: Client, index: int, stop: trio.Event) -> None:
    """Real Opus at the 20 ms pace, stamped with its capture time."""
    packets = speaker_packets(index, None)
    start = trio.current_time()
    for seq in range(10**9):
        if stop.is_set():
            return
        await trio.sleep_until(start + seq * 0.020)
        await client.send_audio(seq, time.time_ns() // 1000, packets[seq % len(packets)])


def space_handles(speakers: int) -> list[str]:
    """The accounts of the space's host and speakers: for `loadtest.accounts.seed`, before the server starts."""
    return ["jbhost", *(f"jbspk{i}" for i in range(1, speakers))]


def as_account(url: str, handle: str, accounts: dict[str, Account] | None) -> AbstractAsyncContextManager[Client]:
    """A connection as `handle`: with its seeded token, or (None) signing up and logging in (two argon2 hashes)."""
    return connect_account(url, handle) if accounts is None else connect(url, token=accounts[handle].token)


async def run_space(
    url: str,
    speakers: int,
    stop: trio.Event,
    accounts: dict[str, Account] | None,
    *,
    task_status: trio.TaskStatus[tuple[str, str, set[str | None]]],
) -> None:
    """A space with `speakers` people on the mic (the host first), all talking until `stop`; then the host
    ends it. Reports (space id, host, who is on the mic) once everyone talks."""
    async with as_account(url, "jbhost", accounts) as host, trio.open_nursery() as nursery:
        space_id = (await host.create_space("Burst")).space.space_id
        on_mic: set[str | None] = {host.user}
        nursery.start_soon(speak, host, 0, stop)

        async def speaker(i: int, *, task_status: trio.TaskStatus[None]) -> None:
            async with as_account(url, f"jbspk{i}", accounts) as me:
                await me.join_space(space_id)
                await host.set_role(me.user, Role.SPEAKER)
                on_mic.add(me.user)
                task_status.started()
                await speak(me, i, stop)

        for i in range(1, speakers):
            await nursery.start(speaker, i)
        task_status.started((space_id, str(host.user), on_mic))
        await stop.wait()
        with trio.move_on_after(5):
            await host.end_space()


async def witness(
    url: str, name: str, space_id: str, pool: ListenerPool, expect: dict[str, object], seen: Witnesses
) -> None:
    admitted_before = pool.stats().joined
    try:
        async with connect(url, name, connect_timeout=60) as me:
            snapshot = (await me.join_space(space_id)).space
            with trio.fail_after(10):
                event = await me.next_event()
    except Exception as error:  # a witness that could not join is a failure too, reported with the others
        seen.checked += 1
        seen.wrong.append(f"{name}: {error!r}")
        return
    wrong = []
    participants = {(x.user, x.role) for x in snapshot.participants}
    if {u for u, _ in participants} != expect["on_mic"] or (expect["host"], Role.HOST) not in participants:
        wrong.append(f"participants {sorted(participants)}")
    if not admitted_before + 1 <= snapshot.listener_count <= int(expect["everyone"]):  # type: ignore[call-overload]
        wrong.append(f"listener_count {snapshot.listener_count} with {admitted_before} admitted before")
    if me.user not in {x.user for x in snapshot.listeners}:
        wrong.append("not among the listed arrivals")
    if getattr(event, "seq", None) != snapshot.seq + 1:
        wrong.append(f"first event {event!r} after snapshot seq {snapshot.seq}")
    seen.checked += 1
    seen.wrong.extend(f"{name}: {w}" for w in wrong)


def longest_stall(seconds: list[dict[str, object]], key: str = "worst_stall_ms") -> float:
    """The server's own loop watch, per second: the longest stall (`key`: or its garbage collection, or the
    loop thread's CPU time in it, less than the stall when the OS ran other threads meanwhile)."""
    worst = max(seconds, key=lambda second: float(second["worst_stall_ms"]), default=None)  # type: ignore[arg-type]
    return round(float(worst[key]), 1) if worst is not None else 0.0  # type: ignore[arg-type]


async def departed(server: Running, speakers: int, since: float) -> float | None:
    """Seconds from `since` until the server holds no more than the speakers' connections (its own count,
    reported once a second), or None if that took over 30 s."""
    with trio.move_on_after(30):
        while not server.lines or int(server.lines[-1]["connections"]) > speakers:  # noqa: ASYNC110 (the server reports once a second)
            await trio.sleep(0.1)
        return round(float(server.lines[-1]["t"]) - since, 1)
    return None


async def burst(
    server: Running,
    listeners: int,
    speakers: int,
    witnesses: int,
    accounts: dict[str, Account] | None = None,
    loop_report_s: float = LOOP_REPORT_S,
) -> dict[str, object]:
    """`accounts`: the host's and speakers' (`space_handles`), seeded in the server's store before it started;
    None: each signs up and logs in through the protocol. `loop_report_s`: how long to wait after the burst and
    after the departure for the server's report of the second that held its end (0: the stall figures go
    without it)."""
    stop = trio.Event()
    seen = Witnesses()
    async with trio.open_nursery() as nursery:
        space_id, host, on_mic = await nursery.start(run_space, server.url, speakers, stop, accounts)
        await trio.sleep(2.0)  # the speakers' audio flowing
        expect = {"on_mic": on_mic, "host": host, "everyone": listeners + witnesses}
        before, started = usage(server.proc.pid), time.monotonic()
        started_at = time.time()
        users = [f"b{i}" for i in range(listeners)]
        pool = ListenerPool("127.0.0.1", server.port, space_id, users, connect_per_s=1e6)
        every = max(1, listeners // max(1, witnesses))
        async with trio.open_nursery() as watchers:
            next_witness = 0
            while True:
                stats = pool.stats()
                while next_witness < witnesses and stats.joined + stats.failed >= next_witness * every:
                    watchers.start_soon(witness, server.url, f"w{next_witness}", space_id, pool, expect, seen)
                    next_witness += 1
                if stats.joined + stats.failed >= listeners and next_witness >= witnesses:
                    break
                await trio.sleep(0.005)
            took = time.monotonic() - started
            after = usage(server.proc.pid)
        finished_at = time.time()
        stats = pool.stats()
        refusals: dict[str, int] = {}
        for listener in pool.listeners():
            if listener.error:
                refusals[listener.error] = refusals.get(listener.error, 0) + 1
        await trio.sleep(loop_report_s)  # the second that held the burst's end is reported
        leaving_at = time.time()
        await trio.to_thread.run_sync(pool.stop)
        departure_s = await departed(server, speakers, leaving_at)
        await trio.sleep(loop_report_s)  # and the second that held the departure's end
        stop.set()
    burst_seconds = server.loop_between(started_at, finished_at + 1.1)
    departure_seconds = server.loop_between(leaving_at, time.time())
    cpu_s = (after.cpu_s - before.cpu_s) if after and before else None
    return {
        "listeners": listeners,
        "speakers": speakers,
        "admitted": stats.joined,
        "refused": stats.failed,
        "refusals": refusals,
        "seconds_to_admit_all": round(took, 2),
        "joins_per_s": round(listeners / took),
        "server_cpu_s": cpu_s,
        "server_cpu_us_per_join": round(cpu_s / listeners * 1e6) if cpu_s else None,
        "longest_stall_ms": longest_stall(burst_seconds),
        "longest_stall_gc_ms": longest_stall(burst_seconds, "worst_stall_gc_ms"),
        "longest_stall_cpu_ms": longest_stall(burst_seconds, "worst_stall_cpu_ms"),
        "departure_s": departure_s,
        "departure_longest_stall_ms": longest_stall(departure_seconds),
        "departure_longest_stall_gc_ms": longest_stall(departure_seconds, "worst_stall_gc_ms"),
        "gc_policy": server.lines[-1].get("gc") if server.lines else None,
        "load_average": round(os.getloadavg()[0], 1),
        "witnesses_checked": seen.checked,
        "snapshot_errors": seen.wrong[:20],
    }


async def run(sizes: list[int], speakers: int, witnesses: int, base: Path | None, out: Path) -> list[dict[str, object]]:
    rows = []
    for n in sizes:
        for root in [base, None] if base else [None]:
            name = f"{out.stem}-{n}-server.log" if root is None else f"{out.stem}-{n}-base-server.log"
            with tempfile.TemporaryDirectory() as data:
                async with running(Path(data), RESULTS / name, root=root) as server:
                    row = await burst(server, n, speakers, witnesses)
            rows.append({"server": checkout(root), **row})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", default="2000,10000")
    parser.add_argument("--speakers", type=int, default=13)
    parser.add_argument("--witnesses", type=int, default=40)
    parser.add_argument("--base", type=Path, help="another checkout's server (main, say), measured just before")
    parser.add_argument("--out", default="joins.json", help="the results file's name, in bench/results")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    base, out = (args.base.resolve() if args.base else None), RESULTS / args.out
    rows = trio.run(run, [int(n) for n in args.listeners.split(",")], args.speakers, args.witnesses, base, out)
    save(args.out, rows)  # with the command, date and commit
    wrong = [row for row in rows if row["refused"] or row["snapshot_errors"] or row["admitted"] != row["listeners"]]
    for row in rows:
        fast = row["joins_per_s"] >= TARGET_JOINS_PER_S  # type: ignore[operator]
        verdict = "met" if fast else "missed"
        who = f"{row['server']}, {row['listeners']} joins"
        print(f"{who}: {row['joins_per_s']}/s, target {TARGET_JOINS_PER_S}/s: {verdict}")
    if wrong:
        print("snapshots wrong or listeners refused:", json.dumps(wrong, indent=2))
        sys.exit(1)


if __name__ == "__main__":
    main()
