"""The server's counters a load report explains a run with: what moved over the window, from two scrapes."""

from __future__ import annotations

from loadtest.report import server_counters


def test_the_counters_are_what_moved_over_the_window() -> None:
    before = {
        "stoa_fanout_writer_busy_seconds_total": 10.0,
        "stoa_fanout_writer_cpu_seconds_total": 8.0,
        "stoa_fanout_writer_passes_total": 1_000.0,
        "stoa_fanout_sends_total": 300_000.0,
        "stoa_mixer_ticks_late_total": 5.0,
        "stoa_concealed_frames_total": 100.0,
        "stoa_concealed_gap_frames_total": 7.0,
        "dropped_skipped": 1.0,
        "stoa_speaker_packets_accepted_total": 1_000.0,
        "stoa_wire_audio_at_tick_total": 500.0,
    }
    after = {
        "stoa_fanout_writer_busy_seconds_total": 20.0,
        "stoa_fanout_writer_cpu_seconds_total": 14.0,
        "stoa_fanout_writer_passes_total": 3_000.0,
        "stoa_mixer_ticks_late_total": 9.0,
        "stoa_mixer_ticks_skipped_total": 2.0,
        "stoa_concealed_frames_total": 160.0,
        "stoa_concealed_gap_frames_total": 10.0,
        "dropped_skipped": 4.0,
        "dropped_overflow": 0.0,
        "reader_realtime": 1.0,
        "stoa_fanout_writers": 2.0,
        "stoa_fanout_sends_total": 1_500_000.0,
        "stoa_speaker_packets_accepted_total": 5_000.0,
        "stoa_wire_audio_at_tick_total": 3_500.0,
    }
    assert server_counters(before, after, window_s=20.0) == {
        # 10 s of passes in 20 s by two writers: each busy a quarter of the time.
        # 6 s of the writers' CPU over 1,200,000 sends: 5 µs a send.
        "fanout_writer": {"writers": 2, "busy": 0.25, "cpu_cores": 0.3, "pass_ms": 5.0, "us_per_send": 5.0},
        "ticks_late": 4,
        "ticks_skipped": 2,
        "concealed_frames": 60,
        "concealed_gap_frames": 3,
        "speaker_packets_dropped": {"overflow": 0, "skipped": 3},
        # 3,000 of the 4,000 packets accepted were read at their space's tick.
        "at_tick_share": 0.75,
        "reader_scheduling": "realtime",
    }
