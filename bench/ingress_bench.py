"""Server CPU per speaker packet, the Rust wire against the Python transport, side by side in one run.

    python -m bench.ingress_bench [--seconds 20] [--speakers 13] [--rounds 2] [--out bench/results/ingress.json]

For each transport, a server process (`stoa serve --frames-per-message 5`) and one space with 13 speakers on
the mic (the host included), each a Python client streaming real Opus (a tone per speaker) at 50 packets a
second. The server's CPU is read per thread from /proc over `--seconds` while they are connected but silent
(the idle baseline), then over `--seconds` while they stream; CPU per packet is the difference over the
packets sent. The mix itself (13 decodes and the encodes of each tick, on the tick threads; on Trio's
worker threads with the Python transport) is the same work for both and is reported apart: the figure
that matters is everything else, reading and handing each packet to the mixer (and writing each speaker's
own stream, 10 messages a second each). Transports alternate over `--rounds` to share the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import trio

from actors.space import Role
from bench.server import cpu_delta, running_server, thread_cpu
from gateway.client import Client, connect_account
from loadtest.audio import speaker_packets

TARGET_US = 10.0


async def stream(client: Client, packets: list[bytes], go: trio.Event, stop: trio.Event, sent: list[int]) -> None:
    await go.wait()
    t0 = trio.current_time()
    seq = 0
    while not stop.is_set():
        await trio.sleep_until(t0 + seq * 0.020)
        await client.send_audio(seq, time.time_ns() // 1000, packets[seq % len(packets)])
        sent[0] += 1
        seq += 1


async def measure(transport: str, speakers: int, seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as data:
        async with running_server(Path(data), transport, "--frames-per-message", "5") as (pid, port):
            url = f"ws://127.0.0.1:{port}/"
            go, stop, sent = trio.Event(), trio.Event(), [0]
            async with trio.open_nursery() as nursery:
                clients: list[Client] = []

                async def speaker(i: int, space_id: str, *, task_status: trio.TaskStatus[None]) -> None:
                    async with connect_account(url, f"ingress{i}") as me:
                        if i:
                            await me.join_space(space_id)
                            await clients[0].set_role(me.user, Role.SPEAKER)
                        clients.append(me)
                        task_status.started()
                        await stream(me, speaker_packets(i, None, seconds=2.0), go, stop, sent)

                async with connect_account(url, "ingress0") as host:
                    space_id = (await host.create_space("Ingress bench")).space.space_id
                    clients.append(host)
                    for i in range(1, speakers):
                        await nursery.start(speaker, i, space_id)
                    nursery.start_soon(stream, host, speaker_packets(0, None, seconds=2.0), go, stop, sent)
                    await trio.sleep(1.0)
                    before = thread_cpu(pid)
                    await trio.sleep(seconds)
                    idle = cpu_delta(before, thread_cpu(pid))
                    go.set()
                    await trio.sleep(2.0)  # the space starts ticking; codecs are built
                    first, before = sent[0], thread_cpu(pid)
                    await trio.sleep(seconds)
                    busy, packets = cpu_delta(before, thread_cpu(pid)), sent[0] - first
                    stop.set()
                    await host.end_space()
                nursery.cancel_scope.cancel()
    per_packet = {
        group: (busy.get(group, 0.0) - idle.get(group, 0.0)) / packets * 1e6 for group in sorted(set(busy) | set(idle))
    }
    mix = per_packet.get("stoa-tick", 0.0) if transport == "rust" else per_packet.get("workers", 0.0)
    total = sum(per_packet.values())
    return {
        "transport": transport,
        "packets": packets,
        "seconds": seconds,
        "idle_cores": sum(idle.values()) / seconds,
        "us_per_packet_by_thread": per_packet,
        "us_per_packet_total": total,
        "us_per_packet_mix": mix,
        "us_per_packet": total - mix,
    }


def print_rows(rows: list[dict[str, object]]) -> None:
    print("| transport | packets | server CPU µs per packet (without the mix) | the mix | by thread (µs) |")
    print("|---|---|---|---|---|")
    for r in rows:
        threads = r["us_per_packet_by_thread"]
        assert isinstance(threads, dict)
        parts = ", ".join(f"{k} {v:.1f}" for k, v in threads.items())
        figures = f"{r['us_per_packet']:.1f} | {r['us_per_packet_mix']:.1f}"
        print(f"| {r['transport']} | {r['packets']:,} | {figures} | {parts} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--speakers", type=int, default=13)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/ingress.json"))
    args = parser.parse_args()
    rows = []
    for _ in range(args.rounds):
        for transport in ("rust", "python"):
            rows.append(trio.run(measure, transport, args.speakers, args.seconds))
            print_rows(rows[-1:])
    print()
    print_rows(rows)
    best = {t: min(float(r["us_per_packet"]) for r in rows if r["transport"] == t) for t in ("rust", "python")}  # type: ignore[arg-type]
    print(f"\nrust {best['rust']:.1f} µs per packet, python {best['python']:.1f}: {best['python'] / best['rust']:.0f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "load_average": load, "rows": rows}, indent=2))
    if best["rust"] >= TARGET_US:
        print(f"missed: the target is under {TARGET_US} µs per packet")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
