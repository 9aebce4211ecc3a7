"""A long timeline no longer makes a space unjoinable: the snapshot and a space's record carry only the latest
posts, `get_posts` pages back through the rest from the store, joins stay fast with 10,000 posts, and the
largest possible message of each kind fits well within a connection's send queue."""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import trio
from trio_websocket import open_websocket_url

from actors.space import (
    MAX_POST_CHARS,
    RECENT_POSTS,
    AudienceChanged,
    Person,
    Post,
    PostShared,
    Role,
    SpaceState,
    SpaceStatus,
    domain,
)
from actors.space.values import MAX_CHURN_NAMES, MAX_DESCRIPTION_CHARS, MAX_TOPIC_CHARS, MAX_TOPICS
from gateway import protocol as p
from gateway.client import RequestError, connect, connect_account
from gateway.gateway_config import GatewayConfig
from gateway.handlers.schedule import MAX_LIVE_LISTED, MAX_UPCOMING_LISTED
from gateway.server import DATABASE_FILE
from store import INBOX_PAGE_BYTES, StoredPost, add_post, create_space, open_database
from tests.conftest import ServerProcess, start_server, stop_server

QUEUE_BYTES = GatewayConfig().max_queue_bytes  # a connection's send queue: 256 KiB
LARGEST = 128 * 1024  # what docs/protocol.md promises: every message under half the queue
WIDE = "🔥"  # 4 bytes of UTF-8 per character: the longest text of a given length
NAME = "n" * 32  # the longest name
USER = "u" + "9" * 19  # the longest user id the server issues (an account's)


async def prefill(data: Path, space_id: str, count: int, *, long_tail: int = 0) -> None:
    """A live space hosted by ada (account 1: the first registered) with `count` posts, written straight
    into the store before the server
    starts (10,000 posts through the server would take a minute here); the last `long_tail` posts are of
    the longest kind (1,000 four-byte characters)."""
    async with open_database(data / DATABASE_FILE) as db:
        await create_space(db, space_id, "Long timeline", "u1", 1, 1, host_name="ada")

        def insert(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO space_posts (space_id, post_id, user, text, at, name) VALUES (?, ?, ?, ?, ?, 'ada')",
                [
                    (space_id, i, "u1", WIDE * MAX_POST_CHARS if i > count - long_tail else f"post {i}", 1000 + i)
                    for i in range(1, count + 1)
                ],
            )

        await db.write(insert)
        await add_post(db, space_id, StoredPost(count + 1, "u1", "the newest", 2_000_000, "ada"))


class RawClient:
    """A client that reads the server's frames with the independent `msgpack` package, sizes included."""

    def __init__(self, ws: object) -> None:
        self.ws = ws
        self.sizes: list[int] = []
        self.waits = 0  # requests refused with rate_limited and asked again

    async def ask(self, message: dict[str, object]) -> dict[str, object]:
        """Send `message` and return its reply; refused with `rate_limited`, wait as told and ask again (as
        a client paging far back should)."""
        while True:
            reply = await self._ask_once(message)
            if reply.get("code") != "rate_limited":
                return reply
            self.waits += 1
            retry_after_ms = reply["retry_after_ms"]
            assert isinstance(retry_after_ms, int) and 0 < retry_after_ms <= 1000
            await trio.sleep(retry_after_ms / 1000)

    async def _ask_once(self, message: dict[str, object]) -> dict[str, object]:
        await self.ws.send_message(msgpack.packb(message))  # type: ignore[attr-defined]
        while True:
            frame = await self.ws.get_message()  # type: ignore[attr-defined]
            self.sizes.append(len(frame))
            reply = msgpack.unpackb(frame)
            if reply.get("ref") == message.get("ref"):
                assert isinstance(reply, dict)
                return reply


