"""Mixer benchmark from Python: `Mixer.tick()` through the binding against the same libopus calls made
one by one through `Decoder`/`Encoder`, for 13 inputs with 1, 3 and 13 talking (and with the rest as
quiet open microphones); A and B alternate in blocks of ticks in the same run.

    python -m bench.mixer_bench [--ticks 2000] [--rust]

With --rust it also runs the Rust example (`mixer-rs/core/examples/mixer_bench.rs`: `Mixer::tick` against
bare libopus, no Python) and reports the binding's share: the Python tick less the Rust tick. Prints a
table and saves everything to bench/results/mixer.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixer import FRAME_SAMPLES, SAMPLE_RATE, Decoder, Encoder, Mixer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
INPUTS = 13
STREAM_FRAMES = 500  # 10 s of distinct packets per sender; longer runs wrap around
BLOCK = 25  # ticks per A or B block
WARMUP = 50
CASES = [  # (name, talking, quiet, kind)
    ("1 talking", 1, 0, "passthrough"),
    ("3 talking", 3, 0, "mixed"),
    ("13 talking", 13, 0, "mixed"),
    ("1 talking + 12 quiet", 1, 12, "passthrough"),
    ("3 talking + 10 quiet", 3, 10, "mixed"),
]


@dataclass(frozen=True)
class Row:
    case: str
    kind: str
    decodes: int
    encodes: int
    tick_median_us: float
    tick_p95_us: float
    libopus_median_us: float
    libopus_p95_us: float
    overhead: float
    push_median_us: float


def lcg(seed: int, n: int) -> np.ndarray:
    """The Rust bench's noise generator (x = 1664525 x + 1013904223 mod 2^32), n steps, vectorised."""
    a, c = np.uint64(1_664_525), np.uint64(1_013_904_223)
    powers = np.cumprod(np.full(n, a, dtype=np.uint64))  # a^1..a^n, wrapping mod 2^64 (so right mod 2^32)
    offsets = c * np.cumsum(np.concatenate(([np.uint64(1)], powers[:-1])))  # c (1 + a + ... + a^(k-1))
    return (powers * np.uint64(seed) + offsets) & np.uint64(0xFFFF_FFFF)


def voice(speaker: int) -> np.ndarray:
    """The Rust bench's voice-like signal, sample for sample: a gliding pitch with 20 harmonics, a
    syllable-rate envelope, a little hiss. Same PCM, so the same packets and the same libopus work."""
    t = np.arange(STREAM_FRAMES * FRAME_SAMPLES) / SAMPLE_RATE
    f0 = 100.0 + 9.0 * speaker + 15.0 * np.sin(2 * np.pi * 0.7 * t + speaker)
    voiced = sum((np.sin(2 * np.pi * f0 * float(h) * t) / h for h in range(1, 21)), np.zeros_like(t))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * (3.5 + 0.2 * speaker) * t)
    hiss = (lcg(speaker + 1, t.size) >> np.uint64(16)).astype(np.float64) / 65_536.0 - 0.5
    return np.clip(np.trunc(4_000.0 * envelope * voiced + 600.0 * hiss), -32768, 32767).astype("<i2")


def quiet(speaker: int) -> np.ndarray:
    """The Rust bench's open microphone in a quiet room: white noise within ±20 (about -70 dBFS)."""
    noise = lcg(speaker + 1, STREAM_FRAMES * FRAME_SAMPLES)
    return ((noise >> np.uint64(16)) % np.uint64(41)).astype(np.int64).astype("<i2") - np.int16(20)


def frames(pcm: np.ndarray) -> list[bytes]:
    return [pcm[i : i + FRAME_SAMPLES].tobytes() for i in range(0, pcm.size, FRAME_SAMPLES)]


def encode(pcm: np.ndarray) -> list[bytes]:
    encoder = Encoder(bitrate=32000, complexity=5)
    return [encoder.encode(frame) for frame in frames(pcm)]


def mixes(talking: list[list[bytes]]) -> list[list[bytes]]:
    """Per frame, the PCM a tick encodes: none for a lone talker, else the shared mix and each mix-minus."""
    if len(talking) < 2:
        return [[] for _ in range(STREAM_FRAMES)]
    decoded = []
    for stream in talking:
        decoder = Decoder()
        decoded.append(np.frombuffer(b"".join(decoder.decode(p) for p in stream), "<i2").astype(np.int32))
    total = np.sum(decoded, axis=0)
    wanted = [total] + [total - own for own in decoded]
    as_frames = [frames(np.clip(pcm, -32768, 32767).astype("<i2")) for pcm in wanted]
    return [list(per_tick) for per_tick in zip(*as_frames, strict=True)]


