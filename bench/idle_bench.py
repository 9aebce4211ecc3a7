"""Idle costs nothing: what 10,000 live spaces where nobody talks cost one server.

    python -m bench.idle_bench [--spaces 10000] [--seconds 5]

The real `SpaceDirectory` with the real Rust fan-out (each space a supervised actor with its host on the
mic, its Rust mixer, its driver on the server's tick pool), in this process. Measured against the same
directory with no space: resident memory (VmRSS) beyond it, per space; OS threads beyond it; and the
process's CPU share while the spaces sit silent for `--seconds`; and Trio tasks per space. Two more
phases split the figure: the Rust audio plane alone (mixer with one input, driver, two fan-out groups),
and the actor alone (a do-nothing TRANSIENT child with its own restart budget under one shared
supervisor, as each space is), each made as many times.

Targets (from the trust issue): at most 10 KiB a space (100 MiB for 10,000), no thread per space, under 2%
of a core. Prints each figure beside its target and whether it is met; exits 1 if any is not.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

import trio

from actors.runtime import Actor, ChildSpec, Context, Restart, RestartIntensity, Supervisor, open_supervisor
from actors.space import SpaceDirectory
from mixer import Fanout, Mixer, SpaceDriver, TickPool

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_BYTES_PER_SPACE = 10 * 1024
TARGET_CPU_SHARE = 0.02
TARGET_THREADS_PER_SPACE = 0


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def settled_rss() -> int:
    gc.collect()
    return rss_bytes()


def audio_plane(spaces: int, fanout: Fanout, pool: TickPool) -> tuple[list[object], int]:
    """What the Rust side of `spaces` silent spaces holds: returns the objects (kept alive) and the bytes."""
    before = settled_rss()
    kept: list[object] = []
    for _ in range(spaces):
        mixer = Mixer()
        mixer.add_input(1)
        everyone, audience = fanout.new_group(), fanout.new_group()
        kept.append((mixer, SpaceDriver(pool, mixer, fanout, audience), everyone))
    return kept, settled_rss() - before


class Idle(Actor):
    async def handle(self, message: object, ctx: Context) -> object:
        return None


async def shared_supervisor(*, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED) -> None:
    async with open_supervisor(name="idle") as supervisor:
        task_status.started(supervisor)
        await trio.sleep_forever()


async def idle_actors(spaces: int, nursery: trio.Nursery) -> int:
    """The bytes of `spaces` idle actors, each a child of one supervisor (which runs in `nursery`)."""
    before = settled_rss()
    supervisor: Supervisor = await nursery.start(shared_supervisor)
    budget = RestartIntensity()
    for i in range(spaces):
        spec = ChildSpec(id=f"idle{i}", start=Idle, restart=Restart.TRANSIENT, mailbox_size=256, intensity=budget)
        await supervisor.start_child(spec)
    await trio.sleep(0.5)
    return settled_rss() - before


def trio_tasks() -> int:
    """Every task of this Trio run."""
    root = trio.lowlevel.current_root_task()
    assert root is not None, "called inside trio.run"
    count, pending = 0, [root]
    while pending:
        task = pending.pop()
        count += 1
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return count


async def measure(spaces: int, seconds: float) -> dict[str, object]:
    fanout = Fanout()
    async with trio.open_nursery() as nursery:
        directory = SpaceDirectory(nursery, fanout)
        await directory.create("warm-up", "warm-up")  # the first space's one-time costs (imports, caches)
        await trio.sleep(0.5)
        rss_empty, threads_empty, tasks_empty = settled_rss(), os_threads(), trio_tasks()
        started = time.monotonic()
        for i in range(spaces):
            await directory.create(f"host{i}", f"Silent space {i}")
        created_s = time.monotonic() - started
        await trio.sleep(1.0)  # let every actor settle into waiting for its mailbox
        rss_full, threads_full, tasks_full = settled_rss(), os_threads(), trio_tasks()
        cpu0, wall0 = time.process_time(), time.monotonic()
        await trio.sleep(seconds)
        cpu_share = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        talking = directory.tick_pool.talking if directory.tick_pool is not None else 0
        # The split, made after the measurement and kept alive beside it, so no phase reuses memory
        # another freed.
        kept, plane_bytes = audio_plane(spaces, fanout, TickPool(threads=1))
        actor_bytes = await idle_actors(spaces, nursery)
        nursery.cancel_scope.cancel()
    fanout.shutdown()
    del kept
    per_space = (rss_full - rss_empty) / spaces
    threads = threads_full - threads_empty
    return {
        "spaces": spaces,
        "create_s": round(created_s, 2),
        "rss_empty_mib": round(rss_empty / 2**20, 1),
        "rss_beyond_empty_mib": round((rss_full - rss_empty) / 2**20, 1),
        "bytes_per_space": round(per_space),
        "rust_audio_plane_bytes_per_space": round(plane_bytes / spaces),
        "idle_actor_bytes_per_space": round(actor_bytes / spaces),
        "trio_tasks_per_space": round((tasks_full - tasks_empty) / spaces, 2),
        "os_threads_beyond_empty": threads,
        "os_threads_total": threads_full,
        "spaces_in_tick_queue": talking,
        "cpu_share": round(cpu_share, 5),
        "seconds": seconds,
        "met": {
            "bytes_per_space": per_space <= TARGET_BYTES_PER_SPACE,
            "threads_per_space": threads <= TARGET_THREADS_PER_SPACE,
            "cpu_share": cpu_share < TARGET_CPU_SHARE,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spaces", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    row = trio.run(measure, args.spaces, args.seconds)
    met = row["met"]
    assert isinstance(met, dict)
    print(f"{row['spaces']:,} live silent spaces (created in {row['create_s']} s):")
    print(f"  memory beyond the empty server: {row['rss_beyond_empty_mib']} MiB, {row['bytes_per_space']:,} B a space"
          f" (target <= {TARGET_BYTES_PER_SPACE:,}): {'met' if met['bytes_per_space'] else 'NOT met'}")  # fmt: skip
    print(f"    the Rust audio plane alone (mixer, driver, groups): {row['rust_audio_plane_bytes_per_space']:,} B")
    print(f"    an idle actor alone (a child of one shared supervisor): {row['idle_actor_bytes_per_space']:,} B")
    print(f"  Trio tasks per space: {row['trio_tasks_per_space']}")
    print(f"  OS threads beyond the empty server: {row['os_threads_beyond_empty']} (target: none per space):"
          f" {'met' if met['threads_per_space'] else 'NOT met'}")  # fmt: skip
    print(f"  CPU over {row['seconds']} s of silence: {float(str(row['cpu_share'])) * 100:.3f}% of a core"
          f" (target < {TARGET_CPU_SHARE * 100:.0f}%): {'met' if met['cpu_share'] else 'NOT met'}")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "idle.json").write_text(json.dumps(row, indent=2) + "\n")
    sys.exit(0 if all(met.values()) else 1)


if __name__ == "__main__":
    main()
