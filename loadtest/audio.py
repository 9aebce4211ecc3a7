"""What the harness's speakers say: real Opus packets from a WAV file, or a distinct tone per speaker."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from stoa_protocol import audio_level

from mixer import FRAME_SAMPLES, SAMPLE_RATE, Decoder, Encoder


def tone_hz(index: int) -> float:
    """Speaker `index`'s tone: distinct, not harmonics of each other, inside the voice band."""
    return 230.0 + 97.0 * index


def tone_pcm(freq_hz: float, seconds: float, amplitude: float = 0.2) -> bytes:
    n = int(seconds * SAMPLE_RATE) // FRAME_SAMPLES * FRAME_SAMPLES
    t = np.arange(n) / SAMPLE_RATE
    return (np.sin(2 * np.pi * freq_hz * t) * amplitude * 32767).astype("<i2").tobytes()


def wav_pcm(path: Path) -> bytes:
    """16-bit mono 48 kHz PCM from a WAV file (convert others first, e.g. `sox in.wav -r 48000 -c 1 -b 16 out.wav`)."""
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise ValueError(f"{path}: need 48 kHz mono 16-bit PCM")
        return w.readframes(w.getnframes())


def encode(pcm: bytes, *, bitrate: int = 32000) -> list[bytes]:
    """Opus packets of 20 ms each (the last partial frame is dropped)."""
    encoder = Encoder(bitrate=bitrate, complexity=5)
    step = FRAME_SAMPLES * 2
    return [encoder.encode(pcm[i : i + step]) for i in range(0, len(pcm) - step + 1, step)]


def speaker_packets(index: int, wav: Path | None, seconds: float = 10.0) -> list[bytes]:
    """One loop of packets for speaker `index` (the caller repeats it for as long as the test runs)."""
    pcm = wav_pcm(wav) if wav is not None else tone_pcm(tone_hz(index), seconds)
    return encode(pcm)


def levels(packets: list[bytes]) -> list[int]:
    """Each packet's `level` (RFC 6464's −dBov, `stoa_protocol.audio_level`) as a speaker measuring its
    microphone would send it: of the packet decoded in order, within the codec's noise of what was encoded."""
    decoder = Decoder()
    return [audio_level(decoder.decode(packet)) for packet in packets]


def continuous(packets: list[bytes]) -> tuple[list[bytes], list[int]]:
    """A speaker's script (`mixer.SpeakerPool`) that talks in every slot, looping over `packets`."""
    return packets, list(range(len(packets)))
