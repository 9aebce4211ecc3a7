"""A connection that goes away while its join waits leaves nothing behind: no phantom participant, and a
host who never arrives does not keep a space alive (it is abandoned like any other). Against a server in
this process, where the join can be slowed down; the sockets and the space actors are real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgpack
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from actors.space import SpaceRef, SpaceState
from gateway.client import connect, connect_account
from gateway.gateway_config import GatewayConfig
from gateway.server import Server, serve

SLOW_JOIN_S = 0.5
# The space is abandoned this long after its host is counted gone; the test looks at it SLOW_JOIN_S * 3 after
# the host's connection was replaced, so this leaves seconds, not a few hundred ms, for a loaded machine
# (1.0 s once ended the space before the test's look, after a 125 ms collection on a busy CI run).
ABANDON_AFTER_S = 3.0


@asynccontextmanager
async def in_process_server(tmp_path: Path) -> AsyncIterator[Server]:
    config = GatewayConfig(port=0, data_dir=tmp_path / "data", abandon_after_s=ABANDON_AFTER_S, resume_window_s=0.5)
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(serve, config)
        try:
            yield server
        finally:
            await server.gateway.shut_down()
            nursery.cancel_scope.cancel()


@pytest.fixture
def slow_joins(monkeypatch: pytest.MonkeyPatch) -> None:
    join = SpaceRef.join

    async def slow(self: SpaceRef, *args: object, **kwargs: object) -> SpaceState:
        await trio.sleep(SLOW_JOIN_S)
        return await join(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SpaceRef, "join", slow)


async def hosted_state(server: Server, host: str) -> SpaceState:
    space_id = server.gateway.directory.hosted_by(host)
    assert space_id is not None
    return await server.gateway.directory.get(space_id).snapshot()


@pytest.mark.parametrize("drop", [True, False], ids=["replaced", "control"])
async def test_a_host_whose_connection_is_replaced_during_the_join_is_not_left_in_the_space(
    tmp_path: Path, slow_joins: None, drop: bool
) -> None:
    """The connection asks for a space and, while the (slowed) join waits, a newer connection of the same
    account replaces it (4002: the old one's reader is cancelled mid-join) and does not come back to the
    space. Once the rejoin grace has passed the host is not counted as present (no participant without a
    connection), so the space is abandoned like any space its host left. The control stays: the host is
    there."""
    with trio.fail_after(30):
        async with in_process_server(tmp_path) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            async with connect_account(url, "ada") as ada:
                token, ada_id = ada.token, ada.user
            async with open_websocket_url(url) as ws:
                await ws.send_message(msgpack.packb({"type": "hello", "protocol": 2, "token": token}))
                assert msgpack.unpackb(await ws.get_message())["type"] == "welcome"
                await ws.send_message(msgpack.packb({"type": "create_space", "ref": 1, "title": "Dropped"}))
                if not drop:
                    while msgpack.unpackb(await ws.get_message()).get("ref") != 1:
                        pass
                    state = await hosted_state(server, ada_id)
                    assert ada_id in state.roles and state.unmoderated_since is None, "control: the host is there"
                    return
                await trio.sleep(SLOW_JOIN_S / 5)  # the join still waits when the newer connection comes
                async with connect(url, token=token):
                    with pytest.raises(ConnectionClosed) as replaced:
                        await ws.get_message()
                    assert replaced.value.reason.code == 4002
                    await trio.sleep(SLOW_JOIN_S * 3)
            state = await hosted_state(server, ada_id)
            assert ada_id not in state.roles, "a phantom host: nobody is there"
            assert state.unmoderated_since is not None, "the space counts its host as gone"
            while server.gateway.directory.hosted_by(ada_id) is not None:  # noqa: ASYNC110 (abandoned after the grace)
                await trio.sleep(0.1)
