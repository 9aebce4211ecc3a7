"""What recording adds to a space's server CPU: spaces of 3 talkers, the same spaces measured not
recording, recording with everyone consenting (the recording reuses the listeners' frame), and recording
with one talker declining (the recording mixes and encodes its own), in rotation, in one run.

    python -m bench.recording_bench [--spaces 6] [--seconds 4] [--rounds 6]

Each space is what the server runs (a `Mixer`, its `SpaceDriver` on one `TickPool`, its frames to the
fan-out), fed by a thread that pushes each talker's real Opus packets (a voice-like signal, the mixer
bench's) every 20 ms. CPU is read per thread from /proc (schedstat: nanoseconds on a CPU): the tick threads
("stoa-tick", where the mix, the encodes and the recording's packets and pages happen) and the recordings'
writer threads ("stoa-rec", the writes and syncs); the feeding thread is not counted, and is the same in
every mode. The pool is held at 2 threads so that none comes and goes within a block. The figure is CPU
per tick of a space's mixer (µs), the median over a mode's blocks: on a loaded machine the pool skips
ticks it is too late for, and a space-second would then hold less work in one block than in another.

Target (issue 11): a recording where everyone consented adds under 10% of the space's own mixing cost.
Prints a table, saves bench/results/recording.json (with --quick, recording-quick.json, not committed),
exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.mixer_bench import STREAM_FRAMES, encode, voice
from bench.results_file import save
from mixer import Fanout, Mixer, SpaceDriver, TickPool

TALKERS = 3
LEAD = 5  # packets pushed ahead of the clock
TARGET_ADDED = 0.10
MODES = ("not recording", "recording, all consented", "recording, one declines")
THREADS = ("stoa-tick", "stoa-rec")


def thread_cpu_ns() -> dict[str, int]:
    """Nanoseconds on a CPU so far, summed per thread name, over this process's live threads."""
    totals = dict.fromkeys(THREADS, 0)
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as comm:
                name = comm.read().strip()
            if name in totals:
                with open(f"/proc/self/task/{tid}/schedstat") as stat:
                    totals[name] += int(stat.read().split()[0])
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return totals


