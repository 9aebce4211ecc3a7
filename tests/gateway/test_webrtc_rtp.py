"""What a WebRTC speaker's RTP headers become in `SendAudio` numbers, the packet budget, and the offer checks:
pure functions, tables of input -> expected."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway.errors import BadSdp
from gateway.webrtc.rtp import SEQ_BASE, PacketBudget, RtpStream, forward
from gateway.webrtc.sdp import check_offer
from gateway.webrtc.speaker import make_offer

T0 = 1_764_000_000_000_000  # µs


@pytest.mark.parametrize(
    ("previous", "current", "step"),
    [(10, 11, 1), (65535, 0, 1), (0, 65535, -1), (100, 100 + 32768, 32768), (100, 101 + 32768, -32767)],
)
def test_forward_is_the_nearer_way_round_a_16_bit_counter(previous: int, current: int, step: int) -> None:
    assert forward(previous, current, 16) == step


def test_seq_counts_on_across_the_16_bit_wrap_and_a_late_packet_is_below() -> None:
    stream = RtpStream()
    seqs = [stream.numbers(7, s, 0, T0)[0] for s in (65534, 65535, 0, 1)]
    assert seqs == [SEQ_BASE + 65534 + i for i in range(4)]
    late = stream.numbers(7, 65535, 0, T0)[0]
    assert late == seqs[1]  # the same packet again: the mixer drops it as late
    assert stream.numbers(7, 2, 0, T0)[0] == seqs[-1] + 1


def test_a_new_ssrc_continues_after_the_highest_seq_so_far() -> None:
    stream = RtpStream()
    first = [stream.numbers(1, s, s * 960, T0)[0] for s in range(100, 110)]
    restarted = [stream.numbers(2, s, 0, T0 + 5_000_000)[0] for s in (40_000, 40_001)]
    assert restarted == [first[-1] + 1, first[-1] + 2]
    assert stream.numbers(2, 39_999, 0, T0)[0] == first[-1]  # late, and still positive
    assert stream.numbers(2, 39_999, 0, T0)[0] > 0


def test_captured_at_is_the_first_arrival_plus_the_rtp_clock_across_its_32_bit_wrap() -> None:
    stream = RtpStream()
    start = 2**32 - 960  # the timestamp wraps after the first packet
    assert stream.numbers(9, 1, start, T0)[1] == T0
    assert stream.numbers(9, 2, 0, T0 + 999)[1] == T0 + 20_000  # arrival time does not matter after the first
    assert stream.numbers(9, 3, 960, T0)[1] == T0 + 40_000
    assert stream.numbers(9, 4, start - 960, T0)[1] == T0 - 20_000  # a packet from before the first


def test_the_packet_budget_takes_its_burst_then_its_rate() -> None:
    budget = PacketBudget(per_s=60.0, burst=100.0)
    assert sum(budget.take(0.0) for _ in range(200)) == 100
    assert sum(budget.take(1.0) for _ in range(200)) == 60
    assert sum(budget.take(1.0 + i / 50) for i in range(1, 51)) == 50  # a real speaker's pace goes through


@pytest.fixture(scope="module")
def offer() -> str:
    return asyncio.run(make_offer())


def test_a_real_offer_passes_the_checks(offer: str) -> None:
    parsed = check_offer(offer)
    assert [m.kind for m in parsed.media] == ["audio"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda o: "garbage", "exactly one media section, of audio"),
        (lambda o: "v=0\r\nm=audio nine UDP/TLS/RTP/SAVPF 111\r\n", "could not be parsed"),
        (lambda o: o.replace("m=audio", "m=video"), "exactly one media section, of audio"),
        (lambda o: o + o[o.index("m=audio") :], "exactly one media section, of audio"),
        (lambda o: o.replace("a=sendonly", "a=recvonly"), "must send"),
        (lambda o: o.replace("opus/48000/2", "x-nothing/48000/2"), "must offer Opus"),
        (lambda o: _without(o, "a=ice-ufrag"), "no ICE credentials"),
        (lambda o: _without(o, "a=fingerprint"), "no DTLS fingerprint"),
        (lambda o: _without(o, "a=candidate"), "no ICE candidates"),
        (lambda o: o + "".join(f"a=candidate:{i} 1 udp 1 10.0.0.{i} 9 typ host\r\n" for i in range(21)), "over 20"),
        (lambda o: o + "a=x:" + "é" * 8200 + "\r\n", "over 16384 bytes"),
    ],
)
def test_an_offer_that_breaks_a_rule_is_refused_saying_which(
    offer: str, change: Callable[[str], str], why: str
) -> None:
    with pytest.raises(BadSdp) as refused:
        check_offer(change(offer))
    assert why in str(refused.value)


def _without(sdp: str, prefix: str) -> str:
    return "\r\n".join(line for line in sdp.split("\r\n") if not line.startswith(prefix))
