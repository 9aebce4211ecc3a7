"""A burst of listeners joining one space: how long until every one is in, on this checkout's server and,
with `--base`, on another checkout's (main, say) in the same run.

    python -m bench.join_bench [--listeners 2000,10000] [--base ../main] [--out bench/results/join-handshake.json]

Each listener (the harness's Rust `ListenerPool`, in this process) opens a WebSocket, says `hello` as a guest
and `join_space`, all started at once; the time is from the first connect to the last `joined`. The server
runs the Rust transport with rate limits off. A burst of 10,000 needs this process and the server each under
the 20,000 open files a process may have here.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import trio

from bench.server import running_server
from gateway.client import connect_account
from loadtest.monitor import usage
from mixer import ListenerPool

POOL_SIZE = 2500  # listeners per pool (one Rust thread each)


async def burst(listeners: int, root: Path | None) -> dict[str, object]:
    row: dict[str, object] = {}
    try:
        await _burst(listeners, root, row)
    except BaseException:  # noqa: B036 (the figures are taken: see below)
        # trio-websocket's client may fail its own close when a server's ping crosses it (it answers in
        # LOCAL_CLOSING, and its nursery cancels ours): after the figures were taken, no failure of the server's.
        if not row:
            raise
    return row


async def _burst(listeners: int, root: Path | None, row: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as data:
        async with running_server(Path(data), "rust", root=root) as (pid, port, _):
            url = f"ws://127.0.0.1:{port}/"
            async with connect_account(url, "joinhost") as host:
                space_id = (await host.create_space("Join burst")).space.space_id
                cpu0 = usage(pid)
                start = time.monotonic()
                slices = [range(first, min(listeners, first + POOL_SIZE)) for first in range(0, listeners, POOL_SIZE)]
                pools = [
                    ListenerPool("127.0.0.1", port, space_id, [f"j{i}" for i in users], connect_per_s=1e6)
                    for users in slices
                ]
                try:
                    joined = failed = 0
                    half_at = None
                    with trio.move_on_after(120):
                        while joined + failed < listeners:
                            await trio.sleep(0.01)
                            stats = [pool.stats() for pool in pools]
                            joined, failed = sum(s.joined for s in stats), sum(s.failed for s in stats)
                            if half_at is None and joined >= listeners // 2:
                                half_at = time.monotonic() - start
                    elapsed = time.monotonic() - start
                    cpu1 = usage(pid)
                finally:
                    for pool in pools:
                        pool.stop()
                assert cpu0 is not None and cpu1 is not None
                row |= {
                    "server": str(root) if root else "this checkout",
                    "listeners": listeners,
                    "joined": joined,
                    "failed": failed,
                    "seconds": round(elapsed, 3),
                    "half_joined_s": round(half_at or 0.0, 3),
                    "joins_per_s": round(joined / elapsed),
                    "server_cpu_s": round(cpu1.cpu_s - cpu0.cpu_s, 2),
                    "server_ms_per_join": round((cpu1.cpu_s - cpu0.cpu_s) / max(joined, 1) * 1000, 3),
                }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", default="2000")
    parser.add_argument("--base", type=Path, help="another checkout to measure side by side (e.g. main)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/join-handshake.json"))
    args = parser.parse_args()
    rows = []
    for n in (int(x) for x in args.listeners.split(",")):
        for root in ([args.base.resolve()] if args.base else []) + [None]:
            row = trio.run(burst, n, root)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| server | listeners | joined (failed) | all in (s) | half in (s) | joins/s | server CPU ms per join |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['server']} | {r['listeners']:,} | {r['joined']:,} ({r['failed']}) | {r['seconds']} | "
              f"{r['half_joined_s']} | {r['joins_per_s']:,} | {r['server_ms_per_join']} |")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"date": time.strftime("%Y-%m-%d"), "load_average": os.getloadavg(), "rows": rows}
    args.out.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
