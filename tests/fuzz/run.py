"""Run one fuzz target under atheris (libFuzzer), coverage-guided over the gateway's code.

    python -m tests.fuzz.run decode  -runs=1000000 [libFuzzer flags] [corpus folders]
    python -m tests.fuzz.run session -runs=15000   [libFuzzer flags] [corpus folders]

`decode` feeds bytes to `protocol.decode_client`; `session` feeds a scenario and messages to a real Session
(`tests/fuzz/harness.py`). A crash prints its traceback and leaves the input in a `crash-*` file (see
`-artifact_prefix`): copy it into `tests/fuzz/corpus/` so that pytest replays it on every run. `make fuzz`
runs both, bounded; libFuzzer writes what it learns into the first corpus folder, so give it a scratch one
before the kept seeds.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["gateway", "actors", "store"]):
    from tests.fuzz.harness import SessionHarness, decode_one

SESSION_RESTART_EVERY = 2000  # inputs per set of gateway objects: spaces a run leaves behind do not pile up


def decode_target(data: bytes) -> None:
    decode_one(data)


class SessionTarget:
    def __init__(self) -> None:
        self.harness = SessionHarness()
        self.count = 0

    def __call__(self, data: bytes) -> None:
        self.count += 1
        if self.count % SESSION_RESTART_EVERY == 0:
            self.harness.close()
            self.harness = SessionHarness()
        self.harness.feed(data)


def main() -> None:
    target = sys.argv.pop(1) if len(sys.argv) > 1 else ""
    if target not in ("decode", "session"):
        sys.exit("usage: python -m tests.fuzz.run decode|session [libFuzzer flags] [corpus folders]")
    atheris.Setup(sys.argv, decode_target if target == "decode" else SessionTarget())
    atheris.Fuzz()


if __name__ == "__main__":
    main()
