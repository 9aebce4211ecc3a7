"""A live space whose host and co-hosts have all been gone for the grace (`stoa serve --abandon-after`) ends
with reason `abandoned`, over real server processes; a moderator present or back in time keeps it, and a
restart neither revives an abandoned space nor gives a forsaken one a new grace."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from actors.space import Role, SpaceEnded
from gateway.client import Client, RequestError, connect, connect_account
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.test_moderation import next_of

GRACE_S = 1.0
LATE_S = 1.5  # the sweeper looks every GRACE_S / 4; the rest is a noisy 2-core machine's slack


async def assert_abandoned(client: Client) -> None:
    event = await next_of(client, SpaceEnded)
    assert isinstance(event, SpaceEnded) and event.reason == "abandoned"


async def refute_ended(client: Client, within_s: float) -> None:
    with trio.move_on_after(within_s):
        event = await next_of(client, SpaceEnded)
        raise AssertionError(f"the space ended: {event}")


@asynccontextmanager
async def host_and_listener(url: str, title: str) -> AsyncIterator[tuple[Client, Client, str]]:
    """ada (an account) hosts a new space, lena (a guest) listens in it."""
    async with connect_account(url, "ada") as ada, connect(url, "lena") as lena:
        space_id = (await ada.create_space(title)).space.space_id
        await lena.join_space(space_id)
        yield ada, lena, space_id


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose grace is GRACE_S."""
    server = start_server(tmp_path / "data", "--abandon-after", str(GRACE_S))
    yield server
    assert stop_server(server) == 0


async def test_listeners_get_space_ended_abandoned_once_the_host_has_been_gone_for_the_grace(
    quick: ServerProcess,
) -> None:
    with trio.fail_after(30):
        async with (
            host_and_listener(quick.url, "Forsaken") as (ada, lena, space_id),
            connect_account(quick.url, "bob") as bob,
        ):
            kept_id = (await bob.create_space("Kept")).space.space_id  # control: its host stays
            await ada.leave_space()
            left = time.monotonic()
            await assert_abandoned(lena)
            took = time.monotonic() - left
            print(f"\nspace_ended after {took:.2f} s (grace {GRACE_S} s)")
            assert GRACE_S - 0.1 <= took <= GRACE_S + LATE_S
            with pytest.raises(RequestError) as over:
                await lena.join_space(space_id)
            assert over.value.code == "space_ended"
            live = [s.space_id for s in (await lena.list_spaces("live")).live]
            assert live == [kept_id], "control: the space whose host stayed is still live"
            record = await lena.get_space(space_id)
            assert record.status == "ended" and record.ended_at is not None


async def test_a_host_who_comes_back_within_the_grace_keeps_the_space(quick: ServerProcess) -> None:
    with trio.fail_after(30):
        async with host_and_listener(quick.url, "Brief absence") as (ada, lena, space_id):
            await ada.leave_space()
            await trio.sleep(GRACE_S / 2)
            assert (await ada.join_space(space_id)).role == Role.HOST
            await refute_ended(lena, 2 * GRACE_S + LATE_S)
            await ada.leave_space()  # control: gone for good this time, it ends
            await assert_abandoned(lena)


async def test_a_cohost_present_keeps_the_space_alive(quick: ServerProcess) -> None:
    with trio.fail_after(30):
        async with (
            host_and_listener(quick.url, "Co-hosted") as (ada, lena, space_id),
            connect_account(quick.url, "cleo") as cleo,
        ):
            await cleo.join_space(space_id)
            await ada.set_role(cleo.user, Role.COHOST)
            await ada.leave_space()
            await refute_ended(lena, 2 * GRACE_S + LATE_S)
            await cleo.leave_space()  # control: the last moderator gone, it ends
            await assert_abandoned(lena)


async def test_an_abandoned_space_is_not_revived_by_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data, "--abandon-after", str(GRACE_S))
    try:
        with trio.fail_after(30):
            async with host_and_listener(first.url, "Forsaken") as (ada, lena, space_id):
                await ada.leave_space()
                await assert_abandoned(lena)
    finally:
        assert stop_server(first) == 0
    second = start_server(data, "--abandon-after", "600")
    try:
        with trio.fail_after(30):
            async with connect_account(second.url, "ada") as ada:
                with pytest.raises(RequestError) as over:
                    await ada.join_space(space_id)
                assert over.value.code in ("space_ended", "no_such_space"), "not live: not brought back"
                assert (await ada.list_spaces("live")).live == []
                assert (await ada.get_space(space_id)).status == "ended"
    finally:
        assert stop_server(second) == 0


async def test_a_space_whose_grace_passed_while_the_server_was_down_ends_when_it_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    grace_s = 5.0
    first = start_server(data, "--abandon-after", "600")
    try:
        with trio.fail_after(30):
            async with connect_account(first.url, "ada") as ada:
                space_id = (await ada.create_space("Left before the stop")).space.space_id
                await ada.leave_space()
                left = time.monotonic()
    finally:
        assert stop_server(first) == 0
    # Control: restarted before the grace passed, the space is still live (the stored departure counts).
    second = start_server(data, "--abandon-after", str(grace_s))
    try:
        with trio.fail_after(30):
            async with connect(second.url, "lena") as lena:
                assert time.monotonic() - left < grace_s - 0.5, "the control ran too late to mean anything"
                await lena.join_space(space_id)
    finally:
        assert stop_server(second) == 0
    await trio.sleep(max(0.0, grace_s + 0.2 - (time.monotonic() - left)))
    third = start_server(data, "--abandon-after", str(grace_s))
    try:
        with trio.fail_after(30):
            async with connect(third.url, "lena") as lena:
                await trio.sleep(0.5)  # the sweeper's first look is at start; leave it a moment
                with pytest.raises(RequestError) as over:
                    await lena.join_space(space_id)
                assert over.value.code == "space_ended"
    finally:
        assert stop_server(third) == 0
