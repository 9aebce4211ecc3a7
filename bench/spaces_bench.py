"""Many real conversations: how many spaces, each with 3 speakers taking turns on recorded speech (some
overlap, as people do; the host is one of them) and 50 listeners, one machine holds.

    python -m bench.spaces_bench [--spaces 25,50,100,200] [--listeners 50] [--duration 20] [--frames-per-message auto]
                                 [--levels on|off|on,off] [--phases 0] [--realtime-reader on|off|on,off]
                                 [--fanout-writers 2] [--base ../other-checkout]

Each size is a `stoa load --speech conversation` run with a server started for it. A size **holds** when
every listener planned heard at least 99.9% of what was said in the window (coverage, docs/operations.md)
and p99 latency from capture to arrival is under 250 ms. The server batches as `stoa serve` does (`auto`:
frames per message from the talking spaces' audiences together, docs/operations.md) unless
`--frames-per-message N` fixes N. The harness shares the machine's 2 cores with the server: its compiled
speakers (one thread for the hosts, one for the other speakers) and listeners (one thread in each worker
process, docs/operations.md) use CPU the server would otherwise have; the report gives the harness's CPU
beside the server's, and the machine's load average before each run (other work on a shared machine
shows there).

Each space's conversation starts at its own point of the loop (`--phases 0`), as unrelated
conversations do: their overlaps, which cost the server a decode per voice and an encode per tick
where a lone talker who sends levels costs nothing, then come at any time. `--phases N` puts the spaces in N groups
that talk, overlap and pause on the same ticks (200 spaces, 4 groups: 50 overlaps begin on one tick),
the worst case of the same load.

The speakers send each packet's `level` (docs/protocol.md, `audio`), as the web and Python clients do, so
the server decodes only the packets it mixes (`--levels off`: none sent, every packet decoded, as a client
that does not measure its microphone; `on,off` runs both for each size, one after the other).

The server's reader thread asks to run first, as `stoa serve` does by default (`--realtime-reader on`,
docs/operations.md, The reader's scheduling); `off` runs it as any thread, `on,off` both, one after the
other (within each size and `--levels` choice). `--fanout-writers` sets the server's writer threads (2, as
`stoa serve`); a list (`1,2`) runs each in turn, innermost.

`--base DIR` runs, before each of this checkout's runs, the same one with the server of another checkout
(`git worktree add ../base REV`, its extension built there by `make setup`): two commits side by side in
one run, each row naming its server and commit (`server`), so that a change is judged against what it
changed on the same machine at nearly the same time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from bench.batching_load import frames_per_message as frames_seen
from bench.results_file import RESULTS, checkout, save
from bench.server import cpu_delta, thread_cpu
from loadtest.run import LoadConfig, RunHandles, run
from loadtest.speech import conversation


def children_cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def thread_cores(seconds: float, into: dict[str, float]) -> Callable[[RunHandles], Awaitable[None]]:
    """For `LoadConfig.during_window`: the server's cores by thread group over the window's first `seconds`
    (the tick pool, the fan-out's writer, the wire's reader, the event loop), put `into`."""

    async def measure(handles: RunHandles) -> None:
        if handles.server_pid is None:
            return
        before, t0 = thread_cpu(handles.server_pid), time.monotonic()
        await trio.sleep(seconds)
        used = cpu_delta(before, thread_cpu(handles.server_pid))
        into.update({group: round(cpu / (time.monotonic() - t0), 3) for group, cpu in sorted(used.items())})

    return measure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spaces", default="25,50,100,200")
    parser.add_argument("--listeners", type=int, default=50, help="per space")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--frames-per-message", default="auto", help='"auto" (the server\'s default) or 1 to 10')
    parser.add_argument("--levels", default="on", help='"on", "off", or "on,off" (both, side by side)')
    parser.add_argument(
        "--phases", type=int, default=0, help="0: each conversation on its own timing; N: spaces in N lockstep groups"
    )
    parser.add_argument(
        "--realtime-reader", default="on", choices=["on", "off", "on,off"], help="the server's setting; on,off: both"
    )
    parser.add_argument(
        "--fanout-writers", default="2", help="the server's writer threads (as stoa serve: 2); 1,2: each in turn"
    )
    parser.add_argument(
        "--base",
        type=Path,
        help="another checkout (its extension built) whose server runs before this one's at every size, side by side",
    )
    parser.add_argument("--results", default="spaces.json", help="file name under bench/results/")
    args = parser.parse_args()
    rows = []
    sizes, choices = map(int, args.spaces.split(",")), args.levels.split(",")
    script = conversation()
    packets_per_slot = sum(len(packets) for packets, _ in script) / len(script[0][1])  # a space's, on average
    readers = args.realtime_reader.split(",")
    writer_counts = [int(count) for count in args.fanout_writers.split(",")]
    roots = ([args.base.resolve()] if args.base else []) + [None]
    runs = [
        (spaces, levels == "on", reader, writers, root)
        for spaces in sizes
        for levels in choices
        for reader in readers
        for writers in writer_counts
        for root in roots
    ]
    for spaces, levels, reader, writers, root in runs:
        load, cpu_before, started = round(os.getloadavg()[0], 2), children_cpu_s(), time.monotonic()
        threads: dict[str, float] = {}
        config = LoadConfig(
            spaces=spaces,
            listeners=args.listeners,
            speakers=3,
            speech="conversation",
            duration_s=args.duration,
            ramp_s=max(5.0, spaces * args.listeners / 300),  # joins run at a few hundred a second here
            frames_per_message="auto" if args.frames_per_message == "auto" else int(args.frames_per_message),
            sample=0,
            levels=levels,
            phases=args.phases,
            during_window=thread_cores(args.duration - 1.0, threads),
            server_args=["--realtime-reader", reader, "--fanout-writers", str(writers)],
            server_root=root,
            out=RESULTS / f"spaces-{spaces}",
            quiet=True,
        )
        report = trio.run(run, config)
        # Everything the harness ran (its speakers, its listeners' processes, the server) less the server.
        server = report["server"]
        whole = (children_cpu_s() - cpu_before) / (time.monotonic() - started)
        coverage, latency = report["coverage"], report["latency_ms"]
        holds = coverage["below_99_9_percent"] == 0 and latency["p99"] < 250
        rows.append({
            "spaces": spaces,
            "listeners": report["listeners"]["asked"],
            "coverage_min": coverage["min"],
            "coverage_p1": coverage["p1"],
            "below_99.9%": coverage["below_99_9_percent"],
            "p50_ms": latency["p50"],
            "p99_ms": latency["p99"],
            # The same frames when the harness's threads read them (not what `holds` judges: see the docs).
            "p50_at_read_ms": report["latency_at_read_ms"]["p50"],
            "p99_at_read_ms": report["latency_at_read_ms"]["p99"],
            # Over the whole run: messages read together with a later one of their connection (their
            # frames' latency overstated, never understated), against the frames received.
            "restamped_messages": report["listeners"]["restamped"],
            "frames_received": report["listeners"]["frames"],
            "levels": levels,
            "phases": args.phases,
            "frames_per_message": args.frames_per_message,
            "frames_per_message_seen": frames_seen(report),
            "server_cores": server.get("cpu_cores"),
            "server_cores_by_thread": threads,
            # The server's counters over the window: the writers' busy share (each; 1.0: saturated) and pass.
            "fanout_writer": server.get("fanout_writer"),
            "ticks_skipped": server.get("ticks_skipped"),
            # Frames of loss concealment inside a talk spurt (a packet missing while its speaker talked on:
            # heard as a glitch), and all of them (with each spurt's hangover, up to 5 frames).
            "concealed_gap_frames": server.get("concealed_gap_frames"),
            "concealed_frames": server.get("concealed_frames"),
            "speaker_packets_dropped": server.get("speaker_packets_dropped"),
            # The wire's reader per speaker packet: its CPU over the packets the scripts send in that time.
            "wire_us_per_packet": round(threads.get("stoa-wire", 0.0) * 1e6 / (spaces * packets_per_slot * 50), 2),
            "at_tick_share": server.get("at_tick_share"),
            "harness_and_server_cores_whole_run": round(whole, 2),
            "harness_fault": report["speakers"]["harness_fault"],
            "speakers_scheduling": report["speakers"]["scheduling"],
            "reader_scheduling": server.get("reader_scheduling"),  # the server's reader thread (its metrics)
            "fanout_writers": writers,
            "server": checkout(root),
            "load_average_before": load,
            "holds": holds,
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    save(args.results, rows)


if __name__ == "__main__":
    main()
