"""`GatewayConfig`: what one gateway server runs with, as `serve()` takes it (`gateway/config/` builds it from
the settings file, the environment and the flags; tests and benchmarks make their own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from actors.space import ABANDON_AFTER_S, MixConfig
from gateway.limits import LimitSettings
from gateway.replays import DAY_S, LINK_LIFETIME_S, RETENTION_DAYS
from gateway.webhooks import WebhookConfig
from gateway.webrtc import RtcSettings
from mixer import BatchPolicy

RESUME_WINDOW_S = 60.0
"""How long the user of a dropped (or replaced) connection keeps their place in its space (`resume`)."""
HELLO_TIMEOUT_S = 10.0
"""How long a new connection has to say a successful `hello` (close 4003 after; docs/protocol.md)."""


@dataclass(frozen=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = Path("data")
    allowed_origins: frozenset[str] = frozenset()
    """Browser origins allowed to connect ("scheme://host[:port]"). Empty: only loopback origins. A client
    that sends no Origin header (not a browser) is always allowed; the origin "null" never is."""
    mix: MixConfig = field(default_factory=MixConfig)
    transport: Literal["rust", "python"] = "rust"
    batching: BatchPolicy = field(default_factory=BatchPolicy)
    """20 ms frames per message to a space's audience: chosen per space from its audience's size (the
    default), or fixed (`docs/operations.md`, Frames per message)."""
    max_queue_bytes: int = 256 * 1024
    max_audio_messages: int = 64
    sndbuf: int | None = None
    """SO_SNDBUF of client sockets (Rust transport); None leaves the kernel's autotuning."""
    realtime_reader: bool = True
    """The Rust reader thread asks to run first (`mixer.Wire`'s `realtime`; docs/operations.md)."""
    fanout_writers: int = 2
    """The Rust fan-out's writer threads (`mixer.Fanout`'s `writers`; docs/operations.md)."""
    limits: LimitSettings = field(default_factory=LimitSettings)
    abandon_after_s: float = ABANDON_AFTER_S
    """A live space whose host and co-hosts have all been gone this long ends with reason `abandoned`."""
    gc_policy: bool = True
    """Run `GcPolicy` (bounded collection pauses; docs/operations.md). Off only to measure without it."""
    resume_window_s: float = RESUME_WINDOW_S
    """A connection that dropped (or was replaced) keeps its user's place in its space this long."""
    hello_timeout_s: float = HELLO_TIMEOUT_S
    """A connection with no successful `hello` this long after it opened is closed with 4003."""
    http_port: int | None = None
    """The web client's and HTTP routes' port (0 picks a free one); None: no HTTP server."""
    public_ws_url: str | None = None
    """The WebSocket URL the web client connects to, when a reverse proxy serves it (docs/operations.md)."""
    drain_timeout_s: float = 30.0
    """How long a drain waits for clients to go (`Gateway.drain`)."""
    metrics_token: str | None = None
    """A bearer token that lets any address read /metrics; None: loopback with no credentials only
    (gateway/http/ops.py)."""
    admin_token: str | None = None
    """The admin API's bearer token (gateway/http/admin.py); None: the admin API refuses every request."""
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    rtc: RtcSettings | None = field(default_factory=RtcSettings)
    """WebRTC for speakers (`gateway/webrtc/`); None: `rtc_offer` is refused with `rtc_failed`."""
    recording_retention_s: float | None = RETENTION_DAYS * DAY_S
    """Recordings that ended longer ago than this are deleted, files and records; None keeps them."""
    recording_link_lifetime_s: float = LINK_LIFETIME_S
    """How long a download link from `get_recording` works (docs/recording.md)."""
