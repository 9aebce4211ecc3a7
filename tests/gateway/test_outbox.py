"""The outbox keeps order, drops the oldest audio first, never drops an event, and closes after its events."""

from __future__ import annotations

import pytest
import trio

from gateway.errors import OVERFLOW_REASON, CloseCode
from gateway.outbox import Outbox, OutboxClosed


async def drain(outbox: Outbox) -> list[bytes]:
    out = []
    with trio.move_on_after(0.01):
        while True:
            out.append(await outbox.get())
    return out


async def test_replies_events_and_audio_leave_in_the_order_they_were_queued() -> None:
    box = Outbox()
    box.put(b"e1")
    box.put_audio(b"a1")
    box.put(b"e2")
    box.put_audio(b"a2")
    assert await drain(box) == [b"e1", b"a1", b"e2", b"a2"]


async def test_full_audio_queue_drops_the_oldest_frames() -> None:
    box = Outbox(max_audio=3)
    for i in range(5):
        box.put_audio(b"a%d" % i)
    box.put(b"event")
    assert await drain(box) == [b"a2", b"a3", b"a4", b"event"]
    assert box.audio_dropped == 2


async def test_an_event_makes_room_by_dropping_audio_not_events() -> None:
    box = Outbox(max_bytes=11, max_audio=10)
    box.put(b"eeee")
    box.put_audio(b"aaa")
    box.put_audio(b"bbb")
    assert box.put(b"ffff")  # needs 4 bytes: the oldest audio goes
    assert await drain(box) == [b"eeee", b"bbb", b"ffff"]


async def test_events_that_cannot_fit_close_the_outbox_as_too_slow_after_what_it_holds() -> None:
    # As the Rust fan-out: a client that catches up reads what was queued, then its 4000 close frame.
    box = Outbox(max_bytes=8, max_audio=10)
    assert box.put(b"1234")
    box.put_audio(b"aa")
    assert not box.put(b"56789")
    assert (box.close_code, box.close_reason) == (CloseCode.TOO_SLOW, OVERFLOW_REASON)
    assert not box.put(b"x")
    assert await box.get() == b"1234"  # the audio went with the close
    with pytest.raises(OutboxClosed):
        await box.get()


async def test_a_close_leaves_the_queued_events_to_write_first_drops_the_audio_and_takes_nothing_more() -> None:
    box = Outbox()
    box.put(b"e1")
    box.put_audio(b"a1")
    box.put(b"e2")
    box.close(CloseCode.POLICY_VIOLATION, "too many refused messages in a row")
    assert not box.put(b"e3")
    box.put_audio(b"a2")
    assert [await box.get(), await box.get()] == [b"e1", b"e2"]
    with pytest.raises(OutboxClosed):
        await box.get()
    assert box.close_code is CloseCode.POLICY_VIOLATION
