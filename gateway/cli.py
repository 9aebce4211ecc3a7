"""The `stoa` command: `stoa serve` runs a server with embedded defaults (no other service needed).

Start-up refuses what would fail later (a setting out of range, a busy port, a data folder another server
uses) with one line on stderr naming the option, and exit code 2 (docs/security.md, Start-up checks).
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import IO, NoReturn
from urllib.parse import urlsplit

import trio

from actors.space import ABANDON_AFTER_S, MixConfig
from gateway import terminal
from gateway.limits import LimitSettings
from gateway.server import GatewayConfig, Server, serve
from gateway.webrtc import RtcSettings, options as rtc_options

LOCK_FILE = "stoa.lock"
"""Held (flock, exclusive) by the server using a data folder, for its whole life; it holds that server's pid."""

SERVE_RANGES: dict[str, tuple[int, int, str]] = {
    "port": (0, 65535, ""),
    "http_port": (0, 65535, ""),
    "bitrate": (500, 512_000, " bit/s"),  # libopus' range, as the mixer checks it (mixer-rs/core/src/codec.rs)
    "complexity": (0, 10, ""),  # the same
    "max_mixed": (1, 13, ""),  # the mixer's (mixer-rs/core/src/mixer.rs): at most 13 people are on the mic
    "frames_per_message": (1, 10, ""),
    "sndbuf": (1024, 2**31 - 1, " bytes"),
    "max_connections_per_address": (0, 1_000_000, ""),  # 0: no cap
}
"""Each integer option of `stoa serve`: (lowest, highest, unit)."""

ABANDON_AFTER_RANGE = (0.1, 7 * 24 * 3600.0)
"""`--abandon-after`, seconds: a tenth of a second (tests) to a week."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Refused(Exception):
    """A setting `stoa serve` cannot start with; its message is the one line printed."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """A usage error in one line (not the whole usage text), exit code 2 as argparse's."""
        self.exit(2, f"{self.prog}: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="stoa", description="Stoa: live audio spaces.")
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("serve", help="run a server")
    s.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default 8765)")
    s.add_argument(
        "--http-port",
        type=_http_port,
        default=8080,
        metavar="PORT",
        help="the web client's port (HTTP); 0 picks a free one, 'off' serves no web client (default 8080)",
    )
    s.add_argument(
        "--public-ws-url",
        metavar="URL",
        help="the WebSocket URL the web client connects to when a reverse proxy serves it, e.g. "
        "wss://spaces.example.org/ws (default: the page's host name on --port)",
    )
    s.add_argument("--data", type=Path, default=Path("data"), help="data folder (default ./data)")
    s.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed to connect, e.g. https://spaces.example.org (repeatable); "
        "without any, only loopback origins and non-browser clients are allowed",
    )
    s.add_argument("--bitrate", type=int, default=32000, help="Opus bitrate of the mix, bit/s (default 32000)")
    s.add_argument("--complexity", type=int, default=5, help="Opus encoder complexity 0-10 (default 5)")
    s.add_argument("--max-mixed", type=int, default=4, help="at most this many loudest talkers mixed (default 4)")
    s.add_argument(
        "--transport",
        choices=["rust", "python"],
        default="rust",
        help="who writes to client sockets: the Rust fan-out (default) or trio-websocket per listener (baseline)",
    )
    s.add_argument(
        "--frames-per-message",
        type=int,
        default=1,
        metavar="N",
        help="20 ms audio frames per listener message: 1 for the lowest delay (default), up to 10 for scale",
    )
    s.add_argument(
        "--sndbuf",
        type=int,
        metavar="BYTES",
        help="kernel send buffer per client socket (Rust transport); default: the kernel's autotuning",
    )
    s.add_argument(
        "--max-connections-per-address",
        type=int,
        default=LimitSettings.max_connections_per_address,
        metavar="N",
        help="open WebSocket connections from one client address; more are refused with HTTP 429; 0: no cap "
        f"(default {LimitSettings.max_connections_per_address})",
    )
    s.add_argument(
        "--rate-limits",
        choices=["on", "off"],
        default="on",
        help="per-request rate limits (docs/security.md); 'off' only for load tests on a private network",
    )
    s.add_argument(
        "--abandon-after",
        type=float,
        default=ABANDON_AFTER_S,
        metavar="SECONDS",
        help="end a live space whose host and co-hosts have all been gone this long (default 600)",
    )
    rtc_options.add_options(s)
    s.add_argument("--log-level", default="INFO", help=f"{', '.join(LOG_LEVELS)} (default INFO)")
    _add_load_parser(commands)
    terminal.listen.add_parser(commands)
    terminal.speak.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "load":
        return _load(args)
    if args.command in ("listen", "speak"):
        return int(getattr(terminal, args.command).run(args))

    try:
        _check_settings(args)
        rtc = _rtc_settings(args)
        lock = _lock_data_folder(args.data)
    except Refused as refused:
        return _refuse(str(refused))
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = GatewayConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data,
        allowed_origins=frozenset(args.allow_origin),
        mix=MixConfig(bitrate=args.bitrate, complexity=args.complexity, max_mixed=args.max_mixed),
        transport=args.transport,
        frames_per_message=args.frames_per_message,
        sndbuf=args.sndbuf,
        limits=LimitSettings(
            enabled=args.rate_limits == "on", max_connections_per_address=args.max_connections_per_address
        ),
        abandon_after_s=args.abandon_after,
        http_port=args.http_port,
        public_ws_url=args.public_ws_url,
        rtc=rtc,
    )
    started: list[Server] = []
    with lock:
        try:
            trio.run(_serve_until_signal, config, started)
        except Exception as error:
            failure = None if started else _os_error_in(error)
            if failure is None:
                raise
            if "--http-port" in str(failure.strerror):
                return _refuse(f"--http-port: cannot listen on {args.host}:{args.http_port}: {failure.strerror}")
            return _refuse(f"--host/--port: cannot listen on {args.host}:{args.port}: {failure.strerror or failure}")
    return 0


