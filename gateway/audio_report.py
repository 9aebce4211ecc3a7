"""The server's log line about speakers' packets dropped: one every `AUDIO_REPORT_INTERVAL_S` while any
are, by reason (docs/operations.md, `stoa_speaker_packets_dropped_total` has the same counts)."""

from __future__ import annotations

import trio

from actors.space import SpaceDirectory
from gateway import logs

AUDIO_REPORT_INTERVAL_S = 10.0

log = logs.get_logger("gateway")


async def report_audio(directory: SpaceDirectory) -> None:
    """Log the speakers' packets dropped since the last report, by reason (silent while none are). The
    counts themselves are `directory.audio_stats()`."""
    last = directory.audio_stats()
    while True:
        await trio.sleep(AUDIO_REPORT_INTERVAL_S)
        now = directory.audio_stats()
        if now.dropped > last.dropped:
            log.warning(
                "audio: %d speaker packets dropped in %.0f s (no input %d, refused %d, overflow %d, late %d, "
                "removed %d, skipped %d); %d accepted",
                now.dropped - last.dropped,
                AUDIO_REPORT_INTERVAL_S,
                now.dropped_no_input - last.dropped_no_input,
                now.dropped_refused - last.dropped_refused,
                now.dropped_overflow - last.dropped_overflow,
                now.dropped_late - last.dropped_late,
                now.dropped_removed - last.dropped_removed,
                now.dropped_skipped - last.dropped_skipped,
                now.packets_in - last.packets_in,
            )
        last = now
