"""The system's audio, through the players and recorders a Linux desktop has (no audio library linked in):
`pw-play`/`pw-record` (PipeWire), `paplay`/`parec` (PulseAudio), `aplay`/`arecord` (ALSA), each fed or read
as raw 16-bit little-endian mono PCM at 48 kHz."""

from __future__ import annotations

import shutil

RAW = ("--format=s16le", "--rate=48000", "--channels=1")
PLAYERS = (
    ("pw-play", (*RAW, "-")),
    ("paplay", ("--raw", *RAW)),
    ("aplay", ("-q", "-t", "raw", "-f", "S16_LE", "-r", "48000", "-c", "1", "-")),
)
RECORDERS = (
    ("pw-record", (*RAW, "-")),
    ("parec", ("--raw", *RAW)),
    ("arecord", ("-q", "-t", "raw", "-f", "S16_LE", "-r", "48000", "-c", "1", "-")),
)


class NoDevice(RuntimeError):
    """No player or recorder of the list is installed."""


def _first(choices: tuple[tuple[str, tuple[str, ...]], ...], what: str) -> list[str]:
    for program, arguments in choices:
        path = shutil.which(program)
        if path is not None:
            return [path, *arguments]
    names = ", ".join(program for program, _ in choices)
    raise NoDevice(f"no audio {what} found ({names})")


def player_command() -> list[str]:
    """The command that plays raw PCM from its stdin on the system's audio output."""
    return _first(PLAYERS, "player")


def recorder_command() -> list[str]:
    """The command that writes the system's audio input to its stdout as raw PCM."""
    return _first(RECORDERS, "recorder")
