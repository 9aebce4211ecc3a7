"""The server logs the speakers' packets it dropped, by reason, every 10 s, and only when there were any."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from actors.space import SpaceDirectory
from gateway.audio_report import AUDIO_REPORT_INTERVAL_S, report_audio
from tests.space.fakes import RecordingFanout, RecordingLink


async def test_dropped_packets_are_logged_by_reason_and_silence_is_not(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway")
    async with trio.open_nursery() as nursery:
        fanout = RecordingFanout()
        directory = SpaceDirectory(nursery, fanout)
        space = await directory.create("host", "Reported")
        await space.join("ear", RecordingLink(fanout))
        nursery.start_soon(report_audio, directory)
        await trio.sleep(AUDIO_REPORT_INTERVAL_S + 1)
        assert "audio:" not in caplog.text, "nothing dropped: nothing logged"
        for seq in range(3):
            space.push_audio("ear", seq, 0, b"\xf8\xff\xfe")  # a listener has no input
        await trio.sleep(AUDIO_REPORT_INTERVAL_S)
        assert "audio: 3 speaker packets dropped in 10 s (no input 3, refused 0" in caplog.text
        nursery.cancel_scope.cancel()
