"""The checks an `rtc_offer`'s SDP passes before aiortc sees it: one audio section that sends Opus, its ICE
credentials, DTLS fingerprint and candidates (non-trickle: the offer is sent once gathering is complete),
and bounds on its size and its candidates. Sans-IO; `gateway/webrtc/peer.py` uses it.
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from gateway.errors import BadSdp
from gateway.protocol import MAX_SDP_BYTES

MAX_CANDIDATES = 20
"""ICE candidates in one offer: the server checks connectivity to each (and so sends to each address)."""
SENDING = ("sendonly", "sendrecv")


def check_offer(sdp: str) -> SessionDescription:
    """The parsed offer, or `BadSdp`. aiortc's parser raises whatever its asserts and conversions raise on
    malformed input; every failure here is the offer's, so it becomes `BadSdp`."""
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise BadSdp(f"the SDP is over {MAX_SDP_BYTES} bytes")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception:  # AssertionError, ValueError, KeyError, IndexError...: all malformed SDP
        raise BadSdp("the SDP could not be parsed") from None
    if len(parsed.media) != 1 or parsed.media[0].kind != "audio":
        raise BadSdp("the offer must hold exactly one media section, of audio")
    media = parsed.media[0]
    if media.direction not in SENDING:
        raise BadSdp("the audio section must send (sendonly or sendrecv)")
    if not any(codec.mimeType.lower() == "audio/opus" for codec in media.rtp.codecs):
        raise BadSdp("the audio section must offer Opus")
    if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
        raise BadSdp("the offer has no ICE credentials (ice-ufrag, ice-pwd)")
    if media.dtls is None or not media.dtls.fingerprints:
        raise BadSdp("the offer has no DTLS fingerprint")
    if not media.ice_candidates:
        raise BadSdp("the offer has no ICE candidates: send it once ICE gathering is complete (no trickle)")
    if len(media.ice_candidates) > MAX_CANDIDATES:
        raise BadSdp(f"the offer has over {MAX_CANDIDATES} ICE candidates")
    return parsed
