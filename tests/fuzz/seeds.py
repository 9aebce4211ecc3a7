"""Write the generated seeds of the fuzz corpus: `python -m tests.fuzz.seeds`.

One smallest valid message of every client type (found by hypothesis from the protocol's own types), for the
byte-level target, and the same messages in each session scenario. Seeds named `crash-*` are inputs that once
broke the server; they are kept by hand, never rewritten here.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import find

from gateway import protocol as p
from tests.fuzz.harness import SCENARIOS, join
from tests.fuzz.strategies import CLIENT_TYPES, client_messages

CORPUS = Path(__file__).resolve().parent / "corpus"


def smallest_messages() -> dict[str, bytes]:
    return {kind.tag: p.encode(find(client_messages(kind), lambda _: True)) for kind in CLIENT_TYPES}


def main() -> None:
    messages = smallest_messages()
    for folder in ("decode", "session"):
        (CORPUS / folder).mkdir(parents=True, exist_ok=True)
        for old in (CORPUS / folder).glob("type-*"):
            old.unlink()
    for tag, data in messages.items():
        (CORPUS / "decode" / f"type-{tag}").write_bytes(data)
        for scenario in SCENARIOS:
            (CORPUS / "session" / f"type-{scenario}-{tag}").write_bytes(join(scenario, [data]))


if __name__ == "__main__":
    main()
