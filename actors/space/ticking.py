"""What drives a space's 20 ms tick, and carries its frames to the audience.

- `DriverTicker`: the Rust `mixer.SpaceDriver`, the space's registration with the server's `TickPool` (a
  few Rust threads that tick every talking space and queue the frames in the Rust fan-out). It runs no
  task and holds no thread: a silent space costs nothing here. No Python (and so no event-loop stall or
  garbage-collector pause) on the audio path. Used with the server's Rust fan-out. It also tells everyone
  in the space who is talking (`speaking`, from the mixer's gate, in Rust: `mixer-rs/driver/src/speaking.rs`);
  the space names each input's user as it makes it.
- `TrioTicker`: the same work from a Trio task (the tick itself in a worker thread, the GIL released),
  delivering through the `Audience`. The `--transport python` baseline's only (`gateway/pyfanout.py`);
  tests over a Python fan-out get it too, but none of them vouches for the tick. What a tick does (a voice
  gone from the next tick after a demotion or a mute, a listener never in the mix, a reconnecting
  speaker's new stream) is tested on `DriverTicker` over the real fan-out and sockets
  (`tests/space/sockets.py`), the path production runs. It sends no `speaking` (docs/protocol.md).

A ticker belongs to the space, not to one incarnation of its actor (as the mixer it ticks does): a restart
leaves the audio running, and frames keep their numbering, and a recording keeps going into the same file.
Only the Rust driver records (the recording mix is made in its tick: `docs/recording.md`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import trio

from actors.space.audience import Audience
from mixer import Fanout, Mixer, SpaceDriver, TickPool

if TYPE_CHECKING:
    from mixer import RecordingStats

log = logging.getLogger("actors.space")


@dataclass(frozen=True, slots=True)
class MixConfig:
    """The settings of each space's mixer (`mixer.Mixer`), the same for every space of a server."""

    bitrate: int = 32000
    complexity: int = 5
    max_queue: int = 6
    hangover_ticks: int = 5
    max_mixed: int = 4
    silence_dbfs: int = -50
    hold_ticks: int = 10

    def new_mixer(self) -> Mixer:
        return Mixer(
            bitrate=self.bitrate,
            complexity=self.complexity,
            max_queue=self.max_queue,
            hangover_ticks=self.hangover_ticks,
            max_mixed=self.max_mixed,
            silence_dbfs=self.silence_dbfs,
            hold_ticks=self.hold_ticks,
        )


FRAME_S = 0.020
MAX_BEHIND_S = 0.2


class Ticker(Protocol):
    def notify(self) -> None:
        """Packets were pushed: start ticking if quiet."""

    def route(self, input_id: int, conn: int) -> None:
        """Speaker `input_id` hears its own stream on connection `conn`."""

    def unroute(self, input_id: int) -> None: ...

    def name_input(self, input_id: int, user: str) -> None:
        """Mixer input `input_id` speaks for `user` (who is told as talking while its voice is in the mix)."""

    def forget_input(self, input_id: int) -> None: ...

    def send_speaking(self, conn: int) -> None:
        """Tell connection `conn`, just attached after its `joined` or `resumed`, who is talking now."""

    @property
    def routes(self) -> dict[int, int]:
        """Each routed speaker's input and its connection, as the ticker knows them now."""

    @property
    def records(self) -> bool:
        """Whether this ticker can record (the Rust driver's)."""

    def set_consent(self, input_id: int, consent: bool) -> None:
        """Whether input `input_id` enters the recording (from the next tick; no input does by default)."""

    def start_recording(self, path: str, serial: int) -> None:
        """Record the space's mix into a new Ogg Opus file at `path` (`OSError` if it cannot be made)."""

    def stop_recording(self) -> RecordingStats | None:
        """Finish the file; its stats, or None if nothing was recorded."""

    @property
    def failure(self) -> str | None:
        """Why the space's audio stopped for good (a panic in its tick: a bug), once it has; None meanwhile."""

    def close(self) -> None:
        """The space is over: no more ticks; what is batched is sent."""


def open_ticker(mixer: Mixer, audience: Audience, nursery: trio.Nursery, pool: TickPool | None) -> Ticker:
    """The space's ticker: on `pool` with the Rust fan-out, otherwise a task started in `nursery`."""
    fanout = audience.fanout
    if isinstance(fanout, Fanout) and pool is not None:
        return DriverTicker(mixer, pool, fanout, audience)
    ticker = TrioTicker(mixer, audience)
    nursery.start_soon(ticker.run)
    return ticker


