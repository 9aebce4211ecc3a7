"""The runtime is generic: small non-audio programs run it under a plain `trio.run`, and the example
in docs/runtime.md runs and prints what the docs say."""

from __future__ import annotations

import re
import sys
import types
from collections import Counter as Tally
from pathlib import Path

import pytest
import trio

from actors.runtime import Actor, ChildSpec, Context, Registry, Strategy, open_supervisor

DOC = Path(__file__).resolve().parents[2] / "docs" / "runtime.md"


def docs_example() -> tuple[str, str]:
    """The example's code and the output the docs promise."""
    text = DOC.read_text()
    section = text[text.index("## Example") :]
    code, output = re.findall(r"```(?:python)?\n(.*?)```", section, re.DOTALL)[:2]
    return code, output


def test_the_docs_example_runs_and_prints_what_the_docs_say(capsys: pytest.CaptureFixture[str]) -> None:
    code, promised = docs_example()
    module = types.ModuleType("runtime_docs_example")
    sys.modules[module.__name__] = module  # dataclasses look their module up while the code runs
    try:
        exec(compile(code, str(DOC), "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]

    async def run_with_a_ceiling() -> None:
        with trio.fail_after(60):
            await module.main()

    trio.run(run_with_a_ceiling)
    assert capsys.readouterr().out == promised


class Splitter(Actor):
    """Splits lines into words and tells each word to the "tally" actor it finds in a Registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def handle(self, message: object, ctx: Context) -> object:
        assert isinstance(message, str)
        tally = self.registry.lookup("tally")
        assert tally is not None
        for word in message.split():
            await tally.tell(word.lower())
        return None


class WordCount(Actor):
    """Counts the words it is told; "?" asks for the n most common."""

    async def on_start(self, ctx: Context) -> None:
        self.counts: Tally[str] = Tally()

    async def handle(self, message: object, ctx: Context) -> object:
        match message:
            case ("?", int(n)):
                return self.counts.most_common(n)
            case str(word):
                self.counts[word] += 1
                return None
        raise TypeError(message)


def test_a_plain_trio_program_runs_a_word_count_pipeline() -> None:
    async def main() -> list[tuple[str, int]]:
        registry = Registry()
        with trio.fail_after(60):
            async with open_supervisor(
                [ChildSpec("tally", WordCount, mailbox_size=4), ChildSpec("splitter", lambda: Splitter(registry))],
                strategy=Strategy.ONE_FOR_ALL,
                name="words",
            ) as supervisor:
                for child in supervisor.which_children():
                    ref = supervisor.child(child.id)
                    assert ref is not None
                    registry.register(child.id, ref)
                splitter = registry.lookup("splitter")
                assert splitter is not None
                for line in ["the cat and the hat", "The end"]:
                    await splitter.tell(line)
                await splitter.ask("")  # the splitter has told every word by now...
                tally = registry.lookup("tally")
                assert tally is not None
                top = await tally.ask(("?", 2))  # ...and the tally handles them in order before this
                assert isinstance(top, list)
                return top

    assert trio.run(main) == [("the", 3), ("cat", 1)]
