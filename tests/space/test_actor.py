"""The SpaceActor in-process: crash recovery, and the mixer's inputs following the roles at once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import pytest
import trio
import trio.testing

from actors.runtime import ActorCrashed, ActorStopped
from actors.space import PostShared, Role, SpaceDirectory, SpaceEnded, SpaceRef
from actors.space.persistence import NO_STORE, NoStore, SpaceStore
from tests.audio import assert_tone_present, decode_stream, encode_tone, tone_level
from tests.space.fakes import RecordingFanout, RecordingLink


@asynccontextmanager
async def open_directory(store: SpaceStore = NO_STORE) -> AsyncIterator[tuple[SpaceDirectory, RecordingFanout]]:
    """A space directory over a recording fan-out; its spaces stop when the block ends."""
    async with trio.open_nursery() as nursery:
        fanout = RecordingFanout()
        yield SpaceDirectory(nursery, fanout, store=store), fanout
        nursery.cancel_scope.cancel()


class Crash:
    """A message no space understands: handling it raises, which crashes the actor."""


async def test_a_crashed_space_restarts_with_its_participants_timeline_and_links() -> None:
    with trio.fail_after(10):
        async with open_directory() as (directory, fanout):
            space = await directory.create("host", "Resilient")
            host_link, guest_link = RecordingLink(fanout), RecordingLink(fanout)
            await space.join("host", host_link)
            await space.join("guest", guest_link)
            await space.set_role("host", "guest", Role.SPEAKER)
            await space.share_post("guest", "before the crash")
            before = await space.snapshot()

            with pytest.raises(ActorCrashed):
                await space._actor.ask(Crash())

            after = await space.snapshot()
            assert after == before
            assert directory.restarts == 1
            await space.share_post("host", "after the crash")
            posts = [e for e in guest_link.events if isinstance(e, PostShared)]
            assert [e.post.text for e in posts] == ["before the crash", "after the crash"]
            assert [e.seq for e in guest_link.events] == list(range(guest_link.events[0].seq, posts[-1].seq + 1))


class EndingsStore(NoStore):
    """Keeps nothing but the spaces recorded as ended."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    async def space_ended(self, space_id: str, at: int) -> None:
        self.ended.append(space_id)


async def test_a_space_that_keeps_crashing_is_given_up_and_everyone_is_told() -> None:
    store = EndingsStore()
    with trio.fail_after(10):
        async with open_directory(store) as (directory, fanout):
            space = await directory.create("host", "Doomed")
            link = RecordingLink(fanout)
            await space.join("host", link)
            for _ in range(4):
                with pytest.raises((ActorCrashed, ActorStopped)):
                    await space._actor.ask(Crash())
            await trio.testing.wait_all_tasks_blocked()
            ended = link.events[-1]
            assert isinstance(ended, SpaceEnded) and ended.reason == "failed"
            assert directory.live_count == 0
            assert store.ended == [space.space_id], "recorded as ended: a restart must not bring it back"


async def test_a_space_given_up_leaves_the_other_spaces_running() -> None:
    with trio.fail_after(10):
        async with open_directory() as (directory, fanout):
            doomed = await directory.create("host", "Doomed")
            neighbour = await directory.create("other", "Neighbour")
            await neighbour.share_post("other", "before")
            for _ in range(4):
                with pytest.raises((ActorCrashed, ActorStopped)):
                    await doomed._actor.ask(Crash())
            await trio.testing.wait_all_tasks_blocked()
            assert directory.live_count == 1 and directory.hosted_by("host") is None
            await neighbour.share_post("other", "after")
            assert [p.text for p in (await neighbour.snapshot()).timeline] == ["before", "after"]
            assert directory.hosted_by("other") == neighbour.space_id


