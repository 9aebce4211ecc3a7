"""The tick's work, counted and timed, on the harness's turn-taking conversation: the mixer core at a git
revision (A, `--base`, default main) against the working tree's (B), side by side in one process.

    python -m bench.tick_ab [--base main] [--loops 20] [--block 100] [--out PATH]

One space's three speakers (`loadtest.speech.conversation`, each packet sent with its level as the harness
sends it, `loadtest.audio.levels`) are driven slot by slot on one thread, each packet pushed just before the
tick that plays it (`bench/tick_ab/main.rs`). It prints, per 1,000 ticks and by situation (one talker passed
through; overlaps; the hangover after a turn's end, alone or beside the next talker), the decodes,
concealments, encodes and allocations (8 KiB or more: an Opus state built) of each build, whether the two
sent the same bytes, and the ratio of their ticks' CPU time (the thread's CPU clock, A and B alternating
in blocks of `--block` slots). The Rust program is built in release mode under `$CARGO_TARGET_DIR` (default
`target/`), in `tick-ab/`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from bench.results_file import commit
from loadtest.audio import levels
from loadtest.speech import conversation

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "bench" / "tick_ab" / "main.rs"


def scripts_file(path: Path) -> None:
    """The conversation's scripts, as `main.rs` reads them."""
    out = bytearray()
    scripts = conversation()
    out += struct.pack("<I", len(scripts))
    for packets, plan in scripts:
        out += struct.pack("<I", len(packets))
        for packet, level in zip(packets, levels(packets), strict=True):
            out += struct.pack("<H", len(packet)) + packet + bytes([level])
        out += struct.pack(f"<I{len(plan)}i", len(plan), *plan)
    path.write_bytes(out)


def crate(work: Path, base: str) -> Path:
    """A crate holding `main.rs`, with the core at `base` (renamed, so both builds link) and the tree's."""
    base_dir = work / "base"
    shutil.rmtree(base_dir, ignore_errors=True)
    archive = subprocess.run(
        ["git", "archive", base, "mixer-rs/core"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(base_dir, filter="data")
    core = base_dir / "mixer-rs" / "core"
    manifest = core / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('name = "stoa-mixer-core"', 'name = "stoa-mixer-core-base"', 1))
    (work / "Cargo.toml").write_text(
        f"""[package]
name = "tick-ab"
version = "0.0.0"
edition = "2024"
publish = false

[[bin]]
name = "tick-ab"
path = "{SOURCE}"

[dependencies]
base = {{ package = "stoa-mixer-core-base", path = "{core}" }}
new = {{ package = "stoa-mixer-core", path = "{ROOT / "mixer-rs" / "core"}" }}

[profile.release]
lto = "thin"
codegen-units = 1
debug = 1

[workspace]
"""
    )
    shutil.copy(ROOT / "Cargo.lock", work / "Cargo.lock")
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="the git revision whose mixer core is A")
    parser.add_argument("--loops", type=int, default=20, help="loops of the conversation (47.5 s each)")
    parser.add_argument("--block", type=int, default=100, help="slots per A or B block")
    parser.add_argument("--late", type=int, default=0, help="packets in 1,000 that come a slot late")
    parser.add_argument("--jitter", action="store_true", help="packets come at random times within a slot")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    work = crate(target / "tick-ab", args.base)
    scripts = work / "scripts.bin"
    scripts_file(scripts)
    env = {**os.environ, "CARGO_TARGET_DIR": str(target / "tick-ab" / "target")}
    manifest = str(work / "Cargo.toml")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", manifest], env=env, check=True)
    binary = target / "tick-ab" / "target" / "release" / "tick-ab"
    run = [str(binary), "--scripts", str(scripts), "--loops", str(args.loops), "--block", str(args.block)]
    run += ["--late", str(args.late)] + (["--jitter"] if args.jitter else [])
    done = subprocess.run(run, capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith("JSON ")))
    if args.out:
        result = json.loads(next(line for line in lines if line.startswith("JSON "))[5:])
        record = {
            "command": "python -m bench.tick_ab " + " ".join(sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": commit(),
            "base": args.base,
            **result,
        }
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
