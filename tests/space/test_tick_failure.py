"""A panic in one space's tick (a bug) ends that space as `failed`, and only it. The tick pool catches it
(`driver::contained`, in `mixer-rs/driver/src/pool.rs`) and stops ticking that space; the directory ends the space
within a second (`SpaceDirectory._watch_audio`): its members get `space_ended` with reason `failed`, while
another space on the same pool threads is still heard, and the server's engine is not failed
(`mixer.engine_failure()`: the server would exit). The panic is made in the real driver's next tick
(`SpaceDriver._inject_panic`); listeners are real sockets the Rust fan-out writes, read with `msgpack`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from actors.space import SpaceRef
from actors.space.errors import SpaceOver
from mixer import engine_failure
from tests.audio import encode_tone
from tests.space.sockets import SocketLink, driver_of, open_rust_directory, stream

pytestmark = pytest.mark.serial  # heard at the 20 ms pace


async def until(check: Callable[[], object], seconds: float) -> float:
    """Waits until `check()` is true, at most `seconds`; how long it took."""
    start = trio.current_time()
    with trio.fail_after(seconds):
        while not check():  # noqa: ASYNC110 (what it waits for is read by the links' own tasks)
            await trio.sleep(0.02)
    return trio.current_time() - start


async def test_a_panic_in_one_spaces_tick_ends_it_as_failed_and_the_others_play_on() -> None:
    with trio.fail_after(30):
        async with open_rust_directory() as (directory, new_link):
            spaces: dict[str, tuple[SpaceRef, SocketLink]] = {}
            for name in ("broken", "fine"):
                space = await directory.create(f"host-{name}", name.title())
                await space.join(f"host-{name}", new_link())
                ear = new_link()
                await space.join(f"ear-{name}", ear)
                spaces[name] = (space, ear)
            (broken, broken_ear), (fine, fine_ear) = spaces["broken"], spaces["fine"]
            packets = encode_tone(440, 5.0)
            async with trio.open_nursery() as talking:
                talking.start_soon(stream, broken, "host-broken", packets)
                talking.start_soon(stream, fine, "host-fine", packets)
                await until(lambda: broken_ear.frames and fine_ear.frames, 2.0)  # both heard

                driver_of(broken)._driver._inject_panic()
                took = await until(lambda: any(m["type"] == "space_ended" for m in broken_ear.others), 3.0)
                ended = [m for m in broken_ear.others if m["type"] == "space_ended"]
                assert [m["reason"] for m in ended] == ["failed"]
                assert took < 1.0 + 0.5  # the directory looks every second
                with pytest.raises(SpaceOver):  # over for the directory too
                    directory.get(broken.space_id)
                assert directory.get(fine.space_id) is fine

                heard_at_end = len(broken_ear.frames)
                fine_before = len(fine_ear.frames)
                await trio.sleep(1.0)
                assert len(fine_ear.frames) - fine_before >= 40, "the other space's listener still hears it"
                assert len(broken_ear.frames) == heard_at_end
                talking.cancel_scope.cancel()
            assert engine_failure() is None, "a caught tick panic does not fail the engine"
