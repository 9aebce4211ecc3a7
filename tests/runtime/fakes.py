"""Test actors and helpers for the runtime tests: a counter that can be told to crash, block or stop,
and a Journal of lifecycle events with paired assert/refute helpers.

Timing rules for tests/runtime: every test runs under a `trio.fail_after` ceiling (CEILING_S), and
anything timed runs on the autojump clock, so a hang fails fast and no test sleeps for real.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import trio

from actors.runtime import Actor, ActorCrashed, ActorRef, ChildSpec, Context, Restart

CEILING_S = 60.0


class Boom(Exception):
    """The crash the tests ask for."""


class NotAllowed(Exception):
    """A domain error: a Counter's reply error."""


@dataclass
class Journal:
    """Lifecycle events of every incarnation, in order: ("a", "start 0"), ("a", "stop"), ..."""

    entries: list[tuple[str, str]] = field(default_factory=list)
    _changed: trio.Event = field(default_factory=trio.Event)

    def add(self, name: str, what: str) -> None:
        self.entries.append((name, what))
        self._changed.set()
        self._changed = trio.Event()

    def of(self, name: str) -> list[str]:
        return [what for who, what in self.entries if who == name]


async def assert_logged(journal: Journal, name: str, what: str, *, within_s: float = 1.0) -> None:
    """Wait until `journal` holds (name, what); fail after `within_s` seconds."""
    with trio.move_on_after(within_s):
        while (name, what) not in journal.entries:
            await journal._changed.wait()
        return
    raise AssertionError(f"{(name, what)} not logged within {within_s} s; journal: {journal.entries}")


async def refute_logged(journal: Journal, name: str, what: str, *, within_s: float = 0.1) -> None:
    """Let the runtime run for `within_s` seconds, then check `journal` does not hold (name, what)."""
    await trio.sleep(within_s)
    assert (name, what) not in journal.entries, f"{(name, what)} logged; journal: {journal.entries}"


@dataclass(frozen=True)
class Wait:
    """Block in handle() until `gate` is set, then reply "waited"."""

    gate: trio.Event


@dataclass(frozen=True)
class Arm:
    """Start a background task in ctx.nursery that raises Boom once `fuse` is set."""

    fuse: trio.Event


class Counter(Actor):
    """Counts "incr"s, stashing the count so a restarted incarnation recovers it.

    Messages: "incr", "get", "crash" (raise Boom), "deny" (raise NotAllowed, a reply error),
    "self" (ctx.self_ref), "stop" (ctx.stop()), Wait(gate), Arm(fuse).
    """

    reply_errors = (NotAllowed,)

    def __init__(self, journal: Journal, *, stop_s: float = 0.0, crash_on_start: bool = False) -> None:
        self.journal = journal
        self.stop_s = stop_s
        self.crash_on_start = crash_on_start
        self.count = 0

    async def on_start(self, ctx: Context) -> None:
        self.journal.add(ctx.name, f"start {ctx.restarts}")
        if self.crash_on_start:
            raise Boom("cannot start")
        if isinstance(ctx.recovered, int):
            self.count = ctx.recovered

    async def handle(self, message: object, ctx: Context) -> object:
        match message:
            case "incr":
                self.count += 1
                ctx.stash(self.count)
                return self.count
            case "get":
                return self.count
            case "crash":
                raise Boom(f"{ctx.name} asked to crash")
            case "deny":
                raise NotAllowed("not allowed")
            case "self":
                return ctx.self_ref
            case "stop":
                ctx.stop()
                return "stopping"
            case Wait(gate):
                await gate.wait()
                return "waited"
            case Arm(fuse):
                ctx.nursery.start_soon(self._explode, fuse)
                return "armed"
        raise TypeError(f"a Counter does not handle {message!r}")

    async def _explode(self, fuse: trio.Event) -> None:
        await fuse.wait()
        raise Boom("background task failed")

    async def on_stop(self, ctx: Context) -> None:
        self.journal.add(ctx.name, "stop")
        await trio.sleep(self.stop_s)
        self.journal.add(ctx.name, "stopped")


async def crash(ref: ActorRef | None) -> None:
    """Ask the child to crash, and check the ask says so."""
    assert ref is not None
    with pytest.raises(ActorCrashed):
        await ref.ask("crash")


def counter(
    journal: Journal,
    child_id: str,
    *,
    restart: Restart = Restart.PERMANENT,
    mailbox_size: int = 64,
    shutdown_s: float = 5.0,
    stop_s: float = 0.0,
    crash_on_start: bool = False,
) -> ChildSpec:
    """A ChildSpec for a Counter that writes to `journal`."""

    def start() -> Actor:
        return Counter(journal, stop_s=stop_s, crash_on_start=crash_on_start)

    return ChildSpec(child_id, start, restart=restart, mailbox_size=mailbox_size, shutdown_s=shutdown_s)
