"""The WebRTC signalling messages (docs/protocol.md, *WebRTC*): the ICE servers to use, a speaker's offer and its
answer, the close of a peer connection either way. `_messages.py` puts them in the unions."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from stoa_protocol._accounts import AccountRequest
from stoa_protocol._base import Request

MAX_SDP_BYTES = 16 * 1024
"""An `rtc_offer`'s `sdp` (UTF-8): a browser's audio offer with its candidates is 2 to 6 KB."""

Sdp = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SDP_BYTES)]

RtcCloseReason = Literal["left_mic", "left_space", "failed", "closed", "internal"]


class RtcOffer(Request, tag="rtc_offer", frozen=True):
    """Open a peer connection to send this connection's microphone: `sdp` is the offer, sent once ICE
    gathering is complete (its candidates in it; no trickle)."""

    sdp: Sdp


class RtcClose(Request, tag="rtc_close", frozen=True):
    """Close this connection's peer connection (`ok` whether or not one was open)."""


class RtcAnswer(msgspec.Struct, frozen=True, tag_field="type", tag="rtc_answer"):
    """The reply to `rtc_offer`: the server's answer, with all its candidates."""

    ref: int
    sdp: str


class RtcClosed(msgspec.Struct, frozen=True, tag_field="type", tag="rtc_closed"):
    """The server closed this connection's peer connection, for `reason`."""

    reason: RtcCloseReason


class GetRtcConfig(AccountRequest, tag="get_rtc_config", frozen=True):
    """The ICE servers this connection's account may use for its next peer connection: the STUN servers, and
    the TURN servers with a credential of its own that expires. User-level (about no space), as the account
    requests are."""


class RtcIceServer(msgspec.Struct, frozen=True, omit_defaults=True):
    """One entry of `RTCPeerConnection`'s `iceServers`, in its own shape (`urls`, `username`, `credential`)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class RtcConfig(msgspec.Struct, frozen=True, tag_field="type", tag="rtc_config"):
    """The reply to `get_rtc_config`. `expires_at` (unix ms) is when the TURN credential stops being accepted
    for new allocations; nil when there is no TURN server."""

    ref: int
    ice_servers: list[RtcIceServer]
    expires_at: int | None
