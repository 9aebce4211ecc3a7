"""`stoa serve`'s WebRTC options (docs/operations.md, *WebRTC*): the STUN and TURN servers, the host
addresses, or no WebRTC at all; checked at start like every other option."""

from __future__ import annotations

import argparse
import ipaddress

from gateway.webrtc.ice import IceServer
from gateway.webrtc.service import RtcSettings


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--webrtc", choices=["on", "off"], default="on", help="accept speakers' WebRTC peer connections (default on)"
    )
    parser.add_argument(
        "--stun",
        action="append",
        default=[],
        metavar="URL",
        help="a STUN server for WebRTC, e.g. stun:stun.example.org:3478 (repeatable; default: none, host "
        "candidates only)",
    )
    parser.add_argument(
        "--turn",
        action="append",
        default=[],
        metavar="URL",
        help="a TURN server for WebRTC, e.g. turn:turn.example.org:3478?transport=udp (repeatable; needs "
        "--turn-username and --turn-password)",
    )
    parser.add_argument("--turn-username", metavar="NAME", help="the TURN servers' username")
    parser.add_argument("--turn-password", metavar="SECRET", help="the TURN servers' password")
    parser.add_argument(
        "--rtc-address",
        action="append",
        default=[],
        metavar="IP",
        help="gather WebRTC host candidates on exactly these addresses (repeatable; default: every interface's, "
        "and 127.0.0.1 too when --host is loopback)",
    )


def settings_of(args: argparse.Namespace) -> RtcSettings | None:
    """The WebRTC settings the options ask for (None: `--webrtc off`); `ValueError` naming the option for one
    that cannot be used."""
    if args.webrtc == "off":
        return None
    servers: list[IceServer] = []
    for url in args.stun:
        if not url.startswith("stun:") or len(url) == len("stun:"):
            raise ValueError(f"--stun must be a stun:host[:port] URL, not {url!r}")
        servers.append(IceServer(url))
    for url in args.turn:
        if not url.startswith(("turn:", "turns:")) or url.endswith(":"):
            raise ValueError(f"--turn must be a turn: or turns: URL, not {url!r}")
        if not args.turn_username or not args.turn_password:
            raise ValueError("--turn needs --turn-username and --turn-password")
        servers.append(IceServer(url, args.turn_username, args.turn_password))
    for address in args.rtc_address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"--rtc-address must be an IP address, not {address!r}") from None
    return RtcSettings(ice_servers=tuple(servers), addresses=tuple(args.rtc_address) or None)
