"""The `stoa` command: `stoa serve` runs a server with embedded defaults (no other service needed); `stoa config`
prints and checks settings files; `stoa drain` drains a running server; `stoa load` load-tests one; `stoa admin`,
`stoa backup` and `stoa restore` are in gateway/admin_cli.py.

Start-up refuses what would fail later (a setting out of range, a busy port, a data folder another server
uses) with one line on stderr naming the setting, and exit code 2 (docs/security.md, Start-up checks).
Settings come from the tree in gateway/config: each has its flag here, made from the tree.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from functools import partial
from pathlib import Path
from typing import NoReturn, TypeVar

import trio

from gateway import admin_cli, config as settings_tree, logs, terminal
from gateway.datalock import FolderBusy, drain, lock_data_folder
from gateway.engine_watch import EngineFailed
from gateway.gateway_config import GatewayConfig
from gateway.server import Server, serve

E = TypeVar("E", bound=BaseException)

EX_SOFTWARE = 70
"""`stoa serve`'s exit status when the audio engine failed (sysexits.h: an internal software error)."""

log = logs.get_logger("gateway")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """A usage error in one line (not the whole usage text), exit code 2 as argparse's."""
        self.exit(2, f"{self.prog}: {message}\n")


def run() -> NoReturn:
    """The `stoa` command's entry point (and `python -m gateway`'s). Once `stoa serve` has stopped, the process
    leaves at once, without the interpreter's teardown: by then the server has closed its store, finished and
    synced its recordings and stopped the engine's sockets, so the teardown (0.3 to 0.5 s of freeing objects)
    has nothing left to write, and a restart would only wait for it. Other commands exit as usual."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv[:1] != ["serve"]:
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="stoa", description="Stoa: live audio spaces.")
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("serve", help="run a server")
    s.add_argument("--config", type=Path, metavar="FILE", help="a TOML settings file (stoa config sample prints one)")
    _add_setting_flags(s)
    c = commands.add_parser("config", help="print a settings file, or check one")
    actions = c.add_subparsers(dest="action", required=True)
    actions.add_parser("sample", help="print every setting with its default and doc, as a TOML file")
    check = actions.add_parser("check", help="report every error of a settings file, with the setting's path")
    check.add_argument("file", type=Path)
    d = commands.add_parser("drain", help="drain the server using a data folder: it exits once clients have gone")
    d.add_argument("--data", type=Path, default=Path("data"), help="the server's data folder (default ./data)")
    d.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                   help="wait this long for the server to exit; 0: do not wait (default 60)")  # fmt: skip
    _add_load_parser(commands)
    admin_cli.add_parsers(commands)
    terminal.listen.add_parser(commands)
    terminal.speak.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command in ("admin", "backup", "restore"):
        return {"admin": admin_cli.run_admin, "backup": admin_cli.run_backup, "restore": admin_cli.run_restore}[
            args.command
        ](args)
    if args.command == "load":
        return _load(args)
    if args.command in ("listen", "speak"):
        return int(getattr(terminal, args.command).run(args))
    if args.command == "config":
        return _config(args)
    if args.command == "drain":
        return _drain(args)
    return _serve(args)


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for each setting of the tree that has one; its value is read (and checked) by the tree."""
    for item in settings_tree.items():
        spec = item.spec
        if spec.flag is None:
            continue
        default = settings_tree.toml_value(item, item.default) or "unset"
        values = settings_tree.allowed(item)
        more = f"; {values}" if values else ""
        help_text = f"{spec.doc} (default {default}{more}; {item.path}, {item.env})".replace("%", "%%")
        metavar = "on|off" if item.kind is bool else ("|".join(spec.choices) if spec.choices else item.name.upper())
        if item.kind is tuple:
            parser.add_argument(spec.flag, dest=item.dest, action="append", metavar=metavar, help=help_text)
        else:
            parser.add_argument(spec.flag, dest=item.dest, metavar=metavar, help=help_text)


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = settings_tree.load(args.config, os.environ, vars(args))
        config = settings_tree.gateway_config(settings)
    except settings_tree.SettingsError as e:
        more = f" (and {len(e.lines) - 1} more: see stoa config check)" if len(e.lines) > 1 else ""
        return _refuse(e.lines[0] + more)
    data = settings.server.data
    try:
        lock = lock_data_folder(data)
    except FolderBusy as busy:
        return _refuse(f"--data {data}: another stoa server (pid {busy.pid}) is using this folder")
    except OSError as e:
        return _refuse(f"--data {data}: cannot use this folder: {e.strerror or e}")
    logs.configure(settings.log.level, settings.log.format)
    started: list[Server] = []
    with lock:
        try:
            trio.run(_serve_until_signal, config, started)
        except Exception as error:
            engine = _found_in(error, EngineFailed)
            if engine is not None:  # logged by the watch; this line is for whoever reads stderr
                print(f"stoa serve: the audio engine failed, exiting for a restart: {engine}", file=sys.stderr)
                return EX_SOFTWARE
            failure = None if started else _found_in(error, OSError)
            if failure is None:
                raise
            host = config.host
            if "--http-port" in str(failure.strerror):
                return _refuse(f"--http-port: cannot listen on {host}:{config.http_port}: {failure.strerror}")
            return _refuse(f"--host/--port: cannot listen on {host}:{config.port}: {failure.strerror or failure}")
    return 0


