"""The public API of the mixer package: exactly these names, each the native
object re-exported, and a package that imports nothing of Stoa."""

from __future__ import annotations

import ast
from pathlib import Path

import mixer
import mixer._mixer

EXPECTED = {
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "MAX_PACKET_BYTES",
    "MixerError",
    "Encoder",
    "Decoder",
    "TickOutput",
    "MixerStats",
    "Mixer",
    "Fanout",
    "FanoutStats",
    "ListenerPool",
    "ListenerStats",
    "PoolStats",
    "SpaceDriver",
    "BatchPolicy",
    "SpeakerPool",
    "TickPool",
    "TickPoolStats",
    "Wire",
    "AudioPace",
    "WireEvent",
    "WireStats",
    "parse_audio",
    "RecordingStats",
    "repair_recording",
    "engine_failure",
}


def test_all_lists_exactly_the_public_api() -> None:
    assert set(mixer.__all__) == EXPECTED
    assert len(mixer.__all__) == len(EXPECTED)


def test_each_public_name_is_the_native_object() -> None:
    for name in EXPECTED:
        assert getattr(mixer, name) is getattr(mixer._mixer, name), name


def test_constants_describe_the_one_audio_format() -> None:
    assert (mixer.SAMPLE_RATE, mixer.FRAME_SAMPLES, mixer.MAX_PACKET_BYTES) == (48_000, 960, 1500)


def test_mixer_error_is_a_value_error_with_a_code() -> None:
    assert issubclass(mixer.MixerError, ValueError)
    try:
        mixer.Encoder().encode(b"")
    except mixer.MixerError as err:
        assert err.code == "bad_pcm_length"
    else:
        raise AssertionError("MixerError not raised")


def test_package_imports_nothing_of_stoa() -> None:
    source = Path(mixer.__file__).read_text()
    imported = {
        node.module.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    imported |= {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert imported <= {"mixer", "__future__"}, imported


def test_package_is_typed() -> None:
    package = Path(mixer.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_mixer.pyi").is_file()
