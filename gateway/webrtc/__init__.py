"""WebRTC for speakers: signalling on the WebSocket (`rtc_offer` -> `rtc_answer`, `rtc_close`), aiortc on one
asyncio loop bridged into Trio, Opus RTP payloads to the space's mixer input undecoded (docs/protocol.md,
*WebRTC*). The mix a browser speaker hears still comes over its WebSocket (ARCHITECTURE.md)."""

from gateway.protocol import MAX_SDP_BYTES
from gateway.webrtc.ice import IceServer, bind_hosts, browser_ice_urls, host_addresses, is_loopback
from gateway.webrtc.peer import Deliver, PeerStats, RtcPeer
from gateway.webrtc.rtp import RtpStream
from gateway.webrtc.sdp import MAX_CANDIDATES, check_offer
from gateway.webrtc.service import RtcService, RtcSettings
from gateway.webrtc.turn import TURN_TTL_S, TurnCredential, TurnSettings, turn_credential

__all__ = [
    "MAX_CANDIDATES",
    "MAX_SDP_BYTES",
    "TURN_TTL_S",
    "Deliver",
    "IceServer",
    "PeerStats",
    "RtcPeer",
    "RtcService",
    "RtcSettings",
    "RtpStream",
    "TurnCredential",
    "TurnSettings",
    "bind_hosts",
    "browser_ice_urls",
    "check_offer",
    "host_addresses",
    "is_loopback",
    "turn_credential",
]
