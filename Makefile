# Stoa: `make run` starts a server, `make test` runs every test. Both install
# what they need first (Debian packages, a virtual environment, the extension).
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8765
DATA ?= data

.PHONY: setup run test lint test-rust test-python bench bench-quick clean

setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/stoa serve --host $(HOST) --port $(PORT) --data $(DATA)

test: setup lint test-rust test-python

lint:
	$(VENV)/bin/ruff check actors gateway mixer loadtest bench store tests
	$(VENV)/bin/mypy

test-rust:
	CARGO_TARGET_DIR=target/cargo-test cargo test --quiet --lib --tests

test-python:
	$(PY) -m pytest -q

bench: setup
	$(PY) -m bench

bench-quick: setup
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) target
