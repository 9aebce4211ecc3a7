"""`stoa speak URL SPACE --from FILE|mic`: speak into a space from a terminal, as an account. The account signs
in with its token (`--token`, or `STOA_TOKEN`) or its handle and password (`--handle`; the password from
`STOA_PASSWORD`, or asked for). Someone not on the mic raises a hand and waits for a host or co-host to
approve it. The audio is sent as `audio` messages, 20 ms Opus packets at their real pace, each with its
level (`stoa_protocol.audio_level` of its PCM: the server forwards a lone speaker's packets undecoded):

- a WAV file (16-bit PCM, 48 kHz, mono or stereo: stereo is mixed down), encoded here;
- an Ogg Opus file of 20 ms packets (what `opusenc` makes by default), sent as it is (each packet decoded as
  it is sent, for its level);
- `mic`: the system's audio input (`pw-record`, `parec` or `arecord`), encoded here.

Packets go by their capture clock (a file's: packet i at start + i x 20 ms; the microphone's: its recorder's
samples), never as a burst: after a stall (the event loop, the process or the network paused) a packet more
than `LATE_S` behind it is dropped, not sent late, and counted; the count is printed at the end.
"""

from __future__ import annotations

import argparse
import array
import getpass
import os
import subprocess
import sys
import time
import wave
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import trio
from stoa_protocol import audio_level

from actors.space import HandLowered, ParticipantRemoved, RoleChanged, SpaceEnded
from gateway.client import Client, RequestError, connect
from gateway.terminal.devices import NoDevice, recorder_command
from gateway.terminal.ogg import packet_samples, read_packets
from mixer import FRAME_SAMPLES, SAMPLE_RATE, Decoder, Encoder

FRAME_S = 0.020
FRAME_BYTES = 2 * FRAME_SAMPLES
LATE_S = 0.200
"""How far behind its capture clock a packet may still be sent: 10 packets. A short hiccup passes with nothing
lost; later packets would reach a server that plays each speaker from a queue of at most 6 packets and skips a
backlog (docs/protocol.md, `audio`): they would be dropped there, or delay the whole space."""
DRIFT = 0.001
"""How fast the microphone's capture clock may run slow against trio's, 1 ms a second: a sound card is off by
about 0.01%; more than that is a stall, whose packets age."""


class Unusable(ValueError):
    """An input file stoa speak cannot send; the message says why."""


class Spoken(NamedTuple):
    """One 20 ms packet to send: the Opus packet and the level of the PCM it holds (0..127, -dBov); None until
    measured (`measured`: an Ogg file's packets)."""

    opus: bytes
    level: int | None


class Captured(NamedTuple):
    """A packet and when its first sample was captured, on trio's clock."""

    spoken: Spoken
    at: float


@dataclass
class Tally:
    """What `stoa speak` did with its packets: `sent`, or dropped as `late` (more than `LATE_S` behind)."""

    sent: int = 0
    late: int = 0

    def summary(self) -> str:
        return (f"stoa speak: sent {self.sent} packets ({self.sent * FRAME_S:.1f} s); dropped {self.late} too late to "
                f"send (over {LATE_S * 1000:.0f} ms behind, after a stall)")  # fmt: skip


