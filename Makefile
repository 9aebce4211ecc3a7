# Stoa: `make run` starts a server, `make test` runs every test. Both install
# what they need first (Debian packages, a virtual environment from the lock
# file, the extension), and only what changed since the last time.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8765
HTTP_PORT ?= 8080
DATA ?= data

.PHONY: setup setup-run run test lint lock test-rust test-python fuzz bench bench-quick clean FORCE

# Each installs only what changed since it last ran (scripts/setup.sh). On a set-up machine make itself sees that
# nothing did (its stamp is newer than every input: a few stat calls), and does not even start the script.
RUN_INPUTS := scripts/setup.sh requirements.lock clients/python/pyproject.toml pyproject.toml Cargo.toml Cargo.lock \
	$(shell find mixer-rs -type f -not -path '*/target/*')
NO_EXTENSION := $(if $(wildcard mixer/_mixer*.so),,FORCE)

$(VENV)/.ready-run: $(RUN_INPUTS) $(NO_EXTENSION)
	@bash scripts/setup.sh run
	@touch $@

$(VENV)/.ready-dev: $(RUN_INPUTS) requirements-dev.lock $(NO_EXTENSION)
	@bash scripts/setup.sh dev
	@touch $@ $(VENV)/.ready-run

setup: $(VENV)/.ready-dev

setup-run: $(VENV)/.ready-run

FORCE:

run: setup-run
	@$(VENV)/bin/stoa serve --host $(HOST) --port $(PORT) --http-port $(HTTP_PORT) --data $(DATA)

# The lock files, from pyproject.toml: run after changing a dependency there, and commit both.
lock: setup
	$(VENV)/bin/uv pip compile pyproject.toml --extra build --python-version 3.11 --generate-hashes --quiet -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet -o requirements-dev.lock

# Lint, cargo test, then pytest with the fuzzers at nice 19 beside its parallel part (scripts/test.sh says how
# and why). make test must stay well under 20 minutes on 2 cores: the slowest tests are listed at the end.
test: setup lint test-rust
	@bash scripts/test.sh all

lint:
	$(VENV)/bin/ruff check actors gateway mixer loadtest bench store tests clients/python
	$(VENV)/bin/ruff format --check actors gateway mixer loadtest bench store tests clients/python
	$(VENV)/bin/mypy

test-rust:
	CARGO_TARGET_DIR=target/cargo-test cargo test --quiet --lib --tests

# pytest in two parts: most tests on TEST_WORKERS processes at once, then the tests marked `serial` (they
# measure time) alone (scripts/test.sh).
export TEST_WORKERS ?= 2
test-python: setup
	@bash scripts/test.sh python

# Coverage-guided fuzzing (atheris), bounded: FUZZ_DECODE_RUNS inputs through the decoder (about 50 s for
# 250,000 here), FUZZ_SESSION_RUNS through a real Session's decode-and-dispatch (about 35 s for 5,000). Each
# target runs as its own process; what it learns goes to target/fuzz, a crash's input to target/fuzz/crash-*
# (keep it in tests/fuzz/corpus/, which pytest replays). A longer hunt: make fuzz FUZZ_DECODE_RUNS=10000000
# FUZZ_SESSION_RUNS=200000.
FUZZ_DECODE_RUNS ?= 250000
FUZZ_SESSION_RUNS ?= 5000
# -timeout: an input still running after 120 s of wall time is a hang (make test runs the fuzzers at nice 19).
FUZZ_FLAGS := -max_len=4096 -timeout=120 -artifact_prefix=target/fuzz/

fuzz: setup
	rm -rf target/fuzz && mkdir -p target/fuzz/decode target/fuzz/session
	$(PY) -m tests.fuzz.run decode -runs=$(FUZZ_DECODE_RUNS) $(FUZZ_FLAGS) target/fuzz/decode tests/fuzz/corpus/decode
	$(PY) -m tests.fuzz.run session -runs=$(FUZZ_SESSION_RUNS) $(FUZZ_FLAGS) target/fuzz/session tests/fuzz/corpus/session

bench: setup
	$(PY) -m bench

bench-quick: setup
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) target