async def test_a_timeline_of_10000_posts_still_lets_anyone_join_in_under_100_ms(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    await prefill(data, "long", 10_000)
    server = start_server(data)
    try:
        with trio.fail_after(60):
            times = []
            for i in range(9):
                async with connect(server.url, f"guest_{i}") as guest:
                    started = time.perf_counter()
                    joined = await guest.join_space("long")
                    times.append(time.perf_counter() - started)
                    snapshot = joined.space
                    assert [p.id for p in snapshot.timeline] == list(range(10_001 - RECENT_POSTS + 1, 10_002))
                    assert snapshot.post_count == 10_001
            median_ms = statistics.median(times) * 1000
            print(
                f"\njoin_space with 10,001 posts: median {median_ms:.1f} ms, max {max(times) * 1000:.1f} ms (9 joins)"
            )
            assert median_ms < 100

            async with connect_account(server.url, "ada") as ada:
                assert ada.user == "u1"
                joined = await ada.join_space("long")
                assert joined.role == Role.HOST
                await ada.share_post("after the restart")
                event = await ada.next_event()
                while not isinstance(event, PostShared):
                    event = await ada.next_event()
                assert event.post.id == 10_002, "post ids count on from the store's last one"
                record = await ada.get_space("long")
                assert [p.id for p in record.timeline] == list(range(10_002 - RECENT_POSTS + 1, 10_003))
    finally:
        assert stop_server(server) == 0


async def test_get_posts_pages_back_through_the_whole_timeline_read_with_msgpack(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    await prefill(data, "long", 1_000, long_tail=60)
    server = start_server(data)
    try:
        with trio.fail_after(60):
            async with open_websocket_url(server.url, max_message_size=2**20) as ws:
                raw = RawClient(ws)
                welcome = await raw.ask({"type": "hello", "protocol": 2, "name": "lena"})
                assert welcome["type"] == "welcome"
                joined = await raw.ask({"type": "join_space", "ref": 1, "space_id": "long"})
                timeline = joined["space"]["timeline"]  # type: ignore[index]
                text_bytes = sum(len(post["text"].encode()) for post in timeline)
                assert text_bytes <= domain.POSTS_BYTES < text_bytes + 4 * MAX_POST_CHARS, "the byte cap, full"
                assert timeline[-1]["id"] == 1_001 and len(timeline) < RECENT_POSTS

                seen: list[int] = [post["id"] for post in timeline]
                before, ref, more = seen[0], 2, True
                while more:
                    page = await raw.ask({"type": "get_posts", "ref": ref, "space_id": "long", "before_id": before})
                    assert page["type"] == "posts" and page["space_id"] == "long"
                    ids = [post["id"] for post in page["posts"]]  # type: ignore[union-attr]
                    assert ids == sorted(ids) and ids[-1] == before - 1, "the newest below before_id, oldest first"
                    seen = ids + seen
                    before, ref, more = ids[0], ref + 1, bool(page["more"])
                assert seen == list(range(1, 1_002)), "every post, once, in order"
                assert max(raw.sizes) < LARGEST

                newest = await raw.ask({"type": "get_posts", "ref": ref, "space_id": "long", "limit": 3})
                assert [post["id"] for post in newest["posts"]] == [999, 1_000, 1_001]  # type: ignore[union-attr]
                assert newest["more"] is True
                oldest = await raw.ask({"type": "get_posts", "ref": ref + 1, "space_id": "long", "before_id": 3})
                assert [post["id"] for post in oldest["posts"]] == [1, 2] and oldest["more"] is False  # type: ignore[union-attr]
                unknown = await raw.ask({"type": "get_posts", "ref": ref + 2, "space_id": "nope"})
                assert (unknown["type"], unknown["code"]) == ("error", "no_such_space")
                too_many = await raw.ask({"type": "get_posts", "ref": ref + 3, "space_id": "long", "limit": 101})
                assert (too_many["type"], too_many["code"]) == ("error", "bad_message")
                most = await raw.ask({"type": "get_posts", "ref": ref + 4, "space_id": "long", "before_id": 900})
                assert len(most["posts"]) == 50, "control: the default limit"  # type: ignore[arg-type]
    finally:
        assert stop_server(server) == 0


@pytest.fixture
def unlimited(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server without rate limits: these tests grow timelines faster than `share_post` allows."""
    server = start_server(tmp_path / "data", "--rate-limits", "off")
    yield server
    assert stop_server(server) == 0


async def test_300_posts_of_1000_characters_no_longer_make_a_space_unjoinable(unlimited: ServerProcess) -> None:
    server = unlimited
    with trio.fail_after(90):
        async with connect_account(server.url, "ada") as ada, connect_account(server.url, "mallory") as mallory:
            space_id = (await ada.create_space("Flooded")).space.space_id
            await mallory.join_space(space_id)
            text = WIDE * MAX_POST_CHARS
            for _ in range(300):
                await mallory.share_post(text)
            whole = [Post(i, "mallory", text, 0) for i in range(1, 301)]
            assert len(p.encode(p.Posts(ref=1, space_id=space_id, posts=whole, more=False))) > QUEUE_BYTES, (
                "control: the whole timeline in one message would not fit the send queue"
            )
            await ada.leave_space()
            joined = await ada.join_space(space_id)
            assert joined.role == Role.HOST and joined.space.post_count == 300
            assert joined.space.timeline[-1].id == 300 and len(joined.space.timeline) < RECENT_POSTS
            record = await ada.get_space(space_id)
            assert record.timeline[-1].id == 300
            async with connect(server.url, "lena") as lena:
                assert (await lena.join_space(space_id)).space.post_count == 300


async def test_a_pinned_post_older_than_the_latest_posts_stays_in_the_snapshot(unlimited: ServerProcess) -> None:
    server = unlimited
    with trio.fail_after(60):
        async with connect_account(server.url, "ada") as ada:
            space_id = (await ada.create_space("Pins")).space.space_id
            for i in range(RECENT_POSTS + 10):
                await ada.share_post(f"post {i + 1}")
            await ada.pin_post(1)  # no longer held by the space: read back from the store
            async with connect(server.url, "lena") as lena:
                snapshot = (await lena.join_space(space_id)).space
                assert 1 not in [post.id for post in snapshot.timeline]
                assert snapshot.pinned == [1] and [(q.id, q.text) for q in snapshot.pinned_posts] == [(1, "post 1")]
            with pytest.raises(RequestError) as missing:
                await ada.pin_post(RECENT_POSTS + 11)
            assert missing.value.code == "no_such_post"


def test_the_largest_possible_message_of_each_kind_fits_the_send_queue() -> None:
    """Every capped list at its cap, every string at its longest in its widest characters; a byte-capped
    list of posts or messages is largest when its cap is reached by many short items (most overhead)."""

    def post(chars: int) -> Post:
        return Post(2**53, USER, WIDE * chars, 2**62, NAME)

    longest_post = post(MAX_POST_CHARS)
    timeline = (post(domain.POSTS_BYTES // RECENT_POSTS // 4),) * RECENT_POSTS
    on_mic = [f"u{i:019d}" for i in range(13)]
    listeners = [f"g-{i:012x}" for i in range(10_000)]
    state = SpaceState(
        space_id="s" * 64,
        title=WIDE * 100,
        host=on_mic[0],
        status=SpaceStatus.LIVE,
        roles={**{u: Role.SPEAKER for u in on_mic}, **{u: Role.LISTENER for u in listeners}},
        on_mic=tuple(on_mic),
        timeline=timeline,
        seq=2**62,
        created_at=2**62,
        hands=tuple(listeners),
        muted=tuple(on_mic),
        pinned=(1, 2, 3),
        pinned_posts=(longest_post,) * 3,
        description=WIDE * MAX_DESCRIPTION_CHARS,
        topics=(WIDE * MAX_TOPIC_CHARS,) * MAX_TOPICS,
        post_count=2**53,
        names={u: NAME for u in (*on_mic, *listeners)},
    )
    snapshot = p.snapshot_of(state)
    page, _ = domain.latest_posts([post(domain.POSTS_BYTES // p.MAX_POSTS_PAGE // 4)] * 200, p.MAX_POSTS_PAGE)
    assert len(page) == p.MAX_POSTS_PAGE
    live = p.LiveSpace("s" * 64, WIDE * 100, USER, NAME, [WIDE * MAX_TOPIC_CHARS] * MAX_TOPICS, 2**40, 13)
    upcoming = p.ScheduledSpace(
        2**53,
        USER,
        NAME,
        WIDE * 100,
        WIDE * MAX_DESCRIPTION_CHARS,
        [WIDE * MAX_TOPIC_CHARS] * MAX_TOPICS,
        2**62,
        2**62,
        2**40,
    )
    dm = p.DirectMessage(2**62, NAME, "invite", WIDE * 10_000, p.InviteLink("s" * 64, "speaker"), 2**62, False)
    short_dm = p.DirectMessage(2**62, NAME, "invite", "x" * (INBOX_PAGE_BYTES // 200), dm.invite, 2**62, False)
    person = Person(listeners[0], NAME)
    largest = {
        "joined": p.Joined(ref=2**53, role=Role.LISTENER, space=snapshot),
        "space_record": p.SpaceRecord(
            2**53,
            "s" * 64,
            WIDE * 100,
            USER,
            NAME,
            WIDE * MAX_DESCRIPTION_CHARS,
            [WIDE * MAX_TOPIC_CHARS] * MAX_TOPICS,
            SpaceStatus.ENDED,
            2**62,
            2**62,
            list(timeline),
        ),  # fmt: skip
        "posts": p.Posts(ref=2**53, space_id="s" * 64, posts=page, more=True),
        "spaces": p.Spaces(ref=2**53, live=[live] * MAX_LIVE_LISTED, upcoming=[upcoming] * MAX_UPCOMING_LISTED),
        "inbox": p.Inbox(ref=2**53, messages=[short_dm] * 200),
        "inbox (one longest message)": p.Inbox(ref=2**53, messages=[dm]),
        "dm_received": p.DmReceived(message=dm),
        "audience_changed": AudienceChanged(
            "s" * 64, 2**62, 2**62, 10_000, [person] * MAX_CHURN_NAMES, [person] * MAX_CHURN_NAMES, 2**40, 2**40
        ),
    }
    sizes = {kind: len(p.encode(message)) for kind, message in largest.items()}
    print("\nlargest message of each kind, bytes:", sizes)
    assert all(size < LARGEST < QUEUE_BYTES for size in sizes.values()), sizes
    assert len(snapshot.hands) == p.SNAPSHOT_HANDS and snapshot.hand_count == 10_000
    assert len(snapshot.listeners) == p.SNAPSHOT_LISTENERS and snapshot.listener_count == 10_000
    assert len(snapshot.timeline) == RECENT_POSTS and len(snapshot.participants) == 13
    # Controls: uncapped, the same lists would not fit, so the caps are what keeps each message small.
    uncapped_hands = len(msgpack.packb([{"user": u, "name": NAME} for u in listeners]))
    uncapped_upcoming = len(p.encode(p.Spaces(ref=1, live=[live] * 100, upcoming=[upcoming] * 100)))
    uncapped_inbox = len(p.encode(p.Inbox(ref=1, messages=[dm] * 200)))
    uncapped_page = len(p.encode(p.Posts(ref=1, space_id="s", posts=[longest_post] * p.MAX_POSTS_PAGE, more=True)))
    assert min(uncapped_hands, uncapped_upcoming, uncapped_inbox, uncapped_page) > QUEUE_BYTES
    assert INBOX_PAGE_BYTES == domain.POSTS_BYTES