class DriverTicker:
    __slots__ = ("_audience", "_driver", "_routes")

    def __init__(self, mixer: Mixer, pool: TickPool, fanout: Fanout, audience: Audience) -> None:
        self._audience = audience
        self._routes: dict[int, int] = {}
        self._driver = SpaceDriver(
            pool,
            mixer,
            fanout,
            audience.audio_group,
            batching=audience.batching,
            first_seq=audience.next_audio_seq,
        )
        self._driver.tell_speaking(audience.space_id, audience.everyone_group)

    def notify(self) -> None:
        self._driver.notify()

    def name_input(self, input_id: int, user: str) -> None:
        self._driver.name_input(input_id, user)

    def forget_input(self, input_id: int) -> None:
        self._driver.forget_input(input_id)

    def send_speaking(self, conn: int) -> None:
        self._driver.send_speaking(conn)

    @property
    def speaking_messages(self) -> int:
        """`speaking` messages sent to everyone in the space so far."""
        return self._driver.speaking_messages

    def route(self, input_id: int, conn: int) -> None:
        self._routes[input_id] = conn
        self._driver.route(input_id, conn)

    def unroute(self, input_id: int) -> None:
        self._routes.pop(input_id, None)
        self._driver.unroute(input_id)

    @property
    def routes(self) -> dict[int, int]:
        return dict(self._routes)

    @property
    def next_seq(self) -> int:
        """The `seq` the next tick's frame will carry (tests tell a change's next tick by it)."""
        return self._driver.next_seq

    records = True

    def set_consent(self, input_id: int, consent: bool) -> None:
        self._driver.set_consent(input_id, consent)

    def start_recording(self, path: str, serial: int) -> None:
        self._driver.start_recording(path, serial)

    def stop_recording(self) -> RecordingStats | None:
        return self._driver.stop_recording()

    def recording_stats(self) -> RecordingStats | None:
        return self._driver.recording_stats()

    @property
    def frames_per_message(self) -> int:
        """Frames per message of the audience's stream now."""
        return self._driver.frames_per_message

    @property
    def failure(self) -> str | None:
        return self._driver.failure

    def close(self) -> None:
        self._driver.stop()
        self._audience.next_audio_seq = self._driver.next_seq
        if self._driver.skipped_ticks:
            log.warning("space %s: %d ticks skipped", self._audience.space_id, self._driver.skipped_ticks)


class TrioTicker:
    def __init__(self, mixer: Mixer, audience: Audience) -> None:
        self._mixer = mixer
        self._audience = audience
        self._wake = trio.Event()
        self._routes: dict[int, int] = {}
        self._scope = trio.CancelScope()
        self.next_seq = audience.next_audio_seq

    def notify(self) -> None:
        self._wake.set()

    def route(self, input_id: int, conn: int) -> None:
        self._routes[input_id] = conn

    def unroute(self, input_id: int) -> None:
        self._routes.pop(input_id, None)

    def name_input(self, input_id: int, user: str) -> None:
        """The Python baseline tells no one who is talking."""

    def forget_input(self, input_id: int) -> None:
        pass

    def send_speaking(self, conn: int) -> None:
        pass

    @property
    def routes(self) -> dict[int, int]:
        return dict(self._routes)

    records = False  # the baseline does not record: `Recorder` refuses before asking

    def set_consent(self, input_id: int, consent: bool) -> None:
        pass

    def start_recording(self, path: str, serial: int) -> None:
        raise OSError("the python transport's tick does not record")

    def stop_recording(self) -> RecordingStats | None:
        return None

    failure = None  # an exception in its task reaches the server's nursery

    @property
    def talking(self) -> bool:
        """Whether it has packets to tick or frames to send: False once the mix went quiet and its last batch
        was sent (the wake-up is renewed only then)."""
        return self._wake.is_set()

    def close(self) -> None:
        self._scope.cancel()

    async def run(self) -> None:
        """Tick every 20 ms on a deadline schedule while the mixer has audio; park when it goes quiet.

        A late tick is caught up at once (audio stays continuous). If the loop falls more than
        `MAX_BEHIND_S` behind (a stalled machine), the missed ticks are skipped, and counted into the
        frames' `seq`, so listeners see the gap as the loss it is.
        """
        with self._scope:
            try:
                while True:
                    await self._wake.wait()
                    # One frame of playout delay, so each talker's next packet is usually there when needed.
                    await trio.sleep(FRAME_S)
                    deadline = trio.current_time()
                    while self._mixer.active:
                        out = await trio.to_thread.run_sync(self._mixer.tick)
                        seq = self.next_seq
                        self.next_seq += 1
                        self._audience.send_mix(seq, out.captured_at, out.shared, out.minus, out.mixed, self._routes)
                        deadline += FRAME_S
                        behind = trio.current_time() - deadline
                        if behind > MAX_BEHIND_S:
                            missed = int(behind / FRAME_S)
                            self.next_seq += missed
                            deadline += missed * FRAME_S
                            log.warning("space %s: tick loop %.0f ms behind, %d ticks skipped",
                                        self._audience.space_id, behind * 1000, missed)  # fmt: skip
                        await trio.sleep_until(deadline)
                    self._audience.flush()
                    self._wake = trio.Event()
            finally:
                self._audience.flush()
