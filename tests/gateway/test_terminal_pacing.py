"""`stoa speak`'s pace after a stall, on the autojump clock: packets go by their capture clock, and one more than
`LATE_S` behind it when its turn comes is dropped and counted, never sent late in a burst; the microphone's
capture clock ages a backlog read at once, and not a sound card a little slower than the system clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

from gateway.terminal import speak
from gateway.terminal.speak import FRAME_S, LATE_S, CaptureClock, Spoken, Tally, file_stream, send_paced

PACKETS = 100
STALL_AT, STALL_S = 25, 1.0  # the send of packet 25 blocks for 1 s (the network stalled)


@dataclass
class StallingClient:
    """A client whose socket stops taking packets once, for `STALL_S`: what it sent, when, and with what times."""

    sent: list[tuple[float, int, int]] = field(default_factory=list)  # (trio time, seq, captured_at µs)

    async def send_audio(self, seq: int, captured_at: int, opus: bytes, level: int | None = None) -> None:
        self.sent.append((trio.current_time(), seq, captured_at))
        if seq == STALL_AT:
            await trio.sleep(STALL_S)


async def stalled_file(autojump_clock: trio.testing.MockClock) -> tuple[StallingClient, Tally, float]:
    client, tally = StallingClient(), Tally()
    start = trio.current_time()
    await send_paced(client, file_stream([Spoken(b"\xf8\xff\xfe", 127)] * PACKETS, loop=False), tally)  # type: ignore[arg-type]
    return client, tally, start


async def test_after_a_stall_packets_older_than_the_bound_are_dropped_and_counted_not_sent_in_a_burst(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client, tally, start = await stalled_file(autojump_clock)
    for sent_at, seq, _ in client.sent:
        assert sent_at - (start + seq * FRAME_S) <= LATE_S + 1e-9, f"packet {seq} sent {sent_at - start:.3f} s in"
    seqs = [seq for _, seq, _ in client.sent]
    behind = round((STALL_S - LATE_S) / FRAME_S) - 1  # 26..64: over LATE_S behind when the send returns
    assert seqs == [*range(STALL_AT + 1), *range(STALL_AT + 1 + behind, PACKETS)]  # a gap in seq: the loss
    assert (tally.sent, tally.late) == (len(seqs), PACKETS - len(seqs))
    assert tally.late == behind
    resumed = client.sent[STALL_AT + 1][0]
    burst = sum(1 for sent_at, _, _ in client.sent if sent_at == resumed)
    assert burst <= 1 + LATE_S / FRAME_S + 1, f"{burst} packets at once after the stall"
    assert "dropped 39 too late" in tally.summary()


async def test_control_without_the_bound_the_same_stall_sends_its_backlog_late(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speak, "LATE_S", float("inf"))
    client, tally, start = await stalled_file(autojump_clock)
    late = [seq for sent_at, seq, _ in client.sent if sent_at - (start + seq * FRAME_S) > LATE_S]
    assert (tally.sent, tally.late) == (PACKETS, 0)
    assert len(late) == 39  # the stall is real: with no bound, its backlog goes out late, at once


async def test_captured_at_is_the_capture_time_on_the_wall_clock(autojump_clock: trio.testing.MockClock) -> None:
    client, _, _ = await stalled_file(autojump_clock)
    stamps = {seq: captured_at for _, seq, captured_at in client.sent}
    assert stamps[10] - stamps[0] == pytest.approx(10 * FRAME_S * 1e6, abs=2)
    assert stamps[80] - stamps[0] == pytest.approx(80 * FRAME_S * 1e6, abs=2)  # not when the backlog was sent


def test_the_microphone_clock_ages_a_backlog_read_at_once() -> None:
    clock = CaptureClock()
    for i in range(50):  # one second at its pace: each frame read 1 ms after it was whole
        assert clock.captured(i, 10.0 + (i + 1) * FRAME_S + 0.001) == pytest.approx(10.0 + i * FRAME_S + 0.001)
    resumed = 10.0 + 2.0  # the loop stalled for a second: frames 50..99 wait in the pipe, read at once
    ages = [resumed - clock.captured(i, resumed) for i in range(50, 100)]
    assert ages[0] == pytest.approx(1.0 - 0.001, abs=0.002) and ages[-1] == pytest.approx(FRAME_S - 0.001, abs=0.002)
    assert sum(age > LATE_S for age in ages) == 40


def test_a_sound_card_slower_than_the_system_clock_does_not_age_its_frames() -> None:
    clock, slow = CaptureClock(), 1.0002  # 200 ppm slow: 0.7 s behind after an hour
    ages = []
    for i in range(0, 180_000, 100):  # an hour of frames, every 100th
        arrived = 5.0 + (i + 1) * FRAME_S * slow
        ages.append(arrived - clock.captured(i, arrived))
    assert max(ages) < 2 * FRAME_S
