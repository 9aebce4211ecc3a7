"""`Mixer.tick` releases the GIL: another Python thread keeps running while
ticks run. No speed-up is asserted (two shared vCPUs make ratios flaky).

Method: the ticks run back to back from C (`deque(map(...))`), so the main
thread executes no bytecode between them and, holding the GIL, would never
hand it over. A counting thread records when it runs; with the GIL released
it keeps running in the middle of the batch. A batch of GIL-holding calls
(`Encoder.encode`) is the control: there, the counter stops."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable

from mixer import Encoder, Mixer
from tests.audio import encode_tone, tone_frames
from tests.gilcheck import counting_thread

SPEAKERS = 13
TICKS = 40
EDGE_NS = 20_000_000  # 20 ms: the switch interval (5 ms) and thread start-up, with room


def counts_inside(batch: Callable[[], object]) -> tuple[int, int]:
    """Runs `batch` beside the counting thread; returns (stamps well inside it, its ns)."""
    with counting_thread() as stamps:
        time.sleep(0.05)  # let the counter get going
        start = time.perf_counter_ns()
        batch()
        end = time.perf_counter_ns()
    inside = [t for t in stamps if start + EDGE_NS < t < end - EDGE_NS]
    return len(inside), end - start


def talking_mixer() -> Mixer:
    mixer = Mixer(complexity=10, max_queue=TICKS, max_mixed=SPEAKERS)
    tones = [encode_tone(300 + 50 * i, TICKS * 0.02) for i in range(SPEAKERS)]
    for input_id, packets in enumerate(tones):
        mixer.add_input(input_id)
        for seq, packet in enumerate(packets):
            mixer.push(input_id, seq, 0, packet)
    return mixer


def test_other_threads_run_during_tick() -> None:
    mixer = talking_mixer()
    outputs: deque[object] = deque()
    inside, duration = counts_inside(lambda: outputs.extend(map(Mixer.tick, itertools.repeat(mixer, TICKS))))
    assert duration > 3 * EDGE_NS, f"batch too short to judge: {duration / 1e6:.1f} ms"
    assert mixer.stats().encodes == TICKS * (SPEAKERS + 1), "every tick mixed all 13 speakers"
    assert inside > 0, "the counting thread never ran while ticks ran: tick holds the GIL"


def test_control_a_gil_holding_call_stops_the_counter() -> None:
    encoder = Encoder(complexity=10)
    frame = tone_frames(440, 0.02)[0]
    encoder.encode(frame)
    started = time.perf_counter_ns()
    calls = 0
    while time.perf_counter_ns() - started < 100_000_000:
        encoder.encode(frame)
        calls += 1
    calls *= 2  # about 200 ms of encodes
    inside, duration = counts_inside(lambda: deque(map(encoder.encode, itertools.repeat(frame, calls)), maxlen=0))
    assert duration > 3 * EDGE_NS
    assert inside == 0, "Encoder.encode no longer holds the GIL? This control needs a call that does"