class Feeder:
    """A thread that pushes every talker's packets into every space, 20 ms of audio each, as the wire would,
    kept `LEAD` packets ahead of the clock: on a machine shared with other work the thread is sometimes
    late, and a mixer starved of packets would do less work in one mode than in another. (A mixer whose
    queue stays long skips a packet every 100 ticks (its packets have no level, so none is known silent),
    decoding it: the same small cost in every mode.)"""

    def __init__(self, spaces: list[tuple[Mixer, SpaceDriver]], streams: list[list[bytes]]) -> None:
        self._spaces = spaces
        self._streams = streams
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)
        self.late = 0

    def __enter__(self) -> Feeder:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        start = time.monotonic()
        n = 0
        while not self._stop.is_set():
            due = int((time.monotonic() - start) / 0.02) + LEAD
            if due - n > LEAD + 1:
                self.late += 1
            while n < due:
                for mixer, _ in self._spaces:
                    for talker, stream in enumerate(self._streams):
                        mixer.push(talker, n, 1, stream[n % STREAM_FRAMES])
                n += 1
            for _, driver in self._spaces:
                driver.notify()
            self._stop.wait(max(0.0, start + (n - LEAD + 1) * 0.02 - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spaces", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0, help="per block")
    parser.add_argument("--rounds", type=int, default=6, help="blocks of each mode, in rotation")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 2.0, 2

    streams = [encode(voice(talker)) for talker in range(TALKERS)]
    pool, fanout = TickPool(threads=2, max_threads=2), Fanout()
    spaces = []
    for _ in range(args.spaces):
        mixer = Mixer(max_queue=2 * LEAD)
        for talker in range(TALKERS):
            mixer.add_input(talker)
        spaces.append((mixer, SpaceDriver(pool, mixer, fanout, fanout.new_group())))
    cpu: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    encodes: dict[str, list[float]] = {mode: [] for mode in MODES}
    mixed: dict[str, list[float]] = {mode: [] for mode in MODES}
    kinds: dict[str, dict[str, int]] = {mode: {"shared": 0, "own": 0, "silent": 0} for mode in MODES}
    with tempfile.TemporaryDirectory() as folder, Feeder(spaces, streams) as feeder:
        time.sleep(1.0)  # warm up: codecs built, pool settled
        part = 0
        for _ in range(args.rounds):
            for mode in MODES:
                for s, (_, driver) in enumerate(spaces):
                    for talker in range(TALKERS):
                        driver.set_consent(talker, mode == MODES[1] or talker > 0)
                    if mode != MODES[0]:
                        driver.start_recording(Path(folder) / f"part-{part}-{s}.opus", s)
                part += 1
                time.sleep(0.2)  # the consents and the recordings in effect
                before = thread_cpu_ns()
                mixer_before = [mixer.stats() for mixer, _ in spaces]
                time.sleep(args.seconds)
                after = thread_cpu_ns()
                mixer_after = [mixer.stats() for mixer, _ in spaces]
                space_seconds = args.spaces * args.seconds
                cpu[mode].append({name: (after[name] - before[name]) / 1e6 / space_seconds for name in THREADS})
                ticks = sum(a.ticks - b.ticks for a, b in zip(mixer_after, mixer_before, strict=True))
                done = sum(a.encodes - b.encodes for a, b in zip(mixer_after, mixer_before, strict=True))
                encodes[mode].append(done / max(ticks, 1))
                mixed[mode].append(ticks / space_seconds)
                for _, driver in spaces:
                    stats = driver.stop_recording()
                    if stats is not None:
                        kinds[mode]["shared"] += stats.frames_shared
                        kinds[mode]["own"] += stats.frames_own
                        kinds[mode]["silent"] += stats.frames_silent
                        assert stats.write_errors == 0, stats
    for _, driver in spaces:
        driver.stop()
    fanout.shutdown()

    def per_tick(mode: str, name: str) -> float:
        """Median over the mode's blocks of the CPU of `name` threads per mixer tick, in µs."""
        return statistics.median(b[name] * 1e3 / t for b, t in zip(cpu[mode], mixed[mode], strict=True))

    base = per_tick(MODES[0], "stoa-tick") + per_tick(MODES[0], "stoa-rec")
    rows: list[dict[str, object]] = []
    added_by_mode = {}
    for mode in MODES:
        tick, rec = per_tick(mode, "stoa-tick"), per_tick(mode, "stoa-rec")
        added = (tick + rec - base) / base
        added_by_mode[mode] = added
        rows.append(
            {
                "mode": mode,
                "tick_us_per_mixer_tick": round(tick, 1),
                "writer_us_per_mixer_tick": round(rec, 2),
                "added_vs_not_recording": f"{added:+.1%}",
                "encodes_per_tick": round(statistics.median(encodes[mode]), 2),
                "mixer_ticks_per_space_s": round(statistics.median(mixed[mode]), 1),
                "frames_shared/own/silent": "{shared}/{own}/{silent}".format(**kinds[mode]),
                "blocks_us_per_mixer_tick": [
                    round((b["stoa-tick"] + b["stoa-rec"]) * 1e3 / t, 1)
                    for b, t in zip(cpu[mode], mixed[mode], strict=True)
                ],
            }
        )
    save("recording-quick.json" if args.quick else "recording.json", rows)
    print(
        f"\n{args.spaces} spaces of {TALKERS} talkers; {args.rounds} blocks of {args.seconds:g} s per mode, "
        f"in rotation; feeder late {feeder.late} times; {os.cpu_count()} CPUs, shared with other work"
    )
    added = added_by_mode[MODES[1]]
    met = added < TARGET_ADDED
    print(
        f"recording with everyone consenting adds {added:+.1%} (target under {TARGET_ADDED:.0%}): "
        + ("met" if met else "MISSED")
    )
    if not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