def _refuse(line: str) -> int:
    print(f"stoa serve: {line}", file=sys.stderr)
    return 2


def _check_settings(args: argparse.Namespace) -> None:
    """Raise `Refused` naming the first option out of its range."""
    for name, (lowest, highest, unit) in SERVE_RANGES.items():
        value = getattr(args, name)
        if value is not None and not lowest <= value <= highest:
            option = "--" + name.replace("_", "-")
            raise Refused(f"{option} must be {lowest} to {highest}{unit}, not {value}")
    if not ABANDON_AFTER_RANGE[0] <= args.abandon_after <= ABANDON_AFTER_RANGE[1]:
        low, high = ABANDON_AFTER_RANGE
        raise Refused(f"--abandon-after must be {low:g} to {high:g} s, not {args.abandon_after:g}")
    if args.log_level.upper() not in LOG_LEVELS:
        raise Refused(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {args.log_level}")
    if args.public_ws_url is not None and urlsplit(args.public_ws_url).scheme not in ("ws", "wss"):
        raise Refused(f"--public-ws-url must be a ws:// or wss:// URL, not {args.public_ws_url!r}")
    for origin in args.allow_origin:
        if not _is_origin(origin):
            raise Refused(f"--allow-origin must be scheme://host[:port] (http or https, no path), not {origin!r}")


def _rtc_settings(args: argparse.Namespace) -> RtcSettings | None:
    try:
        return rtc_options.settings_of(args)
    except ValueError as e:
        raise Refused(str(e)) from None


def _http_port(value: str) -> int | None:
    """`--http-port`: a port number, or 'off'."""
    if value == "off":
        return None
    return int(value)


def _url_host(host: str) -> str:
    """The host part of a URL for a bind address: a wildcard bind is reached on loopback from this machine."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _is_origin(origin: str) -> bool:
    """What a browser sends as `Origin`: lowercase http(s)://host[:port], nothing after it."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number in range)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and not (parts.path or parts.query or parts.fragment)
        and origin == origin.lower()
    )


