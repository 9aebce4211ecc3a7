"""`stoa listen URL SPACE`: hear a space from a terminal, as a guest: play the mix on the system's audio output,
or record it to an Ogg Opus file (`--out FILE.opus`).

The mix comes as 20 ms Opus frames (`audio` messages). A space where nobody talks sends nothing; so that a
recording keeps time, a silence of more than `GAP_S` between frames is filled with encoded silence (the
frames themselves are written as they came, not re-encoded).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

import trio

from actors.space import SpaceEnded
from gateway.client import Client, RequestError, connect
from gateway.terminal.devices import NoDevice, player_command
from gateway.terminal.ogg import OggOpusWriter
from mixer import FRAME_SAMPLES, Decoder, Encoder

FRAME_S = 0.020
GAP_S = 0.2
"""A pause in the frames longer than this is silence in the space (not network jitter): filled."""
MAX_FILL_S = 600.0


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    p = commands.add_parser("listen", help="hear a space: play it, or record it to an Ogg Opus file")
    p.add_argument("url", help="the server's WebSocket URL, e.g. ws://127.0.0.1:8765/")
    p.add_argument(
        "space",
        help="the space's id (the end of its share link /s/<space_id>; an old one starting with - goes last, after --)",
    )
    p.add_argument("--out", type=Path, metavar="FILE.opus", help="record to this Ogg Opus file instead of playing")
    p.add_argument("--seconds", type=float, help="stop after this long (default: until the space ends or Ctrl-C)")
    p.add_argument("--name", default="listener", help="the name shown for this guest (default listener)")


def run(args: argparse.Namespace) -> int:
    try:
        return trio.run(listen, args.url, args.space, args.out, args.seconds, args.name)
    except KeyboardInterrupt:
        return 0


class Sink:
    """Where the frames go: an Ogg Opus file, or the system's player (decoded here)."""

    def __init__(self, out: Path | None) -> None:
        self._file: BinaryIO | None = None
        self._writer: OggOpusWriter | None = None
        self._player: subprocess.Popen[bytes] | None = None
        self._decoder = Decoder()
        self._silence = Encoder().encode(bytes(2 * FRAME_SAMPLES))
        if out is not None:
            self._file = open(out, "wb")
            self._writer = OggOpusWriter(self._file)
        else:
            self._player = subprocess.Popen(player_command(), stdin=subprocess.PIPE)

    def frame(self, opus: bytes) -> None:
        if self._writer is not None:
            self._writer.write(opus)
        elif self._player is not None and self._player.stdin is not None:
            self._player.stdin.write(self._decoder.decode(opus))
            self._player.stdin.flush()

    def silence(self, frames: int) -> None:
        for _ in range(frames):
            self.frame(self._silence)

    def close(self) -> None:
        if self._writer is not None and self._file is not None:
            self._writer.close()
            self._file.close()
        if self._player is not None:
            if self._player.stdin is not None:
                self._player.stdin.close()
            self._player.wait(5)


async def listen(url: str, space_id: str, out: Path | None, seconds: float | None, name: str) -> int:
    try:
        sink = Sink(out)
    except (NoDevice, OSError) as e:
        print(f"stoa listen: {e}; record to a file with --out FILE.opus", file=sys.stderr)
        return 2
    try:
        async with connect(url, name) as client:
            try:
                joined = await client.join_space(space_id)
            except RequestError as e:
                print(f"stoa listen: {space_id}: {e.code} ({e.message})", file=sys.stderr)
                return 1
            print(f"stoa listen: {joined.space.title!r}, {'recording to ' + str(out) if out else 'playing'}",
                  file=sys.stderr)  # fmt: skip
            with trio.move_on_after(seconds if seconds is not None else float("inf")):
                await _receive(client, sink)
    finally:
        sink.close()
    return 0


async def _receive(client: Client, sink: Sink) -> None:
    """Frames to the sink, in order, pauses filled, until the connection or the space ends."""
    expected: float | None = None  # when the next frame is due if the space keeps talking
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_until_ended, client, nursery.cancel_scope)
        nursery.start_soon(_until_closed, client, nursery.cancel_scope)
        async for frame in client.audio:
            now = time.monotonic()
            if expected is not None and now - expected > GAP_S:
                sink.silence(int(min(now - expected, MAX_FILL_S) / FRAME_S))
                expected = now
            sink.frame(frame.opus)
            expected = (expected if expected is not None else now) + FRAME_S
        nursery.cancel_scope.cancel()


async def _until_closed(client: Client, scope: trio.CancelScope) -> None:
    await client.closed.wait()
    scope.cancel()


async def _until_ended(client: Client, scope: trio.CancelScope) -> None:
    async for event in client.events:
        if isinstance(event, SpaceEnded):
            await trio.sleep(0.5)  # the last frames
            scope.cancel()
            return
