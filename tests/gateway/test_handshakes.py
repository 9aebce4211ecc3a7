"""The Python transport's count of handshakes in progress, by client key, on fake streams (loopback has no
second address in one IPv6 /64; tests/e2e/test_handshakes.py counts real sockets), and its wait for room
past the cap in all, on trio's mock clock. (Async: a handshake's start is stamped on trio's clock.)"""

from __future__ import annotations

from typing import cast

import pytest
import trio
import trio.testing

from gateway.handshakes import Handshakes


class FakeSocket:
    """What `Handshakes` asks of a stream's socket: its peer, and whether it is closed."""

    def __init__(self, address: str, port: int) -> None:
        self.peer = (address, port, 0, 0)
        self.closed = False

    def getpeername(self) -> tuple[str, int, int, int]:
        return self.peer

    def fileno(self) -> int:
        return -1 if self.closed else 3


class FakeStream:
    def __init__(self, address: str, port: int) -> None:
        self.socket = FakeSocket(address, port)


def stream(address: str, port: int = 40000) -> trio.SocketStream:
    return cast("trio.SocketStream", FakeStream(address, port))


async def test_addresses_of_one_ipv6_64_share_its_cap_even_from_the_same_port() -> None:
    refused: list[str] = []
    handshakes = Handshakes(per_address=2, total=100, refused=refused.append)
    first, second = stream("2001:db8:0:1::1"), stream("2001:db8:0:1::2")  # one port, two addresses
    assert handshakes.start(first) is None and handshakes.start(second) is None
    third = stream("2001:db8:0:1:ffff::3")
    assert handshakes.start(third) is third, "a third address of the /64 is the same client"
    assert refused == ["handshakes_per_address"]
    assert handshakes.start(stream("2001:db8:0:2::1")) is None, "another /64 is another client"
    assert handshakes.in_progress("2001:db8:0:1::77") == 2 and handshakes.in_progress() == 3

    handshakes.finished("2001:db8:0:1::2", 40000)  # its request was read: the first is still counted
    assert handshakes.in_progress("2001:db8:0:1::1") == 1
    cast(FakeStream, first).socket.closed = True  # trio-websocket closed it: found when next counted
    assert handshakes.start(stream("2001:db8:0:1::4")) is None
    assert handshakes.in_progress("2001:db8:0:1::") == 1


async def test_an_ipv4_client_reported_as_mapped_is_counted_as_its_ipv4_address() -> None:
    refused: list[str] = []
    handshakes = Handshakes(per_address=2, total=100, refused=refused.append)
    assert handshakes.start(stream("192.0.2.1", 1)) is None
    assert handshakes.start(stream("::ffff:192.0.2.1", 2)) is None
    late = stream("192.0.2.1", 3)
    assert handshakes.start(late) is late and refused == ["handshakes_per_address"]
    assert handshakes.start(stream("::ffff:192.0.2.2", 4)) is None, "mapped addresses are not all one client"
    assert handshakes.start(stream("::1", 5)) is None


async def test_past_the_cap_in_all_a_newcomer_waits_for_a_handshake_to_end_or_the_oldest_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    refused: list[str] = []
    handshakes = Handshakes(per_address=16, total=2, refused=refused.append, grace=1.0)
    t0 = trio.current_time()
    oldest = stream("192.0.2.1", 1)
    assert handshakes.start(oldest) is None
    await trio.sleep(0.3)
    assert handshakes.start(stream("192.0.2.1", 2)) is None

    # One ends (its request was read) 0.2 s in: the waiting newcomer is counted in, and no one is ended.
    async def finish_one() -> None:
        await trio.sleep(0.2)
        handshakes.finished("192.0.2.1", 2)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(finish_one)
        await handshakes.room()
    assert trio.current_time() - t0 == pytest.approx(0.5)
    third = stream("192.0.2.1", 3)
    assert handshakes.start(third) is None and refused == []

    # Full again, and none ends: the newcomer waits out the oldest's grace (1 s from its start), then ends it.
    await handshakes.room()
    assert trio.current_time() - t0 == pytest.approx(1.0)
    assert handshakes.start(stream("192.0.2.1", 4)) is oldest and refused == ["handshakes"]

    # Full again; one that trio-websocket closed unseen (a bad request) is found as the newcomer counts: room.
    cast(FakeStream, third).socket.closed = True
    await handshakes.room()
    assert trio.current_time() - t0 == pytest.approx(1.0) and handshakes.in_progress() == 1