async def stream(space: SpaceRef, user: str, packets: list[bytes]) -> None:
    start = trio.current_time()
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        space.push_audio(user, i, time.time_ns() // 1000, packet)


async def test_a_speaker_moved_back_is_silent_from_the_next_tick() -> None:
    with trio.fail_after(15):
        async with open_directory() as (directory, fanout):
            space = await directory.create("host", "Demotion")
            listener = RecordingLink(fanout)
            await space.join("host", RecordingLink(fanout))
            await space.join("a", RecordingLink(fanout))
            await space.join("b", RecordingLink(fanout))
            await space.join("ear", listener)
            await space.set_role("host", "a", Role.SPEAKER)
            await space.set_role("host", "b", Role.SPEAKER)

            a_packets, b_packets = encode_tone(440, 3.0), encode_tone(1000, 3.0)
            async with trio.open_nursery() as speakers:
                speakers.start_soon(stream, space, "a", a_packets)
                speakers.start_soon(stream, space, "b", b_packets)
                await trio.sleep(1.5)
                await space.set_role("host", "a", Role.LISTENER)
                demoted_at = max(seq for seq, _ in listener.frames)

            before = [opus for seq, opus in listener.frames if seq <= demoted_at]
            after = [(seq, opus) for seq, opus in listener.frames if seq > demoted_at]
            assert_tone_present(decode_stream(before)[48000 // 2 :], 440)
            # Decode the whole stream (the decoder needs its history), then look at the frames after.
            pcm = decode_stream(before + [opus for _, opus in after])
            tail = pcm[len(before) * 960 :]
            assert len(after) > 40
            assert tone_level(tail, 440) * 31.6 < tone_level(tail, 1000), "the demoted speaker is still audible"
            assert np.abs(tail[: 960 * 3]).max() > 0  # the other speaker went on without a gap


async def test_audio_from_a_listener_never_reaches_the_mix() -> None:
    with trio.fail_after(10):
        async with open_directory() as (directory, fanout):
            space = await directory.create("host", "Quiet")
            ear = RecordingLink(fanout)
            await space.join("host", RecordingLink(fanout))
            await space.join("intruder", RecordingLink(fanout))
            await space.join("ear", ear)
            await stream(space, "intruder", encode_tone(440, 0.5))
            await trio.sleep(0.2)
            assert ear.frames == []


async def test_a_muted_speaker_is_silent_from_the_next_tick_until_they_unmute() -> None:
    with trio.fail_after(20):
        async with open_directory() as (directory, fanout):
            space = await directory.create("host", "Muting")
            ear = RecordingLink(fanout)
            await space.join("host", RecordingLink(fanout))
            await space.join("a", RecordingLink(fanout))
            await space.join("b", RecordingLink(fanout))
            await space.join("ear", ear)
            await space.set_role("host", "a", Role.SPEAKER)
            await space.set_role("host", "b", Role.SPEAKER)

            a_packets, b_packets = encode_tone(440, 4.5), encode_tone(1000, 4.5)
            async with trio.open_nursery() as speakers:
                speakers.start_soon(stream, space, "a", a_packets)
                speakers.start_soon(stream, space, "b", b_packets)
                await trio.sleep(1.5)
                await space.mute("host", "a")
                muted_at = max(seq for seq, _ in ear.frames)
                await trio.sleep(1.5)
                await space.unmute("a")
                unmuted_at = max(seq for seq, _ in ear.frames)

            seqs = [seq for seq, _ in ear.frames]
            pcm = decode_stream([opus for _, opus in ear.frames])

            def segment(first_seq: int, last_seq: int) -> np.ndarray:
                index = [i for i, seq in enumerate(seqs) if first_seq < seq <= last_seq]
                return pcm[index[0] * 960 : (index[-1] + 1) * 960]

            assert_tone_present(segment(seqs[0] + 25, muted_at), 440)
            silenced = segment(muted_at, unmuted_at)
            assert len(silenced) > 960 * 40
            assert tone_level(silenced, 440) * 31.6 < tone_level(silenced, 1000), "the muted speaker is audible"
            assert np.abs(silenced[: 960 * 3]).max() > 0  # the other speaker went on without a gap
            assert_tone_present(segment(unmuted_at + 10, seqs[-1]), 440)
