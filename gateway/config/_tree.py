"""The settings tree of `stoa serve`: every setting once, with its name, type, default, range, unit and doc.

Everything else is made from this tree: the TOML file's sections and keys, the `STOA_<SECTION>_<NAME>`
environment variables, the command-line flags, `stoa config sample`, `stoa config check`, and the reference in
docs/operations.md (a test compares it). Adding a setting: add one field to a section below with `setting(...)`
(its doc, and a flag if people set it by hand), then hand it to the code that uses it in `gateway_config`
(gateway/config/__init__.py). A new section is a new frozen dataclass and one field of `Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from actors.space import ABANDON_AFTER_S
from gateway.config._setting import ip_address, origin, setting, stun_url, turn_url, ws_url
from gateway.gateway_config import HELLO_TIMEOUT_S, RESUME_WINDOW_S
from gateway.limits import LimitSettings
from gateway.replays import LINK_LIFETIME_S, RETENTION_DAYS
from gateway.webhooks import url_problem
from gateway.webrtc import TURN_TTL_S
from mixer import BatchPolicy

MAX_FRAMES_PER_MESSAGE = BatchPolicy().max_frames
LISTENERS_PER_FRAME = BatchPolicy().listeners_per_frame or 0


@dataclass(frozen=True)
class ServerSettings:
    host: str = setting(
        "127.0.0.1",
        "address or name to bind: every address the name resolves to, on the same port (localhost: 127.0.0.1 "
        "and ::1); 0.0.0.0 for all IPv4 interfaces, :: for all IPv6",
        flag="--host",
    )
    port: int = setting(
        8765,
        "the WebSocket port (clients, docs/protocol.md); 0 lets the kernel pick one (the bound port is printed)",
        flag="--port",
        low=0,
        high=65535,
    )
    data: Path = setting(Path("data"), "the data folder (created if missing); the only place the server writes",
                         flag="--data")  # fmt: skip
    transport: str = setting(
        "rust",
        "rust: Rust reads every client socket (handshake, frames, keepalive; speakers' audio straight into the "
        "mixer) and the Rust fan-out writes every byte to clients; python: trio-websocket reads and writes, one "
        "send per listener per message (the benchmark's baseline)",
        flag="--transport",
        choices=("rust", "python"),
    )
    frames_per_message: int | None = setting(
        None,
        "20 ms audio frames per message to a space's audience. \"auto\": chosen from the listeners the server's "
        "fan-out sends to, 1 (the lowest delay) while the talking spaces have up to 2,500 listeners in all, and "
        "more as their audiences grow or while the fan-out's writers are saturated (docs/operations.md, Frames per "
        "message); a number: every space always that many (load tests that need one size)",
        flag="--frames-per-message",
        low=1,
        high=10,
        off="auto",
    )
    max_frames_per_message: int = setting(
        MAX_FRAMES_PER_MESSAGE,
        'with "auto": the most frames a message holds (a step of its own: 4 gives 1, 2, 3, 4)',
        flag="--max-frames-per-message",
        low=1,
        high=10,
    )
    listeners_per_frame: int = setting(
        LISTENERS_PER_FRAME,
        'with "auto": N frames per message serve up to N times this many listeners (of one space, or of all the '
        "talking spaces together if more); lower batches sooner (fewer sends, more delay)",
        flag="--listeners-per-frame",
        low=1,
        high=1_000_000,
    )
    sndbuf: int | None = setting(
        None,
        "SO_SNDBUF of each client socket (Rust transport); unset: the kernel's autotuning, with at most 16 KiB "
        "unsent either way (TCP_NOTSENT_LOWAT, on both transports), so a slow reader's audio waits in the fan-out's "
        "queue, where it is seen (`lagging`, 4000), not in a send buffer of megabytes. A small value bounds "
        "in-flight bytes too",
        flag="--sndbuf",
        low=1024,
        high=2**31 - 1,
        unit="bytes",
        example="65536",
    )
    fanout_writers: int = setting(
        2,
        "threads that write to clients (Rust transport), each to its own share of the connections; more shorten "
        "the wait of a queued message when one cannot keep up and cores allow (docs/operations.md, The fan-out's "
        "writers)",
        flag="--fanout-writers",
        low=1,
        high=64,
    )
    realtime_reader: bool = setting(
        True,
        "the Rust reader thread (every client byte; speakers' audio into the mixers) asks to run as soon as it "
        "wakes: SCHED_FIFO at the lowest real-time priority where allowed, else nice -10 (docs/operations.md, "
        "The reader's scheduling); off: as any thread",
        flag="--realtime-reader",
    )


@dataclass(frozen=True)
class WebSettings:
    http_port: int | None = setting(
        8080,
        'the HTTP port: the web client, /healthz, /readyz, /metrics; 0 picks one; "off" serves none of them',
        flag="--http-port",
        low=0,
        high=65535,
        off="off",
    )
    public_ws_url: str | None = setting(
        None,
        "the WebSocket URL the web client is told to use (/config.json) when a reverse proxy serves it; "
        "unset: the page's own host name on server.port",
        flag="--public-ws-url",
        example='"wss://spaces.example.org/ws"',
        check=ws_url,
    )
    allow_origins: tuple[str, ...] = setting(
        [],
        "browser origins allowed to connect, e.g. https://spaces.example.org; none: only loopback origins "
        "(clients that send no Origin, not browsers, are always allowed)",
        flag="--allow-origin",
        example='["https://spaces.example.org"]',
        check=origin,
    )


@dataclass(frozen=True)
class MixSettings:
    bitrate: int = setting(32000, "Opus bitrate of the mixes", flag="--bitrate", low=500, high=512_000, unit="bit/s")
    complexity: int = setting(5, "Opus encoder complexity, 0 (cheapest) to 10", flag="--complexity", low=0, high=10)
    max_mixed: int = setting(
        4, "at most this many of the loudest talkers are mixed; quiet microphones never are", flag="--max-mixed",
        low=1, high=13,
    )  # fmt: skip


@dataclass(frozen=True)
class SpacesSettings:
    abandon_after: float = setting(
        ABANDON_AFTER_S,
        "a live space whose host and co-hosts have all been gone this long ends (reason abandoned)",
        flag="--abandon-after",
        low=0.1,
        high=7 * 24 * 3600.0,
        unit="s",
    )
    resume_window: float = setting(
        RESUME_WINDOW_S,
        "how long a user whose connection dropped (or was replaced) keeps their place in a space, to resume it "
        "with the events they missed (docs/protocol.md, Reconnecting and resuming)",
        flag="--resume-window",
        low=0.1,
        high=3600.0,
        unit="s",
    )


@dataclass(frozen=True)
class LimitsSettings:
    rate_limits: bool = setting(
        True,
        "the per-request rate limits of docs/security.md; off only for load tests on a private network",
        flag="--rate-limits",
    )
    max_connections_per_address: int = setting(
        LimitSettings.max_connections_per_address,
        "open WebSocket connections from one client address, an IPv6 client by its /64 (one more gets HTTP 429); "
        "0: no cap (nor on its handshakes in progress)",
        flag="--max-connections-per-address",
        low=0,
        high=1_000_000,
    )
    hello_timeout: float = setting(
        HELLO_TIMEOUT_S,
        "a connection that has not said a successful hello this long after it opened is closed (4003, "
        "docs/protocol.md); shorter only for tests",
        flag="--hello-timeout",
        low=0.1,
        high=3600.0,
        unit="s",
    )


@dataclass(frozen=True)
class LogSettings:
    level: str = setting("INFO", "the least severe level logged", flag="--log-level",
                         choices=("DEBUG", "INFO", "WARNING", "ERROR"))  # fmt: skip
    format: str = setting(
        "auto",
        "json: one JSON object a line; text: aligned key=value for people; auto: text on a terminal, json otherwise",
        flag="--log-format",
        choices=("auto", "json", "text"),
    )


@dataclass(frozen=True)
class MetricsSettings:
    token: str | None = setting(
        None,
        "a bearer token that lets any address read /metrics (Authorization: Bearer TOKEN); requests from "
        "loopback that came through no proxy and carry no Authorization header may too (unset: only they). "
        "Prefer STOA_METRICS_TOKEN to the file",
        example='"change-me"',
        secret=True,
    )


@dataclass(frozen=True)
class WebRtcSettings:
    enabled: bool = setting(
        True, "accept speakers' WebRTC peer connections (rtc_offer, docs/protocol.md); off refuses them (rtc_failed)",
        flag="--webrtc",
    )  # fmt: skip
    stun: tuple[str, ...] = setting(
        [],
        "STUN servers for WebRTC (stun:host[:port]), the server's and the web client's (/config.json); none: host "
        "candidates only, nothing outside is contacted",
        flag="--stun",
        example='["stun:stun.example.org:3478"]',
        check=stun_url,
    )
    turn: tuple[str, ...] = setting(
        [],
        "TURN servers for browsers that cannot reach the server directly (turn:host[:port][?transport=udp or tcp], "
        "or turns:...): each account is given them, with a credential of its own that expires "
        "(get_rtc_config), made with webrtc.turn_secret; never in /config.json",
        flag="--turn",
        example='["turns:turn.example.org:443?transport=tcp"]',
        check=turn_url,
    )
    turn_secret: str | None = setting(
        None,
        "the secret shared with the TURN servers (coturn's static-auth-secret, with use-auth-secret) that makes each "
        "user's TURN credential; prefer STOA_WEBRTC_TURN_SECRET to the file",
        example='"change-me"',
        secret=True,
    )
    turn_ttl: int = setting(
        TURN_TTL_S,
        "how long a TURN credential is accepted after it is given (the TURN server then refuses it): longer than a "
        "person speaks on one peer connection",
        flag="--turn-ttl",
        low=60,
        high=7 * 24 * 3600,
        unit="s",
    )
    addresses: tuple[str, ...] = setting(
        [],
        "gather WebRTC host candidates on exactly these addresses; none: every interface's, and 127.0.0.1 too "
        "when server.host is loopback",
        flag="--rtc-address",
        example='["203.0.113.7"]',
        check=ip_address,
    )


@dataclass(frozen=True)
class AdminSettings:
    token: str | None = setting(
        None,
        "the bearer token of the admin API (/admin/... on the HTTP port, `stoa admin`): Authorization: Bearer "
        "TOKEN; unset: the admin API refuses every request. Prefer STOA_ADMIN_TOKEN to the file",
        example='"change-me-too"',
        secret=True,
    )


@dataclass(frozen=True)
class WebhooksSettings:
    urls: tuple[str, ...] = setting(
        [],
        "receivers' URLs: each gets every event (docs/operations.md, Webhooks), in order, signed with `secret`",
        flag="--webhook-url",
        example='["https://backend.example.org/stoa-events"]',
        check=url_problem,
    )
    secret: str | None = setting(
        None,
        "the Standard Webhooks secret (whsec_<base64>, or any text) that signs every delivery. Prefer "
        "STOA_WEBHOOKS_SECRET to the file",
        example='"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"',
        secret=True,
    )
    record: bool = setting(False, "write the outbox even with no URL, for GET /admin/events", flag="--webhook-record")
    max_events: int = setting(
        100_000,
        "the outbox's bound: past it, events every receiver acknowledged are deleted, and if it is still full new "
        "events are dropped (counted, logged); changes themselves are never refused",
        low=100,
        high=100_000_000,
    )
    retry_initial: float = setting(0.5, "the first wait before a failed delivery is sent again (then doubled)",
                                   low=0.01, high=3600.0, unit="s")  # fmt: skip
    retry_max: float = setting(30.0, "the longest wait between two attempts of one delivery", low=0.01,
                               high=3600.0, unit="s")  # fmt: skip


@dataclass(frozen=True)
class DrainSettings:
    timeout: float = setting(
        30.0,
        "how long a drain (SIGTERM, stoa drain) waits for clients to go before the server exits anyway",
        flag="--drain-timeout",
        low=0.0,
        high=3600.0,
        unit="s",
    )


@dataclass(frozen=True)
class RecordingsSettings:
    retention: float | None = setting(
        RETENTION_DAYS,
        "recordings that ended longer ago than this are deleted, their files and records (checked every hour); "
        '"forever" keeps them until their host deletes them',
        flag="--recording-retention",
        low=0.0001,
        high=36500.0,
        unit="days",
        off="forever",
    )
    link_lifetime: float = setting(
        LINK_LIFETIME_S,
        "how long a recording's download link (from get_recording) works; a player asks for fresh ones",
        low=10.0,
        high=86400.0,
        unit="s",
    )


@dataclass(frozen=True)
class Settings:
    """Every setting of `stoa serve`, by section (a TOML table each)."""

    server: ServerSettings = field(default_factory=ServerSettings)
    web: WebSettings = field(default_factory=WebSettings)
    mix: MixSettings = field(default_factory=MixSettings)
    spaces: SpacesSettings = field(default_factory=SpacesSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    drain: DrainSettings = field(default_factory=DrainSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    webhooks: WebhooksSettings = field(default_factory=WebhooksSettings)
    webrtc: WebRtcSettings = field(default_factory=WebRtcSettings)
    recordings: RecordingsSettings = field(default_factory=RecordingsSettings)


SECTION_DOCS = {
    "server": "The WebSocket gateway and its data.",
    "web": "The HTTP port: the web client, health checks and metrics.",
    "mix": "The mix every listener hears.",
    "spaces": "Spaces' lifetime.",
    "limits": "Rate limits and caps (each limit's value: docs/security.md).",
    "log": "Logs go to stderr.",
    "metrics": "Prometheus metrics at /metrics on the HTTP port.",
    "drain": "Draining: SIGTERM or `stoa drain`.",
    "admin": "The admin API for back-ends (docs/operations.md, Admin API).",
    "webhooks": "Events for back-ends, signed and delivered in order (docs/operations.md, Webhooks).",
    "webrtc": "Browsers' microphones over WebRTC (docs/operations.md, WebRTC).",
    "recordings": "Recorded spaces: retention and downloads (docs/recording.md).",
}
