"""Replay the fuzz corpus on every run: each kept input (the generated seeds, and every `crash-*` input that
once broke the server) gets a documented outcome from the decoder and from a real Session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.harness import SessionHarness, Violation, decode_one, join

CORPUS = Path(__file__).resolve().parent / "corpus"
DECODE_SEEDS = sorted((CORPUS / "decode").iterdir())
SESSION_SEEDS = sorted((CORPUS / "session").iterdir())


@pytest.fixture(scope="module")
def harness() -> Iterator[SessionHarness]:
    h = SessionHarness()
    yield h
    h.close()


def test_the_corpus_keeps_the_inputs_that_once_crashed_the_server() -> None:
    kept = {path.name for path in DECODE_SEEDS}
    assert {"crash-invalid-utf8-key-7-bytes", "crash-nesting-1000-arrays"} <= kept
    assert len((CORPUS / "decode" / "crash-invalid-utf8-key-7-bytes").read_bytes()) == 7


@pytest.mark.parametrize("path", DECODE_SEEDS, ids=[p.name for p in DECODE_SEEDS])
def test_decode_seed_is_a_message_or_a_documented_refusal(path: Path) -> None:
    message = decode_one(path.read_bytes())
    assert (message is None) == path.name.startswith("crash-"), "seeds of every type decode; crashes are refused"


@pytest.mark.parametrize("path", SESSION_SEEDS, ids=[p.name for p in SESSION_SEEDS])
def test_session_seed_gets_only_documented_replies_and_closes(harness: SessionHarness, path: Path) -> None:
    harness.feed(path.read_bytes())


def test_the_session_check_fails_on_an_undocumented_outcome(
    harness: SessionHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: a request that raises inside the session (as a bug would) is a Violation, not a pass."""
    from gateway import requests

    async def broken(caller: object, message: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(requests, "dispatch", broken)
    with pytest.raises(Violation):
        harness.feed(join("guest", []))
