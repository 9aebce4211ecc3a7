"""The `stoa` command: `stoa serve` runs a server with embedded defaults (no other service needed)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import trio

from actors.space import MixConfig
from gateway.server import GatewayConfig, Server, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stoa", description="Stoa: live audio spaces.")
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("serve", help="run a server")
    s.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default 8765)")
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
    s.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = GatewayConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data,
        allowed_origins=frozenset(args.allow_origin),
        mix=MixConfig(bitrate=args.bitrate, complexity=args.complexity),
    )
    trio.run(_serve_until_signal, config)
    return 0


async def _serve_until_signal(config: GatewayConfig) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: Server = await nursery.start(serve, config)
            # The one line on stdout: scripts and tests read the bound port from it.
            print(f"stoa: listening on ws://{config.host}:{server.port}/", flush=True)
            async for _ in signals:
                await server.gateway.shut_down()
                nursery.cancel_scope.cancel()
                break


if __name__ == "__main__":
    sys.exit(main())
