"""The terminal clients' files: the Ogg Opus writer checked by Debian's opusinfo and opusdec (independent
readers), the reader against opusenc's files, and the WAV and Ogg inputs `stoa speak` takes or refuses."""

from __future__ import annotations

import io
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from gateway.terminal.ogg import OggOpusWriter, packet_samples, read_packets
from gateway.terminal.speak import Spoken, Unusable, file_packets, measured
from tests.audio import assert_tone_present, decode_stream, encode_tone, tone_frames


def write_wav(path: Path, pcm: bytes, *, channels: int = 1, rate: int = 48_000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def test_a_written_file_passes_opusinfo_decodes_with_opusdec_and_reads_back_packet_for_packet(tmp_path: Path) -> None:
    packets = encode_tone(440.0, 3.0)
    packets[10] = packets[10] + bytes(600)  # a packet over 255 bytes: several lacing values (padding is ignored)
    path = tmp_path / "t.opus"
    with open(path, "wb") as out:
        writer = OggOpusWriter(out)
        for packet in packets:
            writer.write(packet)
        writer.close()
    info = subprocess.run(["opusinfo", str(path)], capture_output=True, text=True)
    assert info.returncode == 0 and "WARNING" not in info.stdout + info.stderr, info.stdout + info.stderr
    assert "Playback length: 0m:02.99" in info.stdout
    subprocess.run(["opusdec", "--quiet", "--rate", "48000", str(path), str(tmp_path / "t.wav")], check=True)
    with wave.open(str(tmp_path / "t.wav")) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    assert_tone_present(pcm[48_000:96_000], 440.0)
    assert list(read_packets(path.read_bytes())) == packets


@pytest.mark.parametrize(
    ("toc", "samples"),
    [(0xF8, 960), (0xF8 | 1, 1920), (0x78, 960), (0x00, 480), (0x18 | 3, 2880 * 3), (0x08 | 3, 960 * 3)],
)
def test_a_packets_duration_comes_from_its_toc(toc: int, samples: int) -> None:
    assert packet_samples(bytes([toc, 3, 0, 0])) == samples


def test_stoa_speak_takes_opusencs_20_ms_files_and_refuses_40_ms_ones(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    write_wav(wav, b"".join(tone_frames(440.0, 2.0)))
    for size in ("20", "40"):
        command = ["opusenc", "--quiet", "--framesize", size, str(wav), str(tmp_path / f"{size}.opus")]
        subprocess.run(command, check=True)
    packets = file_packets(tmp_path / "20.opus")
    assert len(packets) >= 100
    assert_tone_present(decode_stream([p.opus for p in packets])[24_000:72_000], 440.0)
    with pytest.raises(Unusable, match="not all 20 ms"):
        file_packets(tmp_path / "40.opus")


def test_stoa_speak_mixes_a_stereo_wav_down_and_refuses_other_rates(tmp_path: Path) -> None:
    mono = np.frombuffer(b"".join(tone_frames(440.0, 1.0)), dtype="<i2")
    stereo = np.stack([mono, np.zeros_like(mono)], axis=1).astype("<i2").tobytes()
    write_wav(tmp_path / "stereo.wav", stereo, channels=2)
    packets = file_packets(tmp_path / "stereo.wav")
    assert len(packets) == 50
    assert_tone_present(decode_stream([p.opus for p in packets])[9600:], 440.0)
    write_wav(tmp_path / "cd.wav", b"".join(tone_frames(440.0, 1.0)), rate=44_100)
    with pytest.raises(Unusable, match="48 kHz"):
        file_packets(tmp_path / "cd.wav")
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises(Unusable, match="neither"):
        file_packets(tmp_path / "notes.txt")
    with pytest.raises(Unusable, match="Ogg"):
        file_packets_of(io.BytesIO(b"OggS" + bytes(40)), tmp_path)


def file_packets_of(data: io.BytesIO, tmp_path: Path) -> list[Spoken]:
    path = tmp_path / "broken.opus"
    path.write_bytes(data.getvalue())
    return file_packets(path)


def test_stoa_speak_gives_each_packet_the_level_of_its_pcm_from_a_wav_and_from_ogg_opus(tmp_path: Path) -> None:
    """A second of a tone at a quarter of full scale (-15 dBov), then a second of silence: the WAV's packets
    carry the levels of the PCM they encode; an Ogg Opus file's, the levels of its packets decoded as they are
    sent."""
    wav = tmp_path / "tone-then-silence.wav"
    write_wav(wav, b"".join(tone_frames(440.0, 1.0)) + bytes(2 * 48_000))
    levels = [packet.level for packet in file_packets(wav)]
    assert levels == [15] * 50 + [127] * 50
    subprocess.run(["opusenc", "--quiet", str(wav), str(tmp_path / "t.opus")], check=True)
    levels = [packet.level for packet in measured(file_packets(tmp_path / "t.opus"))]
    assert all(14 <= level <= 16 for level in levels[5:45]), levels
    assert all(level > 90 for level in levels[-30:]), levels
