#!/usr/bin/env bash
# How long `make run` takes, on a set-up machine, to reach a listening server: from starting make to the
# server's "stoa: listening" line; and whether anything was printed before it. Runs it RUNS times (default 5)
# on free ports and a fresh data folder, then drains each server.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s setup-run >/dev/null  # the measurement is of a set-up machine
for _ in $(seq "${RUNS:-5}"); do
    data=$(mktemp -d)
    start=$(date +%s%N)
    make -s run PORT=0 HTTP_PORT=0 DATA="$data" >"$data/out" 2>"$data/err" &
    until grep -q "stoa: listening" "$data/out" 2>/dev/null; do sleep 0.005; done
    end=$(date +%s%N)
    before=$(($(grep -n "stoa: listening" "$data/out" | cut -d: -f1) - 1))
    echo "make run: listening after $(((end - start) / 1000000)) ms; lines on stdout before it: $before"
    kill -TERM "$(cat "$data/stoa.lock")"
    wait
    rm -rf "$data"
done
