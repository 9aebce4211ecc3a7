"""The `--transport python` baseline's batching (`Audience.send_mix`, driven by its `TrioTicker`): the same
rule as the Rust driver's (`mixer.BatchPolicy`; the Rust path is tested by `cargo test` and
`tests/e2e/test_batching.py`). Messages read back with the independent `msgpack` package."""

from __future__ import annotations

import msgpack

from actors.space import Audience
from mixer import BatchPolicy
from tests.space.fakes import RecordingFanout


def seqs(fanout: RecordingFanout, conn: int) -> list[list[int]]:
    return [[frame["seq"] for frame in msgpack.unpackb(m)["frames"]] for m in fanout.sent.get(conn, [])]


def test_the_audience_batch_follows_its_size_and_a_speakers_own_stream_never_batches() -> None:
    fanout = RecordingFanout()
    audience = Audience("s", fanout, BatchPolicy(listeners_per_frame=1))
    listeners = [101, 102, 103]
    fanout.join_group(audience.audio_group, listeners[0])
    for seq in range(30):
        if seq == 10:  # 3 listeners: the message of seq 10 reaches them, and the next ones hold 3 frames
            for conn in listeners[1:]:
                fanout.join_group(audience.audio_group, conn)
        audience.send_mix(seq, 1, b"shared", [(7, b"minus")], [7], {7: 900, 8: 901})
    audience.flush()
    heard = seqs(fanout, listeners[0])
    assert [len(m) for m in heard] == [1] * 11 + [3] * 6 + [1], heard  # the last one: the flush
    assert [s for m in heard for s in m] == list(range(30)), "every frame once, in order"
    for speaker in (900, 901):  # the talker's mix-minus, and a quiet speaker's shared mix
        assert seqs(fanout, speaker) == [[s] for s in range(30)]


def test_a_fixed_count_ignores_the_audience() -> None:
    fanout = RecordingFanout()
    audience = Audience("s", fanout, BatchPolicy(fixed=2))
    for conn in range(100, 200):
        fanout.join_group(audience.audio_group, conn)
    for seq in range(6):
        audience.send_mix(seq, 1, b"shared", [], [], {})
    assert seqs(fanout, 100) == [[0, 1], [2, 3], [4, 5]]
