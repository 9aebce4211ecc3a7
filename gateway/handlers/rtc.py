"""WebRTC signalling requests: `rtc_offer` opens this connection's peer connection to send its microphone,
`rtc_close` closes it (docs/protocol.md, *WebRTC*). The session closes it too when its owner leaves the mic
or the space, or the connection closes."""

from __future__ import annotations

from actors.space import errors as space_errors
from gateway import protocol as p
from gateway.context import Caller
from gateway.errors import RtcFailed


async def rtc_offer(c: Caller, m: p.RtcOffer) -> p.RtcAnswer:
    if c.space is None:
        raise space_errors.NotInSpace("join a space before sending audio")
    if c.role is None or not c.role.on_mic:
        raise space_errors.NotASpeaker("only people on the mic send audio")
    rtc = c.services.rtc
    if rtc is None:
        raise RtcFailed("this server runs without WebRTC")

    def deliver(seq: int, captured_at: int, opus: bytes) -> bool:
        """One packet of this connection's peer connection: to its space's mixer input, as `audio` goes, when
        the sender is routed now (in a space, on the mic, not muted)."""
        space, user, role = c.space, c.user, c.role
        if space is None or user is None or role is None or not role.on_mic or c.muted:
            return False
        space.push_audio(user, seq, captured_at, opus)
        return True

    def closed(reason: str) -> None:
        c.send(p.encode(p.RtcClosed(reason=reason)))  # type: ignore[arg-type]

    answer = await rtc.open(c, m.sdp, deliver, closed)
    return p.RtcAnswer(ref=m.ref, sdp=answer)


async def rtc_close(c: Caller, m: p.RtcClose) -> None:
    rtc = c.services.rtc
    if rtc is not None:
        rtc.close(c, "closed", tell=False)
