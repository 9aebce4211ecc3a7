#!/usr/bin/env bash
# Installs what Stoa needs on a fresh Debian machine: system libraries (libopus), chromium for the browser tests,
# opus-tools (opusinfo, opusdec, opusenc: the tests' independent readers of Ogg Opus),
# a virtual environment with the Python dependencies, and the Rust extension
# built in release mode. Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

debs=(libopus-dev pkg-config chromium opus-tools)  # chromium: the browser tests; opus-tools: Ogg Opus checks
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

stamp="$VENV/.deps-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing Python dependencies"
    "$VENV/bin/pip" install -q --upgrade pip
    # Dependencies only (the project itself is built below by maturin).
    "$VENV/bin/python" - <<'PY' > "$VENV/.requirements.txt"
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))
PY
    "$VENV/bin/pip" install -q -r "$VENV/.requirements.txt"
    touch "$stamp"
fi

echo "setup: building the mixer extension (release)"
# maturin develop installs the package in editable form: actors/ and gateway/
# are imported from the source tree, the native module is built into mixer/.
VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/maturin" develop --release -q
