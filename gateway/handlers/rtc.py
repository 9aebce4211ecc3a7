"""WebRTC signalling requests: `get_rtc_config` gives the ICE servers (a TURN credential of the caller's own),
`rtc_offer` opens this connection's peer connection to send its microphone,
`rtc_close` closes it (docs/protocol.md, *WebRTC*). The session closes it too when its owner leaves the mic
or the space, or the connection closes."""

from __future__ import annotations

import time

from actors.space import errors as space_errors
from gateway import protocol as p
from gateway.context import Caller
from gateway.errors import RtcFailed


async def get_rtc_config(c: Caller, m: p.GetRtcConfig) -> p.RtcConfig:
    """The STUN servers, and the TURN servers with the caller's own credential (`<expiry>:<user id>`): made for
    this account's id alone, it stops working at its expiry; the secret that makes it never leaves the server."""
    rtc = c.services.rtc
    if rtc is None:
        raise RtcFailed("this server runs without WebRTC")
    assert c.user is not None  # the route is for accounts
    servers = [p.RtcIceServer(urls=[server.url]) for server in rtc.settings.ice_servers]
    turn, credential = rtc.settings.turn, rtc.credential_of(c.user, time.time())
    if turn is None or credential is None:
        return p.RtcConfig(ref=m.ref, ice_servers=servers, expires_at=None)
    servers.append(p.RtcIceServer(urls=list(turn.urls), username=credential.username, credential=credential.password))
    return p.RtcConfig(ref=m.ref, ice_servers=servers, expires_at=credential.expires_at_s * 1000)


async def rtc_offer(c: Caller, m: p.RtcOffer) -> p.RtcAnswer:
    if c.space is None:
        raise space_errors.NotInSpace("join a space before sending audio")
    if c.role is None or not c.role.on_mic:
        raise space_errors.NotASpeaker("only people on the mic send audio")
    rtc = c.services.rtc
    if rtc is None:
        raise RtcFailed("this server runs without WebRTC")

    def deliver(seq: int, captured_at: int, opus: bytes, level: int | None) -> bool:
        """One packet of this connection's peer connection: to its space's mixer input, as `audio` goes, with
        the level the sender measured (None: the mixer decodes it to learn it), when the sender is routed
        now (in a space, on the mic, not muted)."""
        space, user, role = c.space, c.user, c.role
        if space is None or user is None or role is None or not role.on_mic or c.muted:
            return False
        space.push_audio(user, seq, captured_at, opus, level)
        return True

    def closed(reason: str) -> None:
        c.send(p.encode(p.RtcClosed(reason=reason)))  # type: ignore[arg-type]

    answer = await rtc.open(c, m.sdp, deliver, closed)
    return p.RtcAnswer(ref=m.ref, sdp=answer)


async def rtc_close(c: Caller, m: p.RtcClose) -> None:
    rtc = c.services.rtc
    if rtc is not None:
        rtc.close(c, "closed", tell=False)