def _lock_data_folder(data: Path) -> IO[str]:
    """Create the data folder if needed and take its lock (kept until the returned file is closed): two servers
    on one folder would both restore, and both run, every live space."""
    try:
        data.mkdir(parents=True, exist_ok=True)
        lock = open(data / LOCK_FILE, "a+")  # held for the server's life
    except OSError as e:
        raise Refused(f"--data {data}: cannot use this folder: {e.strerror or e}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise Refused(f"--data {data}: another stoa server (pid {holder}) is using this folder") from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _os_error_in(error: BaseException) -> OSError | None:
    """The OSError inside `error` (through exception groups), if any."""
    if isinstance(error, OSError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _os_error_in(inner)
            if found is not None:
                return found
    return None


def _watch_gc_pauses(threshold_s: float = 0.05) -> None:
    """Log every garbage-collector pause long enough to be heard (it stops the event loop)."""
    log = logging.getLogger("gateway")
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            took = time.perf_counter() - started[0]
            if took > threshold_s:
                log.warning("gc generation %d took %.0f ms (%d collected)", info["generation"], took * 1000,
                            info["collected"])  # fmt: skip

    gc.callbacks.append(on_gc)


def _add_load_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    ld = commands.add_parser("load", help="load-test a server with speakers and many listeners")
    ld.add_argument("--listeners", type=int, default=100, help="listeners per space (default 100)")
    ld.add_argument("--speakers", type=int, default=3, help="speakers per space, all talking (default 3)")
    ld.add_argument("--spaces", type=int, default=1, help="spaces (default 1)")
    ld.add_argument("--duration", type=float, default=20.0, help="seconds measured after the ramp (default 20)")
    ld.add_argument("--ramp", type=float, default=5.0, help="seconds over which listeners connect (default 5)")
    ld.add_argument("--url", help="a running server's ws:// address; without it, one is started here")
    ld.add_argument("--server-pid", type=int, help="with --url: the server's pid, to measure its CPU and memory")
    ld.add_argument("--transport", choices=["rust", "python"], default="rust", help="for the started server")
    ld.add_argument("--frames-per-message", type=int, default=1, help="for the started server (default 1)")
    ld.add_argument("--processes", type=int, default=0, help="listener processes (default: one per 6,000)")
    ld.add_argument("--sample", type=int, default=2, help="Python listeners that decode the audio (default 2)")
    ld.add_argument("--wav", type=Path, help="48 kHz mono 16-bit WAV the speakers say (default: a tone each)")
    ld.add_argument("--out", type=Path, default=Path("load-results"), help="folder for report.json and report.png")


def _load(args: argparse.Namespace) -> int:
    from loadtest.run import LoadConfig, run

    config = LoadConfig(
        listeners=args.listeners,
        speakers=args.speakers,
        spaces=args.spaces,
        duration_s=args.duration,
        ramp_s=args.ramp,
        url=args.url,
        server_pid=args.server_pid,
        transport=args.transport,
        frames_per_message=args.frames_per_message,
        processes=args.processes,
        sample=args.sample,
        wav=args.wav,
        out=args.out,
    )
    report = trio.run(run, config)
    brief = {k: report[k] for k in ("listeners", "latency_ms", "listener_frames_per_s", "server", "samples")}
    print(json.dumps(brief, indent=2))
    print(f"report: {args.out / 'report.json'}, plot: {args.out / 'report.png'}")
    return 0


async def _serve_until_signal(config: GatewayConfig, started: list[Server]) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: Server = await nursery.start(serve, config)
            started.append(server)
            _watch_gc_pauses()  # from now on a pause is heard (and a refused start logs nothing but its line)
            # The one line on stdout: scripts and tests read the bound port from it.
            print(f"stoa: listening on ws://{config.host}:{server.port}/", flush=True)
            if server.http_port is not None:
                print(f"stoa: open http://{_url_host(config.host)}:{server.http_port}/ in a browser", flush=True)
            async for _ in signals:
                await server.gateway.shut_down()
                nursery.cancel_scope.cancel()
                break


if __name__ == "__main__":
    sys.exit(main())