def _refuse(line: str) -> int:
    print(f"stoa serve: {line}", file=sys.stderr)
    return 2


def _config(args: argparse.Namespace) -> int:
    if args.action == "sample":
        print(settings_tree.sample(), end="")
        return 0
    errors = settings_tree.check_file(args.file)
    for line in errors:
        print(line, file=sys.stderr)
    if not errors:
        print(f"{args.file}: ok")
    return 1 if errors else 0


def _drain(args: argparse.Namespace) -> int:
    pid, gone = drain(args.data, args.wait or None)
    if pid is None:
        print(f"stoa drain: no server is using {args.data}", file=sys.stderr)
        return 1
    if args.wait and not gone:
        print(f"stoa drain: server {pid} is still running after {args.wait:g} s", file=sys.stderr)
        return 1
    print(f"stoa drain: server {pid} {'has exited' if gone else 'is draining'}")
    return 0


def _url_host(host: str) -> str:
    """The host part of a URL for a bind address: a wildcard bind is reached on loopback from this machine."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _found_in(error: BaseException, kind: type[E]) -> E | None:
    """The exception of `kind` inside `error` (through exception groups), if any."""
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _found_in(inner, kind)
            if found is not None:
                return found
    return None


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
    ld.add_argument("--frames-per-message", type=_frames_or_auto, default="auto", metavar="auto|N",
                    help="for the started server: auto (default), or a fixed count")  # fmt: skip
    ld.add_argument("--processes", type=int, default=0, help="listener processes (default: one per 6,000)")
    ld.add_argument("--sample", type=int, default=2, help="Python listeners that decode the audio (default 2)")
    ld.add_argument(
        "--speech",
        default="tones",
        help="what speakers say: 'tones' (a tone each, all talking; default), 'conversation' (3 speakers taking "
        "turns on recorded speech), or a 48 kHz mono 16-bit WAV file",
    )
    ld.add_argument(
        "--phases",
        type=int,
        default=0,
        help="with --speech conversation: 0 (default), each space's conversation starts at its own point of "
        "the loop; N, the spaces form N groups that talk, overlap and pause on the same ticks",
    )
    ld.add_argument(
        "--no-levels",
        dest="levels",
        action="store_false",
        help="speakers send no `level` with their packets (the server decodes each to measure it)",
    )
    ld.add_argument("--out", type=Path, default=Path("load-results"), help="folder for report.json and report.png")


def _frames_or_auto(text: str) -> int | str:
    """`stoa load --frames-per-message`: "auto", or a whole number (the server it starts checks the range)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be auto or a number, not {text!r}") from None


def _load(args: argparse.Namespace) -> int:
    try:
        from loadtest.run import LoadConfig, run
    except ModuleNotFoundError as e:  # numpy, matplotlib: the `load` extra, not installed by `make run`
        print(f"stoa load: {e.name} is missing: run `make setup` (the load harness's packages)", file=sys.stderr)
        return 2

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
        speech=args.speech,
        levels=args.levels,
        phases=args.phases,
        out=args.out,
    )
    report = trio.run(run, config)
    brief = {k: report[k] for k in ("coverage", "latency_ms", "speakers", "listeners", "server", "samples")}
    print(json.dumps(brief, indent=2))
    print(f"report: {args.out / 'report.json'}, plot: {args.out / 'report.png'}")
    return 0


async def _serve_until_signal(config: GatewayConfig, started: list[Server]) -> None:
    """Serve until SIGTERM or SIGINT, then drain (docs/operations.md, Draining); a second signal during the
    drain stops at once (every connection still open is closed with 1001)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            printed = trio.Event()  # the HTTP side starts once the lines are out (gateway.late_start.serve_web)
            server: Server = await nursery.start(partial(serve, config, web_after=printed))
            started.append(server)
            # The one line on stdout: scripts and tests read the bound port from it.
            print(f"stoa: listening on ws://{config.host}:{server.port}/", flush=True)
            if server.http_port is not None:
                print(f"stoa: open http://{_url_host(config.host)}:{server.http_port}/ in a browser", flush=True)
            printed.set()
            async for signum in signals:
                log.info("draining", signal=signal.Signals(signum).name, timeout_s=config.drain_timeout_s)
                break
            async with trio.open_nursery() as draining:

                async def stop_on_second_signal() -> None:
                    async for signum in signals:
                        log.warning("stopping now", signal=signal.Signals(signum).name)
                        draining.cancel_scope.cancel()

                draining.start_soon(stop_on_second_signal)
                await server.gateway.drain(config.drain_timeout_s)
                draining.cancel_scope.cancel()
            left = len(server.gateway.connections)
            await server.gateway.shut_down()
            if server.wire is not None:
                # Nothing answers an upgrade from here on: a client that connected now would wait unanswered
                # until the process exits; refused, it tries again at once (elsewhere, behind a balancer).
                try:
                    server.wire.stop_listening()
                except OSError as error:
                    log.warning("could not stop listening", error=str(error))
            log.info("stopped", connections_cut=left)
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    run()
