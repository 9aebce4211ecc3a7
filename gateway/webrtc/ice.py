"""Where a peer connection's ICE looks for candidates: the STUN/TURN servers (settings, none by default) and
the host addresses its UDP sockets bind (aioice's list of this machine's interfaces, which leaves out
127.0.0.1, plus 127.0.0.1 when the server itself is bound to loopback, or exactly a list given by setting).

aiortc makes its ICE agent inside `setRemoteDescription` and gathers inside `setLocalDescription`; `bind_hosts`
sets the agent's addresses in between, for that one peer connection (no process-wide patch).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aioice.ice import Connection, get_host_addresses
from aiortc import RTCIceServer, RTCPeerConnection


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server (`stun:host:port`, `turn:host:port?transport=udp`, `turns:...`)."""

    url: str
    username: str | None = None
    credential: str | None = None

    def for_aiortc(self) -> RTCIceServer:
        return RTCIceServer(urls=self.url, username=self.username, credential=self.credential)


def browser_ice_urls(servers: tuple[IceServer, ...]) -> tuple[str, ...]:
    """The ICE servers a web page is told (`/config.json`, `ice_servers`): the STUN servers. Not the TURN
    servers: their password is the server's secret, and a browser behind a NAT needs no relay of its own, as
    the server's relayed candidate (gathered through TURN) reaches it once STUN has found its address."""
    return tuple(server.url for server in servers if server.url.startswith("stun:"))


def is_loopback(host: str) -> bool:
    """Whether a bind address is loopback only (`127.0.0.1`, `::1`, `localhost`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_addresses(loopback: bool, fixed: tuple[str, ...] | None = None) -> list[str]:
    """The addresses to gather host candidates on: `fixed` when given; otherwise this machine's interfaces
    (aioice's list: every address but loopback), and 127.0.0.1 too when the server is bound to loopback (a
    browser on this machine then reaches it either way)."""
    if fixed is not None:
        return list(fixed)
    found = get_host_addresses(use_ipv4=True, use_ipv6=True)
    return [*found, "127.0.0.1"] if loopback else found


def bind_hosts(pc: RTCPeerConnection, addresses: list[str]) -> None:
    """Make `pc`'s ICE agents gather their host candidates on `addresses` (STUN and TURN as configured).

    Call after `setRemoteDescription` (or `addTransceiver`) and before `setLocalDescription`."""
    for transceiver in pc.getTransceivers():
        agent = transceiver.receiver.transport.transport.iceGatherer._connection
        agent.gather_candidates = _gathering(agent, addresses)  # type: ignore[method-assign]


def _gathering(agent: Connection, addresses: list[str]):  # type: ignore[no-untyped-def]
    async def gather_candidates() -> None:
        """aioice's `gather_candidates` (aioice 0.10-0.13), on `addresses` instead of its own list."""
        if agent._local_candidates_start:
            return
        agent._local_candidates_start = True
        for component in sorted(agent._components):
            agent._local_candidates += await agent.get_component_candidates(component=component, addresses=addresses)
        agent._local_candidates_end = True

    return gather_candidates
