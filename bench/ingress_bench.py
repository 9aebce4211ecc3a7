"""Server CPU per speaker packet, the Rust wire against the Python transport and the C floor, side by side.

    python -m bench.ingress_bench [--seconds 20] [--speakers 13] [--rounds 2] [--transports rust,python]
        [--readers realtime,normal] [--floor-speakers 200] [--floor-together 13] [--out bench/results/ingress.json]

For each transport, a server process (`stoa serve --frames-per-message 5`) and one space with 13 speakers on
the mic (the host included), each a Python client streaming real Opus (a tone per speaker) at 50 packets a
second, their starts spread evenly over the 20 ms (as people's are: each packet then arrives alone). The
server's CPU is read per thread from /proc (schedstat, in ns) over `--seconds` while they are connected but
silent (the idle baseline), then over `--seconds` while they stream; CPU per packet is the difference over
the packets sent, and so are each thread's context switches (a wake-up from `epoll_wait` is one).

The figure the target is about is reading each packet into the mixer: the reader thread (with the Python
transport, the event loop, which also decodes, pushes and writes). The mix (13 decodes and the encodes of
each tick, on the tick threads; on Trio's worker threads with the Python transport) is the same work for
both and is reported apart, as is the fan-out's writing of each speaker's own stream (10 messages a second
each: listener output, whose cost the fan-out benchmark measures per listener-frame).

Each round also runs `bench/ingress_floor.c` (built here with gcc): a plain C program reading as many
loopback TCP sockets, each sent a packet of the same size every 20 ms with the same spread, with one
recv() per packet and nothing else, scheduled as the reader is (`--readers`: the server's default,
`realtime`, is SCHED_FIFO; `normal` runs it as any thread), twice: waiting in epoll and reading each packet
as it arrives (a wake-up per packet: what the kernel charges any reader that handles each packet as it
comes on this machine), and reading every socket at a 20 ms timer (a wake-up per 20 ms for them all: what
the wire's reader does for speakers it parks for their space's tick). The reader's ratio to each is
reported, and the share of its reads made at a tick. `--floor-speakers` adds floor runs at other rates (200
speakers: the 10,000 packets a second of `bench.spaces_bench`'s 200 spaces); `--floor-together 13` one
where the 13 packets of each 20 ms arrive at once and are read as they arrive.
Transports alternate over `--rounds` to share the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import trio

from actors.space import Role
from bench import floor
from bench.results_file import write
from bench.server import cpu_delta, running_server, thread_cpu, thread_wakes
from gateway.client import Client, connect_account
from loadtest.audio import speaker_packets
from loadtest.monitor import scrape

TARGET_US = 10.0
ACCEPTED = "stoa_speaker_packets_accepted_total"
AT_TICK = "stoa_wire_audio_at_tick_total"
GAPS, SKIPPED = "stoa_concealed_gap_frames_total", "dropped_skipped"
MAX_MISSED_SHARE = 0.001  # packets that missed their tick: a reader cheaper for reading late is no better
MIN_ACCEPTED_SHARE = 0.99  # a server that read fewer of the packets sent would look cheaper than it is


def message_bytes(speakers: int) -> int:
    """The mean size of the speakers' `audio` messages on the wire: a masked WebSocket frame around the map."""
    sizes = []
    for i in range(speakers):
        for seq, opus in enumerate(speaker_packets(i, None, seconds=2.0)):
            message = {"type": "audio", "seq": seq, "captured_at": time.time_ns() // 1000, "opus": opus}
            body = len(msgpack.packb(message))
            sizes.append(body + (6 if body < 126 else 8))
    return round(sum(sizes) / len(sizes))


def c_floor(
    binary: Path, speakers: int, seconds: float, size: int, scheduling: str, together: int = 1, reads: str = "arrival"
) -> dict[str, object]:
    fifo = "fifo" if scheduling == "realtime" else "normal"
    command = [str(binary), str(speakers), str(seconds), str(size), str(together), fifo, reads]
    out = subprocess.run(command, check=True, capture_output=True)
    return dict(json.loads(out.stdout), transport="c-floor")


async def stream(
    client: Client, packets: list[bytes], go: trio.Event, stop: trio.Event, sent: list[int], phase: float
) -> None:
    await go.wait()
    t0 = trio.current_time() + phase
    seq = 0
    while not stop.is_set():
        await trio.sleep_until(t0 + seq * 0.020)
        await client.send_audio(seq, time.time_ns() // 1000, packets[seq % len(packets)])
        sent[0] += 1
        seq += 1


async def measure(transport: str, speakers: int, seconds: float, scheduling: str) -> dict[str, object]:
    realtime = "on" if scheduling == "realtime" else "off"
    with tempfile.TemporaryDirectory() as data:
        args = ["--frames-per-message", "5", "--realtime-reader", realtime]
        async with running_server(Path(data), transport, *args) as (pid, port, metrics):
            url = f"ws://127.0.0.1:{port}/"
            go, stop, sent = trio.Event(), trio.Event(), [0]
            spread = 0.020 / speakers
            async with trio.open_nursery() as nursery:
                clients: list[Client] = []

                async def speaker(i: int, space_id: str, *, task_status: trio.TaskStatus[None]) -> None:
                    async with connect_account(url, f"ingress{i}") as me:
                        if i:
                            await me.join_space(space_id)
                            await clients[0].set_role(me.user, Role.SPEAKER)
                        clients.append(me)
                        task_status.started()
                        await stream(me, speaker_packets(i, None, seconds=2.0), go, stop, sent, i * spread)

                async with connect_account(url, "ingress0") as host:
                    space_id = (await host.create_space("Ingress bench")).space.space_id
                    clients.append(host)
                    for i in range(1, speakers):
                        await nursery.start(speaker, i, space_id)
                    nursery.start_soon(stream, host, speaker_packets(0, None, seconds=2.0), go, stop, sent, 0.0)
                    await trio.sleep(1.0)
                    before = thread_cpu(pid)
                    await trio.sleep(seconds)
                    idle = cpu_delta(before, thread_cpu(pid))
                    go.set()
                    await trio.sleep(2.0)  # the space starts ticking; codecs are built
                    scraped = await trio.to_thread.run_sync(scrape, metrics)
                    taken, at_tick = scraped.get(ACCEPTED, 0.0), scraped.get(AT_TICK, 0.0)
                    missed = scraped.get(GAPS, 0.0) + scraped.get(SKIPPED, 0.0)
                    first, before, woken = sent[0], thread_cpu(pid), thread_wakes(pid)
                    await trio.sleep(seconds)
                    busy, packets = cpu_delta(before, thread_cpu(pid)), sent[0] - first
                    wakes = cpu_delta(woken, thread_wakes(pid))
                    # What the mixers took over the window (its edges a scrape wider): per packet sent is honest
                    # only if the server did read them.
                    scraped = await trio.to_thread.run_sync(scrape, metrics)
                    taken = scraped.get(ACCEPTED, 0.0) - taken
                    at_tick = scraped.get(AT_TICK, 0.0) - at_tick
                    missed = scraped.get(GAPS, 0.0) + scraped.get(SKIPPED, 0.0) - missed
                    if not sum(busy.values()):
                        raise SystemExit("no CPU time read from /proc/PID/task/*/schedstat: this kernel does not say")
                    stop.set()
                    await host.end_space()
                nursery.cancel_scope.cancel()
    per_packet = {
        group: (busy.get(group, 0.0) - idle.get(group, 0.0)) / packets * 1e6 for group in sorted(set(busy) | set(idle))
    }
    mix = per_packet.get("stoa-tick", 0.0) if transport == "rust" else per_packet.get("workers", 0.0)
    total = sum(per_packet.values())
    # Reading each packet into the mixer: the reader thread's work, and the event loop's if it did any more
    # streaming than silent (with the Rust wire it should not: a negative difference is the loop's own noise).
    reading_thread = "stoa-wire" if transport == "rust" else "main"
    reading = per_packet.get(reading_thread, 0.0)
    if transport == "rust":
        reading += max(per_packet.get("main", 0.0), 0.0)
    return {
        "transport": transport,
        "scheduling": scheduling,
        "packets": packets,
        "accepted_share": taken / packets,
        "at_tick_share": at_tick / packets,
        # Packets that missed their tick: concealed inside a talk spurt, or skipped from a standing queue.
        "missed_tick_share": missed / packets,
        "seconds": seconds,
        "idle_cores": sum(idle.values()) / seconds,
        "us_per_packet_by_thread": per_packet,
        "wakes_per_packet_by_thread": {group: n / packets for group, n in sorted(wakes.items())},
        "us_per_packet_total": total,
        "us_per_packet_mix": mix,
        "us_per_packet": total - mix,
        "us_per_packet_reading": reading,
        "wakes_per_packet_reading": wakes.get(reading_thread, 0.0) / packets,
    }


def floor_name(row: dict[str, object]) -> str:
    together = int(row["together"])  # type: ignore[call-overload]
    name = f"c-floor, {row['speakers']} speakers" + (f", {together} together" if together > 1 else "")
    return name + (", read at ticks" if row.get("reads") == "tick" else "")


def print_rows(rows: list[dict[str, object]]) -> None:
    print(
        "| transport | reader | packets | reading, µs a packet | its wake-ups a packet | all but the mix | the mix"
        " | by thread (µs) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        transport = floor_name(r) if r["transport"] == "c-floor" else r["transport"]
        head = f"| {transport} | {r['scheduling']} | {r['packets']:,}"
        if r["transport"] == "c-floor":
            print(f"{head} | {r['us_per_packet']:.1f} | {r['wakes_per_packet']:.2f} | | | |")
            continue
        threads = r["us_per_packet_by_thread"]
        assert isinstance(threads, dict)
        parts = ", ".join(f"{k} {v:.1f}" for k, v in threads.items()) + f"; mixers took {r['accepted_share']:.1%}"
        parts += f", read at a tick {r['at_tick_share']:.0%}, missed their tick {r['missed_tick_share']:.2%}"
        reading = f"{r['us_per_packet_reading']:.1f} | {r['wakes_per_packet_reading']:.2f}"
        figures = f"{r['us_per_packet']:.1f} | {r['us_per_packet_mix']:.1f}"
        print(f"{head} | {reading} | {figures} | {parts} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--speakers", type=int, default=13)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/ingress.json"))
    parser.add_argument("--transports", default="rust,python", help="which, in this order each round")
    parser.add_argument("--readers", default="realtime", help="the Rust reader's scheduling: realtime, normal")
    parser.add_argument(
        "--floor-speakers", default="", help="more C floor runs, at these many speakers (200: 10,000 packets a second)"
    )
    parser.add_argument(
        "--floor-together",
        type=int,
        default=1,
        help="one more C floor run, its speakers' packets arriving this many at a time (what a reader woken once "
        "for all of a space's packets would pay)",
    )
    args = parser.parse_args()
    binary, size = floor.build("ingress_floor"), message_bytes(args.speakers)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    readers = args.readers.split(",")
    plan = [(t, r, args.speakers, 1) for t in args.transports.split(",") for r in (readers if t == "rust" else ["-"])]
    plan += [
        ("c-floor", r, n, 1)
        for n in dict.fromkeys([args.speakers, *map(int, filter(None, args.floor_speakers.split(",")))])
        for r in readers
    ]
    if args.floor_together > 1:
        plan += [("c-floor", r, args.speakers, args.floor_together) for r in readers]
    plan += [("c-floor-tick", r, args.speakers, 1) for r in readers]
    rows: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for transport, scheduling, speakers, together in plan:
            if transport.startswith("c-floor"):
                reads = "tick" if transport == "c-floor-tick" else "arrival"
                rows.append(c_floor(binary, speakers, args.seconds, size, scheduling, together, reads))
            else:
                rows.append(trio.run(measure, transport, args.speakers, args.seconds, scheduling))
            rows[-1]["load_average_after"] = round(os.getloadavg()[0], 2)
            print_rows(rows[-1:])
    print()
    print_rows(rows)
    write(args.out, rows, started=started, load_average=os.getloadavg())
    if not verdict(rows, readers, args.speakers):
        raise SystemExit(1)


def verdict(rows: list[dict[str, Any]], readers: list[str], speakers: int) -> bool:
    """Prints the run's figures side by side; whether the Rust reader met the target, having read what was sent."""
    reading: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        us = r["us_per_packet" if r["transport"] == "c-floor" else "us_per_packet_reading"]
        name = floor_name(r) if r["transport"] == "c-floor" else str(r["transport"])
        reading.setdefault((name, str(r["scheduling"])), []).append(float(us))
    figures = "; ".join(f"{t} ({s}) {', '.join(f'{us:.1f}' for us in v)}" for (t, s), v in reading.items())
    print(f"\nreading a packet, µs: {figures}")
    for scheduling in readers:
        if ("rust", scheduling) not in reading:
            continue
        for reads, suffix in (("read as they arrive", ""), ("read at ticks", ", read at ticks")):
            floors = reading[f"c-floor, {speakers} speakers{suffix}", scheduling]
            pairs = zip(reading["rust", scheduling], floors, strict=True)
            ratios = ", ".join(f"{w / f:.2f}x" for w, f in pairs)
            print(f"the Rust reader ({scheduling}) against the C floor so scheduled, {reads}, each round: {ratios}")
    # Like for like: the Python event loop reads each packet and writes each speaker's stream; the Rust server
    # does the same on its reader and fan-out threads.
    both = {
        t: [
            r["us_per_packet_reading"] + r["us_per_packet_by_thread"].get("stoa-fanout", 0.0)
            for r in rows
            if r["transport"] == t
        ]
        for t in ("rust", "python")
    }
    if both["rust"] and both["python"]:
        print(
            f"reading and writing the speakers' streams, python / rust: {min(both['python']) / min(both['rust']):.1f}x"
        )
    short = [r for r in rows if r["transport"] != "c-floor" and r["accepted_share"] < MIN_ACCEPTED_SHARE]
    for r in short:
        print(
            f"not measured: the mixers took {r['accepted_share']:.1%} of the packets sent"
            f" ({r['transport']}, {r['scheduling']})"
        )
    late = [r for r in rows if r["transport"] != "c-floor" and r["missed_tick_share"] > MAX_MISSED_SHARE]
    for r in late:
        share, who = r["missed_tick_share"], f"{r['transport']}, {r['scheduling']}"
        print(f"late: {share:.2%} of the packets missed their tick ({who})")
    short += late
    # The target holds if every round of the first reader asked for (the server's default: realtime) is under it.
    rust = reading.get(("rust", readers[0]), [])
    if rust and max(rust) >= TARGET_US:
        print(f"missed: the target is under {TARGET_US} µs per packet in every round ({readers[0]} reader)")
    return not short and (not rust or max(rust) < TARGET_US)


if __name__ == "__main__":
    main()
