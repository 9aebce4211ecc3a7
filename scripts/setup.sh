#!/usr/bin/env bash
# Installs what Stoa needs on a fresh Debian machine: system libraries (libopus; for `dev`, chromium and an
# emoji font for the web client's browser tests, opus-tools for the recording tests), a virtual environment
# with the Python dependencies pinned by the lock file, and the Rust extension built in release mode.
#
#   scripts/setup.sh run    what the server needs (requirements.lock): `make run`
#   scripts/setup.sh dev    that and the tools: tests, lint, fuzzing, load harness (requirements-dev.lock)
#
# Safe and quick to run again: each step leaves a stamp in the venv and runs again only when its inputs
# changed (the lock file; the Rust sources and Cargo files), so a set-up machine goes straight through,
# printing nothing. Install output goes to $VENV/setup.log; a failure prints its tail.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-dev}
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
LOG="$VENV/setup.log"

quietly() {  # run "$@" with its output in the log; on failure show the log's tail
    if ! "$@" >>"$LOG" 2>&1; then
        echo "setup: failed: $*" >&2
        tail -n 30 "$LOG" >&2
        exit 1
    fi
}

newer_than() {  # is any of the inputs (files, or folders searched) newer than the stamp, or the stamp missing?
    local stamp=$1
    shift
    [ ! -f "$stamp" ] || [ -n "$(find "$@" -newer "$stamp" -print -quit 2>/dev/null)" ]
}

debs=(libopus-dev pkg-config)
# the tests': chromium and an emoji font for the browser tests and screenshots (Playwright drives Debian's
# chromium); opus-tools (opusinfo, opusdec, opusenc) to check Ogg Opus files (the terminal clients', the recordings'); coturn, a real TURN server that
# checks the TURN credentials the server hands out (the tests run their own on loopback; its service stays off)
[ "$MODE" = dev ] && debs+=(chromium fonts-noto-color-emoji opus-tools coturn)
missing=()
for d in "${debs[@]}"; do
    dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
: >>"$LOG"

case "$MODE" in
    run) lock=requirements.lock ;;
    dev) lock=requirements-dev.lock ;;
    *) echo "usage: $0 run|dev" >&2; exit 2 ;;
esac
stamp="$VENV/.stamp-$MODE"
if newer_than "$stamp" "$lock"; then
    echo "setup: installing Python packages from $lock (log: $LOG)"
    # Exactly what the lock pins, each checked against its hashes; nothing resolved here.
    quietly "$VENV/bin/pip" install --require-hashes --no-deps -r "$lock"
    touch "$stamp"
    [ "$MODE" = dev ] && touch "$VENV/.stamp-run"  # the dev lock holds every package of the run lock
fi

stamp="$VENV/.stamp-client-$MODE"
if newer_than "$stamp" clients/python/pyproject.toml "$lock"; then
    echo "setup: installing clients/python (stoa_protocol, stoa_client) in place (log: $LOG)"
    # Editable: the server imports the protocol's definitions from clients/python (stoa_protocol).
    quietly "$VENV/bin/pip" install --no-build-isolation --no-deps --config-settings editable_mode=compat -e clients/python
    if [ "$MODE" = dev ]; then
        # The client's dependencies as wheels, so that a test can install stoa-client into a fresh virtual
        # environment with no network (`tests/clients/test_install.py`).
        mapfile -t client_deps < <("$VENV/bin/python" -c 'import tomllib
print("\n".join(tomllib.load(open("clients/python/pyproject.toml", "rb"))["project"]["dependencies"]))')
        rm -rf target/client-wheels
        quietly "$VENV/bin/pip" download --only-binary=:all: -d target/client-wheels "${client_deps[@]}"
    fi
    touch "$stamp"
fi

stamp="$VENV/.stamp-extension"
if newer_than "$stamp" mixer-rs Cargo.toml Cargo.lock pyproject.toml || ! ls mixer/_mixer*.so >/dev/null 2>&1; then
    echo "setup: building the mixer extension (release; log: $LOG)"
    # An editable install: actors/, gateway/... are imported from the source tree, the native module is
    # built into mixer/ (the dependencies maturin asks pip for are the lock's, already there).
    VIRTUAL_ENV="$PWD/$VENV" quietly "$VENV/bin/maturin" develop --release
    touch "$stamp"
fi

# The tree's own modules as bytecode, as pip does for the packages it installs: the server then compiles none of
# them when it starts (Python writes __pycache__ itself as it imports, but not where PYTHONDONTWRITEBYTECODE is
# set, as on our machines: every start then compiled every module, about a fifth of start-up's CPU). Quick when
# nothing changed (each .pyc is checked against its source); a source changed later is compiled at import, as ever.
quietly "$VENV/bin/python" -m compileall -q -j 0 actors gateway store mixer clients/python/stoa_protocol clients/python/stoa_client
