"""The settings of `stoa serve`: one tree (`_tree.py`, of `Setting`s: `_setting.py`), read from a TOML file,
the environment and flags (`_load.py`), written out as a sample file and a reference (`_render.py`), and
turned into the server's `GatewayConfig` here. docs/operations.md, Configuration, is the reference for people.
"""

from __future__ import annotations

from actors.space import MixConfig
from gateway.config._load import ENV_PREFIX, Item, SettingsError, check_file, items, load
from gateway.config._render import allowed, reference, sample, toml_value
from gateway.config._setting import Setting
from gateway.config._tree import Settings
from gateway.gateway_config import GatewayConfig
from gateway.limits import LimitSettings
from gateway.replays import DAY_S
from gateway.webhooks import RetryPolicy, WebhookConfig
from gateway.webrtc import IceServer, RtcSettings, TurnSettings
from mixer import BatchPolicy

__all__ = [
    "ENV_PREFIX",
    "Item",
    "Setting",
    "Settings",
    "SettingsError",
    "allowed",
    "check_file",
    "gateway_config",
    "items",
    "load",
    "reference",
    "sample",
    "toml_value",
]


def gateway_config(settings: Settings) -> GatewayConfig:
    """The server's configuration from `settings`: where each setting goes (one line each)."""
    server, web, hooks, recordings = settings.server, settings.web, settings.webhooks, settings.recordings
    return GatewayConfig(
        host=server.host,
        port=server.port,
        data_dir=server.data,
        allowed_origins=frozenset(web.allow_origins),
        mix=MixConfig(
            bitrate=settings.mix.bitrate, complexity=settings.mix.complexity, max_mixed=settings.mix.max_mixed
        ),
        transport="python" if server.transport == "python" else "rust",
        batching=BatchPolicy(
            fixed=server.frames_per_message,
            max_frames=server.max_frames_per_message,
            listeners_per_frame=server.listeners_per_frame,
        ),
        sndbuf=server.sndbuf,
        realtime_reader=server.realtime_reader,
        fanout_writers=server.fanout_writers,
        limits=LimitSettings(
            enabled=settings.limits.rate_limits,
            max_connections_per_address=settings.limits.max_connections_per_address,
        ),
        abandon_after_s=settings.spaces.abandon_after,
        resume_window_s=settings.spaces.resume_window,
        hello_timeout_s=settings.limits.hello_timeout,
        http_port=web.http_port,
        public_ws_url=web.public_ws_url,
        drain_timeout_s=settings.drain.timeout,
        metrics_token=settings.metrics.token,
        admin_token=settings.admin.token,
        webhooks=WebhookConfig(
            urls=tuple(hooks.urls),
            secret=hooks.secret,
            record=hooks.record,
            max_events=hooks.max_events,
            retry=RetryPolicy(hooks.retry_initial, hooks.retry_max),
        ),
        rtc=_rtc(settings),
        recording_retention_s=None if recordings.retention is None else recordings.retention * DAY_S,
        recording_link_lifetime_s=recordings.link_lifetime,
    )


def _rtc(settings: Settings) -> RtcSettings | None:
    webrtc = settings.webrtc
    if not webrtc.enabled:
        return None
    turn = None
    if webrtc.turn:
        if not webrtc.turn_secret:
            raise SettingsError(["webrtc.turn: needs webrtc.turn_secret (STOA_WEBRTC_TURN_SECRET)"])
        turn = TurnSettings(tuple(webrtc.turn), webrtc.turn_secret, webrtc.turn_ttl)
    stun = tuple(IceServer(url) for url in webrtc.stun)
    return RtcSettings(ice_servers=stun, turn=turn, addresses=webrtc.addresses or None)