class CaptureClock:
    """When each frame of a recorder was captured, on trio's clock: frame i at origin + i x 20 ms, the origin the
    earliest any frame's arrival allows (a frame arrives whole, so after it was captured), let to move later by
    `DRIFT` so that a sound card slower than trio's clock does not make its frames look old. After a stall, the
    backlog read at once keeps its capture times: old."""

    def __init__(self) -> None:
        self.origin: float | None = None
        self.seen = 0.0

    def captured(self, index: int, arrived: float) -> float:
        earliest = arrived - (index + 1) * FRAME_S
        if self.origin is None:
            self.origin = earliest
        else:
            self.origin = min(self.origin + DRIFT * (arrived - self.seen), earliest)
        self.seen = arrived
        return self.origin + index * FRAME_S


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    p = commands.add_parser("speak", help="speak into a space from a WAV or Ogg Opus file, or the microphone")
    p.add_argument("url", help="the server's WebSocket URL, e.g. ws://127.0.0.1:8765/")
    p.add_argument(
        "space",
        help="the space's id (the end of its share link /s/<space_id>; an old one starting with - goes last, after --)",
    )
    p.add_argument("--from", dest="source", required=True, metavar="FILE|mic",
                   help="a WAV (16-bit, 48 kHz) or Ogg Opus file, or 'mic' for the system's audio input")  # fmt: skip
    p.add_argument("--handle", help="the account's handle (password from STOA_PASSWORD, or asked for)")
    p.add_argument("--token", default=os.environ.get("STOA_TOKEN"), help="the account's token (or STOA_TOKEN)")
    p.add_argument("--loop", action="store_true", help="send the file again and again (until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    if args.token is None and args.handle is None:
        print("stoa speak: sign in with --token (or STOA_TOKEN) or --handle", file=sys.stderr)
        return 2
    try:
        packets = None if args.source == "mic" else file_packets(Path(args.source))
        recorder = recorder_command() if args.source == "mic" else None
    except (Unusable, NoDevice, OSError) as e:
        print(f"stoa speak: {args.source}: {e}", file=sys.stderr)
        return 2
    password = None
    if args.token is None:
        password = os.environ.get("STOA_PASSWORD") or getpass.getpass(f"password for {args.handle}: ")
    try:
        return trio.run(speak, args.url, args.space, args.token, args.handle, password, packets, recorder, args.loop)
    except KeyboardInterrupt:
        return 0


def file_packets(path: Path) -> list[Spoken]:
    """The 20 ms Opus packets of a WAV or Ogg Opus file, with their levels (an Ogg file's not yet: `measured`);
    `Unusable` if it is neither, or not in a form sent."""
    data = path.read_bytes()
    if data.startswith(b"OggS"):
        try:
            packets = list(read_packets(data))
        except ValueError as e:
            raise Unusable(str(e)) from None
        if any(packet_samples(p) != FRAME_SAMPLES for p in packets):
            raise Unusable("its packets are not all 20 ms (encode it with opusenc --framesize 20)")
        return [Spoken(packet, None) for packet in packets]
    if data.startswith(b"RIFF"):
        return encode_pcm(wav_pcm(path))
    raise Unusable("neither a WAV nor an Ogg Opus file")


def wav_pcm(path: Path) -> bytes:
    """A WAV file's samples as 16-bit mono at 48 kHz."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise Unusable(f"not a WAV file stoa can read: {e}") from None
    if width != 2 or rate != SAMPLE_RATE or channels not in (1, 2):
        raise Unusable(f"must be 16-bit PCM at 48 kHz, mono or stereo (it is {8 * width}-bit, {rate} Hz, "
                       f"{channels} channels): convert it, e.g. sox in.wav -r 48000 -b 16 out.wav")  # fmt: skip
    if channels == 2:
        samples = array.array("h", frames)
        if sys.byteorder == "big":
            samples.byteswap()
        mono = array.array("h", ((left + right) // 2 for left, right in zip(samples[::2], samples[1::2], strict=True)))
        if sys.byteorder == "big":
            mono.byteswap()
        frames = mono.tobytes()
    return frames


def encode_pcm(pcm: bytes) -> list[Spoken]:
    encoder = Encoder()
    pcm += bytes(-len(pcm) % FRAME_BYTES)  # the last frame, padded with silence
    frames = (pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES))
    return [spoken(encoder, frame) for frame in frames]


def spoken(encoder: Encoder, frame: bytes) -> Spoken:
    """One 20 ms frame of PCM, encoded, with its level."""
    return Spoken(encoder.encode(frame), audio_level(frame))


def measured(packets: Iterable[Spoken]) -> Iterator[Spoken]:
    """`packets` in order, each without a level given the level of its decoded samples (one decoder for the
    stream, so each packet decodes as a listener's decoder would): done as they are sent, about 80 µs a
    packet, rather than for a whole file before the first is sent."""
    decoder: Decoder | None = None
    for packet in packets:
        if packet.level is None:
            decoder = decoder or Decoder()
            yield Spoken(packet.opus, audio_level(decoder.decode(packet.opus)))
        else:
            yield packet


async def speak(
    url: str,
    space_id: str,
    token: str | None,
    handle: str | None,
    password: str | None,
    packets: list[Spoken] | None,
    recorder: list[str] | None,
    loop: bool,
) -> int:
    try:
        async with _signed_in(url, token, handle, password) as client:
            joined = await client.join_space(space_id)
            if not joined.role.on_mic:
                print("stoa speak: raising a hand: waiting for a host or co-host to bring you on the mic",
                      file=sys.stderr)  # fmt: skip
                await client.raise_hand()
                if not await _brought_on_mic(client):
                    print("stoa speak: not brought on the mic", file=sys.stderr)
                    return 1
            print(f"stoa speak: on the mic in {joined.space.title!r}", file=sys.stderr)
            tally = Tally()
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_until_off_mic, client, nursery.cancel_scope)
                    source = _mic_packets(recorder) if recorder is not None else file_stream(packets or [], loop)
                    await send_paced(client, source, tally)
                    nursery.cancel_scope.cancel()
            finally:
                print(tally.summary(), file=sys.stderr)
    except RequestError as e:
        print(f"stoa speak: {e.code} ({e.message})", file=sys.stderr)
        return 1
    return 0


@asynccontextmanager
async def _signed_in(url: str, token: str | None, handle: str | None, password: str | None) -> AsyncIterator[Client]:
    if token is not None:
        async with connect(url, token=token) as client:
            yield client
        return
    assert handle is not None and password is not None
    async with connect(url, "guest") as client:
        await client.log_in(handle, password)
        yield client


async def _brought_on_mic(client: Client) -> bool:
    """Wait for this user's hand to be approved (True: `role_changed` follows the `hand_lowered` of reason
    `approved`), or lowered or denied, or the space to end (False)."""
    async for event in client.events:
        if isinstance(event, RoleChanged) and event.user == client.user:
            return event.role.on_mic
        if isinstance(event, HandLowered) and event.user == client.user and event.reason != "approved":
            return False
        if isinstance(event, SpaceEnded) or (isinstance(event, ParticipantRemoved) and event.user == client.user):
            return False
    return False


async def _until_off_mic(client: Client, scope: trio.CancelScope) -> None:
    async for event in client.events:
        if (
            (isinstance(event, RoleChanged) and event.user == client.user and not event.role.on_mic)
            or isinstance(event, SpaceEnded)
            or (isinstance(event, ParticipantRemoved) and event.user == client.user)
        ):
            print("stoa speak: no longer on the mic", file=sys.stderr)
            scope.cancel()
            return


async def file_stream(packets: list[Spoken], loop: bool) -> AsyncIterator[Captured]:
    """The file's packets, with their levels, at their real pace: packet i at start + i x 20 ms, its capture
    time (after a stall, the overdue ones come at once, each with its time: `send_paced` drops the old)."""
    start, index = trio.current_time(), 0
    while True:
        for packet in measured(packets):
            at = start + index * FRAME_S
            await trio.sleep_until(at)
            index += 1
            yield Captured(packet, at)
        if not loop:
            return


async def _mic_packets(command: list[str]) -> AsyncIterator[Captured]:
    """The microphone, 20 ms at a time, as it comes (the recorder paces it), each with its capture time."""
    encoder, clock, index = Encoder(), CaptureClock(), 0
    recorder = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    try:
        assert recorder.stdout is not None
        pcm = b""
        while chunk := await recorder.stdout.receive_some(65536):
            pcm += chunk
            while len(pcm) >= FRAME_BYTES:
                frame, pcm = pcm[:FRAME_BYTES], pcm[FRAME_BYTES:]
                at = clock.captured(index, trio.current_time())
                index += 1
                yield Captured(spoken(encoder, frame), at)
    finally:
        recorder.terminate()
        with trio.CancelScope(shield=True), trio.move_on_after(2):
            await recorder.wait()


async def send_paced(client: Client, packets: AsyncIterator[Captured], tally: Tally) -> None:
    """Send each packet when it comes, unless it is more than `LATE_S` behind its capture time by then (a stall
    held it: the event loop, the process, or a send the network blocked): dropped, counted in `tally.late`.
    Its `seq` is its place in the stream, so the server sees the gap as loss; `captured_at` its capture time."""
    to_unix = time.time() - trio.current_time()
    async for seq, (packet, at) in _numbered(packets):
        if trio.current_time() - at > LATE_S:
            tally.late += 1
            continue
        await client.send_audio(seq, round((to_unix + at) * 1_000_000), packet.opus, packet.level)
        tally.sent += 1


async def _numbered(packets: AsyncIterator[Captured]) -> AsyncIterator[tuple[int, Captured]]:
    seq = 0
    async for packet in packets:
        yield seq, packet
        seq += 1
