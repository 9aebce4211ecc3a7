#!/usr/bin/env bash
# The tests, after setup and lint (the Makefile runs those first).
#
#   scripts/test.sh python   pytest: the parallel part, then the serial part (`make test-python`)
#   scripts/test.sh all      that, with `cargo test` and fuzzing beside the parallel part (`make test`)
#
# pytest runs in two parts. Most tests wait on server processes, sockets and browsers more than they compute:
# they run on TEST_WORKERS processes at once (each file on one worker, so that a module's shared server stays
# in one process). The tests marked `serial` measure delay, stalls or every frame at the 20 ms pace: they run
# alone, after everything else has finished.
#
# `cargo test` and fuzzing mostly compute, so `all` runs them beside the parallel part at the lowest priority
# (nice 19: about 1.5% of a core against each busy test process, all of the CPU the tests leave, and a test's
# process that wakes runs first), their output in target/test-background.log. Not SCHED_IDLE: its threads
# would be SCHED_IDLE too, where a Rust test checks that a thread runs as any thread, and an input the fuzzers
# bound at 10 s of wall time could starve that long behind busy tests. Every part runs even when one fails,
# so that one run shows every failure; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-python}
PY=${VENV:-.venv}/bin/python
WORKERS=${TEST_WORKERS:-2}
LOG=target/test-background.log
status=0

if [ "$MODE" = all ]; then
    mkdir -p target
    echo "make test: cargo test and fuzzing at nice 19 beside pytest's parallel part (log: $LOG)"
    nice -n 19 make --no-print-directory test-rust fuzz >"$LOG" 2>&1 &
    background=$!
elif [ "$MODE" != python ]; then
    echo "usage: $0 python|all" >&2
    exit 2
fi

"$PY" -m pytest -q -m "not serial" -n "$WORKERS" --dist loadfile --durations=25 || status=$?

if [ "$MODE" = all ]; then
    if wait "$background"; then
        echo "make test: cargo test and fuzzing passed: $(grep -c '^test result: ok' "$LOG") test binaries;" \
            "$(grep -c '^Done' "$LOG") fuzz targets ($LOG)"
    else
        status=1
        echo "make test: cargo test or fuzzing FAILED; the end of $LOG:"
        tail -n 80 "$LOG"
    fi
fi

echo "make test: the serial tests, alone"
"$PY" -m pytest -q -m serial --durations=15 || status=$?
exit $status
