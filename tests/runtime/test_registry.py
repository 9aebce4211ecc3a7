"""Registry: a plain name -> ActorRef table owned by its creator."""

from __future__ import annotations

import pytest
import trio

from actors.runtime import Registry, open_supervisor
from tests.runtime.fakes import CEILING_S, Journal, counter


async def test_a_registered_ref_is_found_by_name() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a")]) as sup:
            ref = sup.child("a")
            assert ref is not None
            registry = Registry()
            registry.register("counter", ref)
            found = registry.lookup("counter")
            assert found is ref
            assert await found.ask("incr") == 1
            assert registry.names() == ["counter"]
            assert "counter" in registry and len(registry) == 1


async def test_a_taken_name_cannot_be_registered_again() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a"), counter(Journal(), "b")]) as sup:
            a, b = sup.child("a"), sup.child("b")
            assert a is not None and b is not None
            registry = Registry()
            registry.register("x", a)
            with pytest.raises(ValueError, match="already registered"):
                registry.register("x", b)
            assert registry.lookup("x") is a


def test_an_unknown_or_unregistered_name_is_not_found() -> None:
    registry = Registry()
    assert registry.lookup("nobody") is None
    registry.unregister("nobody")  # a no-op, as in OTP
    assert registry.names() == []


async def test_registries_are_independent() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a")]) as sup:
            ref = sup.child("a")
            assert ref is not None
            first, second = Registry(), Registry()
            first.register("a", ref)
            assert second.lookup("a") is None
            first.unregister("a")
            assert first.lookup("a") is None
