"""Admission's cap on open connections per address, by client key: two addresses of one IPv6 /64 are one
client, another /64 is another, and an IPv4 client is one whether its socket reports it as IPv4 or
IPv4-mapped. (Real sockets reach the cap in tests/e2e/test_rate_limits.py; loopback has no second address in
one /64, so here the addresses are handed to `admit` as the transports would.)"""

from __future__ import annotations

from gateway.admission import Admission
from gateway.limits import Limits, LimitSettings


def admission(cap: int) -> Admission:
    return Admission(frozenset(), Limits(LimitSettings(max_connections_per_address=cap)))


def status(gate: Admission, address: str) -> int:
    """What an upgrade from `address` gets: 101 (admitted, and counted in) or the refusal's status."""
    refusal = gate.admit(1, [], address, draining=False)
    return 101 if refusal is None else refusal.status


def test_every_address_of_one_ipv6_64_counts_against_its_one_cap() -> None:
    gate = admission(2)
    assert [status(gate, a) for a in ("2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:1:ffff::3")] == [
        101,
        101,
        429,
    ]
    assert status(gate, "2001:db8:0:2::1") == 101, "another /64 is another client"
    gate.leave("2001:db8:0:1::2")  # counted out by its key, from whichever address
    assert status(gate, "2001:db8:0:1::9") == 101
    assert gate.limits.refused_by == {"connections_per_address": 1}


def test_an_ipv4_client_is_one_whether_reported_as_ipv4_or_mapped() -> None:
    gate = admission(2)
    assert [status(gate, a) for a in ("192.0.2.1", "::ffff:192.0.2.1", "192.0.2.1")] == [101, 101, 429]
    assert status(gate, "::ffff:192.0.2.2") == 101, "mapped addresses are not all one client"
    assert status(gate, "::1") == 101
    gate.leave("::ffff:192.0.2.1")
    gate.leave("192.0.2.1")
    gate.leave("::ffff:192.0.2.2")
    gate.leave("::1")
    assert gate.per_address == {}, "every count is gone once its connections are"
