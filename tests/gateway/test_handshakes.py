"""The Python transport's count of handshakes in progress, by client key, on fake streams (loopback has no
second address in one IPv6 /64; tests/e2e/test_handshakes.py counts real sockets), and what it closes past
the cap in all."""

from __future__ import annotations

from typing import cast

import trio

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


def test_addresses_of_one_ipv6_64_share_its_cap_even_from_the_same_port() -> None:
    refused: list[str] = []
    handshakes = Handshakes(per_address=2, total=100, refused=refused.append)
    first, second = stream("2001:db8:0:1::1"), stream("2001:db8:0:1::2")  # one port, two addresses
    assert handshakes.start(first, whole=False) is None and handshakes.start(second, whole=False) is None
    third = stream("2001:db8:0:1:ffff::3")
    assert handshakes.start(third, whole=False) is third, "a third address of the /64 is the same client"
    assert refused == ["handshakes_per_address"]
    assert handshakes.start(stream("2001:db8:0:2::1"), whole=False) is None, "another /64 is another client"
    assert handshakes.in_progress("2001:db8:0:1::77") == 2 and handshakes.in_progress() == 3

    handshakes.finished("2001:db8:0:1::2", 40000)  # its request was read: the first is still counted
    assert handshakes.in_progress("2001:db8:0:1::1") == 1
    cast(FakeStream, first).socket.closed = True  # trio-websocket closed it: found when next counted
    assert handshakes.start(stream("2001:db8:0:1::4"), whole=False) is None
    assert handshakes.in_progress("2001:db8:0:1::") == 1


def test_an_ipv4_client_reported_as_mapped_is_counted_as_its_ipv4_address() -> None:
    refused: list[str] = []
    handshakes = Handshakes(per_address=2, total=100, refused=refused.append)
    assert handshakes.start(stream("192.0.2.1", 1), whole=False) is None
    assert handshakes.start(stream("::ffff:192.0.2.1", 2), whole=False) is None
    late = stream("192.0.2.1", 3)
    assert handshakes.start(late, whole=False) is late and refused == ["handshakes_per_address"]
    assert handshakes.start(stream("::ffff:192.0.2.2", 4), whole=False) is None, (
        "mapped addresses are not all one client"
    )
    assert handshakes.start(stream("::1", 5), whole=False) is None


def test_past_the_cap_in_all_a_request_not_whole_ends_the_oldest_and_a_whole_one_ends_no_one() -> None:
    refused: list[str] = []
    handshakes = Handshakes(per_address=16, total=2, refused=refused.append)
    oldest, second = stream("192.0.2.1", 1), stream("192.0.2.2", 2)
    assert handshakes.start(oldest, whole=False) is None and handshakes.start(second, whole=False) is None
    assert handshakes.start(stream("192.0.2.3", 3), whole=True) is None, "a whole request needs no slot"
    assert refused == [] and handshakes.in_progress() == 2, "and is not counted"
    handshakes.finished("192.0.2.3", 3)  # trio-websocket read it: nothing to forget
    assert handshakes.start(stream("192.0.2.4", 4), whole=False) is oldest and refused == ["handshakes"]
    assert handshakes.in_progress() == 2


def test_a_whole_request_from_an_address_at_its_cap_gets_in() -> None:
    refused: list[str] = []
    handshakes = Handshakes(per_address=2, total=100, refused=refused.append)
    for port in (1, 2):
        assert handshakes.start(stream("192.0.2.1", port), whole=False) is None
    half = stream("192.0.2.1", 3)
    assert handshakes.start(half, whole=False) is half and refused == ["handshakes_per_address"]
    assert handshakes.start(stream("192.0.2.1", 4), whole=True) is None, "a neighbour behind the same NAT"
    assert refused == ["handshakes_per_address"]
