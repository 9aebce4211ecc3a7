"""What a space keeps of its events for resumes: consecutive events, bounded in count and in bytes, and
exactly the events after a client's last one (or None when they are no longer all there)."""

from __future__ import annotations

import msgpack

from actors.space import PostShared
from actors.space.replay import MAX_LOG_BYTES, MAX_LOG_EVENTS, EventLog
from actors.space.values import Post


def posts(first: int, count: int, text: str = "hi") -> list[PostShared]:
    return [PostShared("s1", seq, seq, Post(seq, "u1", text, seq)) for seq in range(first, first + count)]


def seqs(entries: list[bytes] | None) -> list[int] | None:
    return None if entries is None else [msgpack.unpackb(e)["seq"] for e in entries]


def test_the_events_after_the_last_one_seen_in_order_as_they_were_sent() -> None:
    log = EventLog().appended(posts(2, 5))  # event 1 (the host's arrival) is in every snapshot
    assert seqs(log.since(3, 6)) == [4, 5, 6]
    assert seqs(log.since(6, 6)) == []  # nothing missed
    assert seqs(log.since(1, 6)) == [2, 3, 4, 5, 6]
    post = {"id": 2, "user": "u1", "text": "hi", "at": 2, "name": ""}
    assert msgpack.unpackb(log.entries[0]) == {"type": "post_shared", "space_id": "s1", "seq": 2, "at": 2, "post": post}


def test_a_client_that_holds_nothing_of_the_space_gets_none_whatever_the_log_holds() -> None:
    """`last_seq` 0: event 1 (the creation) is in every snapshot, never an event, so only a snapshot will do;
    even a log that held event 1 (none does: a space's first logged event is 2) gives nothing from 0."""
    assert EventLog().appended(posts(2, 5)).since(0, 6) is None
    assert EventLog().appended(posts(1, 5)).since(0, 5) is None
    assert seqs(EventLog().appended(posts(1, 5)).since(1, 5)) == [2, 3, 4, 5]  # the control


def test_what_the_log_cannot_give_whole_is_none() -> None:
    log = EventLog().appended(posts(10, 5))
    assert log.since(8, 14) is None  # event 9 was never kept
    assert log.since(15, 14) is None  # beyond the space's last event
    assert log.since(12, 15) is None  # the space went on past what the log holds


def test_the_log_keeps_the_latest_events_within_its_count() -> None:
    log = EventLog()
    for first in range(1, MAX_LOG_EVENTS + 500, 100):
        log = log.appended(posts(first, 100))
    last = log.last_seq
    assert len(log.entries) == MAX_LOG_EVENTS and log.first_seq == last - MAX_LOG_EVENTS + 1
    assert log.since(log.first_seq - 2, last) is None and seqs(log.since(log.first_seq - 1, last)) is not None


def test_the_log_keeps_the_latest_events_within_its_bytes() -> None:
    log = EventLog().appended(posts(1, 200, text="x" * 1000))
    assert log.size <= MAX_LOG_BYTES < log.size + len(log.entries[0])
    assert log.size == sum(len(e) for e in log.entries)
    assert log.last_seq == 200 and len(log.entries) < 200


def test_a_jump_in_numbers_starts_the_log_again() -> None:
    """A space brought back after a restart numbers its events above every number it gave before."""
    log = EventLog().appended(posts(1, 10)).appended(posts(1000, 2))
    assert (log.first_seq, log.last_seq) == (1000, 1001)
    assert log.since(10, 1001) is None
