"""Who is talking (`speaking`), as production tells it: real Opus tones and real Opus silence pushed into the
real Rust mixer, ticked by the Rust tick pool, the messages written by the Rust driver and read from real
sockets the Rust fan-out wrote (`tests/space/sockets.py`), decoded with the independent `msgpack` package
(and with the protocol package's Struct, as a client would)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import stoa_protocol as p
import trio

from actors.space import Role, SpaceDirectory, SpaceRef
from tests.audio import encode_silence, encode_tone
from tests.space.sockets import Heard, SocketLink, driver_of, frames_once_quiet, open_rust_directory

HOLD_TICKS = 10  # the gate's hold (MixConfig.hold_ticks)
JITTER_TICKS = 3  # packets pushed on Trio's clock, ticked on the pool's: a frame or so either way
MIN_INTERVAL_S = 0.25  # docs/protocol.md, `speaking`
KEPT_PACE_S = 0.06  # a sender never further behind than this starved no input (the hangover is 100 ms)


def told(link: SocketLink) -> list[frozenset[str]]:
    """The sets `link` was told, in order, each checked to be exactly the documented message."""
    for heard in link.speaking:
        assert set(heard.message) == {"type", "space_id", "user_ids", "frame_seq"}, heard.message
        decoded = p.decode_server(heard.payload)
        assert isinstance(decoded, p.Speaking) and decoded.user_ids == heard.message["user_ids"]
    return [frozenset(h.message["user_ids"]) for h in link.speaking]


async def talk(space: SpaceRef, streams: dict[str, list[bytes]], pace: list[float] | None = None) -> None:
    """Each user sends its packets in real time, one per 20 ms, numbered from 0, all in step. `pace` gets the
    longest the sending fell behind, in seconds: on a busy machine this test's own loop may stall for longer
    than the mixer's hangover (100 ms), and a voice then really stops and starts again."""
    start, behind = trio.current_time(), 0.0
    for seq in range(max(len(packets) for packets in streams.values())):
        await trio.sleep_until(start + seq * 0.020)
        behind = max(behind, trio.current_time() - (start + seq * 0.020))
        for user, packets in streams.items():
            if seq < len(packets):
                space.push_audio(user, seq, time.time_ns() // 1000, packets[seq])
    if pace is not None:
        pace.append(behind)


async def open_stage(
    directory: SpaceDirectory, new_link: Callable[[], SocketLink], speakers: list[str]
) -> tuple[SpaceRef, dict[str, SocketLink]]:
    """A space with `speakers` on the mic (besides its host, who stays silent) and a listener, `ear`; the link
    of each."""
    space = await directory.create("host", "Who talks")
    links = {user: new_link() for user in ["host", "ear", *speakers]}
    for user, link in links.items():
        await space.join(user, link)
    for user in speakers:
        await space.set_role("host", user, Role.SPEAKER)
    return space, links


async def test_only_the_voices_in_the_mix_are_told_and_every_change_follows_the_gate() -> None:
    """`a` talks while `b`'s microphone sends silence; then both talk; then `a` falls silent; then `b` stops.
    Everyone (a listener, a speaker, a latecomer) is told exactly those four sets, each from its frame."""
    with trio.fail_after(30):
        async with open_rust_directory() as (directory, new_link):
            space, links = await open_stage(directory, new_link, ["a", "b"])
            ear, b_link = links["ear"], links["b"]
            tone_a, tone_b, silence = encode_tone(440, 2.0), encode_tone(1000, 2.0), encode_silence(1.0)
            streams = {"a": tone_a + silence[:50], "b": silence + tone_b}  # a: 0-2 s; b: 1-3 s
            late = new_link()
            pace: list[float] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(talk, space, streams, pace)
                await trio.sleep(0.5)
                await space.join("late", late)  # while only `a` talks: no change is due
            await frames_once_quiet(directory, ear)
            for link in (b_link, late):
                await link.sync()
            frames = [seq for seq, _ in ear.frames]

    a_alone, both, b_alone, nobody = frozenset({"a"}), frozenset({"a", "b"}), frozenset({"b"}), frozenset()
    sets, first = told(ear), [h.message["frame_seq"] for h in ear.speaking]
    # Whatever the machine's load did to the senders' pace:
    assert first == sorted(set(first)), "each set from a later frame than the one before"
    assert all(x != y for x, y in itertools.pairwise(sets)), "no message repeats the set before it"
    assert sets[0] == a_alone and sets[-1] == nobody
    assert first[0] == frames[0], "`a` is told from the first frame that carries its voice"
    b_starts, a_ends = first[0] + 50 - JITTER_TICKS, first[0] + 100 + HOLD_TICKS + JITTER_TICKS
    assert all("b" not in s for s, f in zip(sets, first, strict=True) if f < b_starts), "b's silence is named"
    assert all("a" not in s for s, f in zip(sets, first, strict=True) if f > a_ends), "a's silence is named"
    assert told(b_link) == sets, "speakers are told as the audience is"
    # The latecomer: the set last told, as it was told (same frame, not a change), then every change.
    greeting = first.index(late.speaking[0].message["frame_seq"])
    assert told(late) == sets[greeting:] and [h.message["frame_seq"] for h in late.speaking] == first[greeting:]
    if pace[0] < KEPT_PACE_S:  # the senders kept their 20 ms pace (a quiet machine): every change exactly
        assert sets == [a_alone, both, b_alone, nobody], "one message per change, nothing in between"
        assert greeting == 0, "joined while only `a` talked"
        assert abs(first[1] - first[0] - 50) <= JITTER_TICKS, "`b` from its first loud packet, a second later"
        # `a`'s last loud packet is its 100th: it leaves the set the gate's hold after it.
        assert abs(first[2] - (first[0] + 100 + HOLD_TICKS)) <= JITTER_TICKS, first
        assert first[3] > frames[-1], "nobody, once the last frame with a voice is out"


async def test_a_silent_microphone_is_never_told_though_it_is_unmuted_and_sending() -> None:
    """The control of the web client's old guess (every unmuted speaker while the mix carries sound): `b`
    sends for the whole time and is never named."""
    with trio.fail_after(20):
        async with open_rust_directory() as (directory, new_link):
            space, links = await open_stage(directory, new_link, ["a", "b"])
            ear = links["ear"]
            await talk(space, {"a": encode_tone(440, 1.5), "b": encode_silence(1.5)})
            await frames_once_quiet(directory, ear)
            assert "b" in space.audio.users
            assert directory.audio_stats().packets_in > 100, "b's silence reached the mixer (a sent 75 packets)"
    sets = told(ear)
    assert all("b" not in s for s in sets), sets
    assert sets[0] == frozenset({"a"}) and sets[-1] == frozenset()
    assert all(x != y for x, y in itertools.pairwise(sets))


async def test_a_talker_who_comes_and_goes_faster_than_the_rate_is_told_at_most_four_times_a_second() -> None:
    """One loud packet every 300 ms, silence between: the gate's set changes twice a period (6.7 times a
    second: the listener's audio shows it), and the listener is told at most once per 250 ms, the last set
    always (an empty one once the talk ends)."""
    loud, quiet = encode_tone(440, 0.02), encode_silence(0.28)
    period = loud + quiet  # 15 packets
    periods = 14  # 4.2 s
    with trio.fail_after(30):
        async with open_rust_directory() as (directory, new_link):
            space, links = await open_stage(directory, new_link, ["a"])
            ear = links["ear"]
            await talk(space, {"a": period * periods})
            await frames_once_quiet(directory, ear)
            sent = driver_of(space).speaking_messages
    seqs = [seq for seq, _ in ear.frames]
    spurts = 1 + sum(1 for before, after in itertools.pairwise(seqs) if after != before + 1)
    seconds = (seqs[-1] - seqs[0]) * 0.020
    assert 2 * spurts / seconds > 5, f"control: the voice came and went {spurts} times in {seconds:.1f} s"
    sets = told(ear)
    assert len(sets) == sent, "every message the driver counted reached the listener"
    # From the first change to the last (the end of the talk, told up to one interval after its last frame).
    assert len(sets) <= seconds / MIN_INTERVAL_S + 2, f"{len(sets)} messages in {seconds:.1f} s"
    assert len(sets) >= 2 * seconds, "changes kept being told, at the rate"
    assert all(x != y for x, y in itertools.pairwise(sets)), "no message repeats the last set"
    assert sets[-1] == frozenset()


def told_at(heard: list[Heard]) -> list[float]:
    return [h.at for h in heard]


async def test_a_muted_talker_leaves_the_set_and_a_newcomer_when_nobody_talks_is_told_nothing() -> None:
    with trio.fail_after(20):
        async with open_rust_directory() as (directory, new_link):
            space, links = await open_stage(directory, new_link, ["a"])
            ear = links["ear"]
            async with trio.open_nursery() as nursery:
                nursery.start_soon(talk, space, {"a": encode_tone(440, 2.0)})
                await trio.sleep(1.0)
                await space.mute("host", "a")  # its input goes: silent from the next tick
                muted_at = trio.current_time()
            await frames_once_quiet(directory, ear)
            quiet = new_link()
            await space.join("quiet", quiet)
            await quiet.sync()
    sets = told(ear)
    assert sets[0] == frozenset({"a"}) and sets[-1] == frozenset()
    assert told_at(ear.speaking)[-1] - muted_at < 1.0, "told soon after the mute, not at the end of the talk"
    assert quiet.speaking == [], "a client starts with nobody talking: nothing to tell"