def summary(times_ns: list[int]) -> tuple[float, float]:
    kept = sorted(times_ns[WARMUP:])
    return kept[len(kept) // 2] / 1e3, kept[round((len(kept) - 1) * 0.95)] / 1e3


def measure(name: str, talking: int, quiet_count: int, kind: str, ticks: int) -> Row:
    speakers = range(talking + quiet_count)
    streams = [encode(voice(s) if s < talking else quiet(s)) for s in speakers]
    to_encode = mixes(streams[:talking])
    mixer = Mixer(bitrate=32000, complexity=5, max_mixed=INPUTS)
    for input_id in range(INPUTS):
        mixer.add_input(input_id)
    decoders = [Decoder() for _ in streams]
    encoders = [Encoder(bitrate=32000, complexity=5) for _ in to_encode[0]]
    tick_ns: list[int] = []
    push_ns: list[int] = []
    bare_ns: list[int] = []
    a_seq = b_seq = 0
    clock = time.perf_counter_ns

    def run_a(n: int) -> None:
        nonlocal a_seq
        for _ in range(n):
            index = a_seq % STREAM_FRAMES
            start = clock()
            for input_id, stream in enumerate(streams):
                mixer.push(input_id, a_seq, 0, stream[index])
            pushed = clock()
            out = mixer.tick()
            end = clock()
            push_ns.append(pushed - start)
            tick_ns.append(end - pushed)
            assert out.kind == kind, (a_seq, out.kind)
            a_seq += 1

    def run_b(n: int) -> None:
        nonlocal b_seq
        for _ in range(n):
            index = b_seq % STREAM_FRAMES
            start = clock()
            for decoder, stream in zip(decoders, streams, strict=True):
                decoder.decode(stream[index])
            for encoder, pcm in zip(encoders, to_encode[index], strict=True):
                encoder.encode(pcm)
            bare_ns.append(clock() - start)
            b_seq += 1

    gc.disable()
    try:
        for block in range(-(-ticks // BLOCK)):
            n = min(BLOCK, ticks - block * BLOCK)
            first, second = (run_a, run_b) if block % 2 == 0 else (run_b, run_a)
            first(n)
            second(n)
    finally:
        gc.enable()
    assert mixer.stats().encodes == ticks * len(encoders), "the mixer encoded what B encodes"
    tick, bare = summary(tick_ns), summary(bare_ns)
    return Row(name, kind, len(streams), len(encoders), *tick, *bare, tick[0] / bare[0], summary(push_ns)[0])


def rust_figures(ticks: int) -> dict[str, Any]:
    """The Rust example's figures (its own A/B run, no Python), as JSON."""
    command = ["cargo", "run", "--quiet", "--release", "-p", "stoa-mixer-core", "--example", "mixer_bench"]
    command += ["--", "--ticks", str(ticks), "--json", "-"]
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target" / "cargo-test")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=2000, help="ticks per side per case")
    parser.add_argument("--rust", action="store_true", help="also run the Rust example and compare")
    args = parser.parse_args()
    if args.ticks <= 2 * WARMUP:
        parser.error(f"--ticks must be over {2 * WARMUP}")

    print("Mixer.tick() from Python against the same libopus calls through Decoder/Encoder, same run")
    print(f"{INPUTS} inputs, max_mixed {INPUTS}, 32000 bit/s, complexity 5, {cpu_model()}")
    print(f"{args.ticks} ticks per side per case ({WARMUP} warm-up dropped); times in µs per tick\n")
    header = f"{'case':<22} {'kind':>11} {'dec':>4} {'enc':>4} {'tick p50':>9} {'tick p95':>9}"
    print(f"{header} {'opus p50':>9} {'opus p95':>9} {'overhead':>9} {'push p50':>9}")
    rows = []
    for name, talking, quiet_count, kind in CASES:
        r = measure(name, talking, quiet_count, kind, args.ticks)
        rows.append(r)
        print(
            f"{r.case:<22} {r.kind:>11} {r.decodes:>4} {r.encodes:>4} {r.tick_median_us:>9.1f} {r.tick_p95_us:>9.1f}"
            f" {r.libopus_median_us:>9.1f} {r.libopus_p95_us:>9.1f} {r.overhead:>8.3f}x {r.push_median_us:>9.1f}"
        )
    print("\noverhead = median Mixer.tick() / median of the same libopus calls, each through the binding")
    print("push p50 = the tick's Mixer.push calls (one per input that sends), not in the tick figure")

    result: dict[str, Any] = {"cpu": cpu_model(), "ticks_per_side": args.ticks, "python": [asdict(r) for r in rows]}
    if args.rust:
        print("\nrunning the Rust example (its own A/B run, no Python) ...")
        rust = result["rust"] = rust_figures(args.ticks)
        cases = {c["case"]: c for c in rust["cases"]}
        print(f"{'case':<22} {'rust p50':>9} {'overhead':>9} {'python p50':>11} {'binding':>9}")
        for r in rows:
            c = cases[r.case]
            binding = r.tick_median_us - c["tick_median_us"]
            rust_part = f"{c['tick_median_us']:>9.1f} {c['overhead']:>8.3f}x"
            print(f"{r.case:<22} {rust_part} {r.tick_median_us:>11.1f} {binding:>+9.1f}")
        print("binding = Python tick p50 less Rust tick p50 (separate runs, so only roughly)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mixer.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nsaved {RESULTS / 'mixer.json'}")


if __name__ == "__main__":
    main()
