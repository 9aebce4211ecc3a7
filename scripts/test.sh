#!/usr/bin/env bash
# The tests, after setup, lint and `cargo test` (the Makefile runs those first).
#
#   scripts/test.sh python   pytest: the parallel part, then the serial part (`make test-python`)
#   scripts/test.sh all      that, with the fuzzers beside the parallel part (`make test`)
#
# pytest runs in two parts. Most tests wait on server processes, sockets and browsers more than they compute:
# they run on TEST_WORKERS processes at once (each file on one worker, so that a module's shared server stays
# in one process; the files in the order tests/conftest.py gives, the slow folders first). The tests marked
# `serial` measure delay, stalls or every frame at the 20 ms pace: they run alone, after everything else.
#
# The fuzzers only compute, so `all` runs them beside the parallel part at the lowest priority (nice 19: about
# 1.5% of a core against each busy test process, all of the CPU the tests leave, and a test's process that
# wakes runs first), their output in target/test-background.log; their limits of wall time per input are
# wide enough for that (the Makefile's FUZZ_FLAGS, tests/fuzz/harness.py). `cargo test` is not run so: some
# of its tests bound a thread's answer at 1 s of wall time. Not SCHED_IDLE either: a share of about 0.3% could
# starve an input for as long as the tests keep both cores busy. Every part runs even when one fails, so that
# one run shows every failure; the exit status is non-zero if any failed. The fuzzers are stopped if this
# script is.
set -uo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-python}
PY=${VENV:-.venv}/bin/python
WORKERS=${TEST_WORKERS:-2}
LOG=target/test-background.log
status=0

if [ "$MODE" = all ]; then
    mkdir -p target
    echo "make test: fuzzing at nice 19 beside pytest's parallel part (log: $LOG)"
    # A process group of its own (setsid), so that an interrupted run stops the fuzzers with it.
    setsid -w nice -n 19 make --no-print-directory fuzz >"$LOG" 2>&1 &
    background=$!
    trap 'kill -TERM -- "-$background" 2>/dev/null' EXIT
    trap 'exit 130' INT TERM
elif [ "$MODE" != python ]; then
    echo "usage: $0 python|all" >&2
    exit 2
fi

"$PY" -m pytest -q -m "not serial" -n "$WORKERS" --dist loadfile --no-loadscope-reorder --durations=25 || status=$?

if [ "$MODE" = all ]; then
    if wait "$background"; then
        echo "make test: fuzzing passed: $(grep -c '^Done' "$LOG") targets ($LOG)"
    else
        status=1
        echo "make test: fuzzing FAILED; the end of $LOG:"
        tail -n 80 "$LOG"
    fi
    trap - EXIT INT TERM
fi

echo "make test: the serial tests, alone"
"$PY" -m pytest -q -m serial --durations=15 || status=$?
exit $status
