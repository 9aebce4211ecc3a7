"""The replay's timeline (web/js/replay-time.js), run in the real browser: which part plays at a time (the
silence between two parts, a part still being written), where each post appears, and how many have appeared
by a time. The player (tests/web/test_web_replays.py) builds on these."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.conftest import ServerProcess
from tests.web.browser import served_page

# Two parts: 0 to 10 s, then (the server was down 5 s) 15 s to 20 s.
PARTS = [
    {"part": 0, "offset_ms": 0, "duration_ms": 10_000, "finished": True},
    {"part": 1, "offset_ms": 15_000, "duration_ms": 5_000, "finished": True},
]


@pytest.fixture(scope="module")
def page(web_server: ServerProcess) -> Iterator[Page]:
    with served_page(f"http://127.0.0.1:{web_server.http_port}/") as page:
        yield page


def run(page: Page, expression: str, *args: Any) -> Any:
    return page.evaluate(
        f"async (args) => {{ const t = await import('/js/replay-time.js'); return {expression}; }}", list(args)
    )


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0, {"index": 0, "local": 0, "wait": 0}),
        (9_999, {"index": 0, "local": 9_999, "wait": 0}),
        (10_000, {"index": 1, "local": 0, "wait": 5_000}),  # the silence while the server was down
        (14_000, {"index": 1, "local": 0, "wait": 1_000}),
        (15_000, {"index": 1, "local": 0, "wait": 0}),
        (19_500, {"index": 1, "local": 4_500, "wait": 0}),
        (20_000, {"index": -1, "local": 0, "wait": 0}),  # the end
    ],
)
def test_each_part_plays_at_its_offset_with_silence_between(page: Page, t: int, expected: dict[str, int]) -> None:
    assert run(page, "t.partAt(args[0], args[1])", PARTS, t) == expected


def test_a_part_still_being_written_plays_to_the_end_of_its_file(page: Page) -> None:
    writing = [PARTS[0], {**PARTS[1], "duration_ms": 0, "finished": False}]
    assert run(page, "t.partAt(args[0], 25000)", writing) == {"index": 1, "local": 10_000, "wait": 0}
    assert run(page, "t.replayLength(args[0], 0)", PARTS) == 20_000
    assert run(page, "t.replayLength(args[0], 21000)", PARTS) == 21_000


def test_posts_appear_at_their_moment_and_only_within_the_recording(page: Page) -> None:
    start, end = 1_000_000, 1_020_000
    posts = [
        {"id": 1, "at": start - 1},  # before the recording: not shown
        {"id": 3, "at": start + 12_000},
        {"id": 2, "at": start + 2_000},
        {"id": 4, "at": end},
        {"id": 5, "at": end + 1},  # after it: not shown
    ]
    timed = run(page, "t.replayPosts(args[0], args[1], args[2])", posts, start, end)
    assert [(x["post"]["id"], x["t"]) for x in timed] == [(2, 2_000), (3, 12_000), (4, 20_000)]
    moments = (0, 1_999, 2_000, 11_999, 12_000, 30_000)
    assert [run(page, "t.shownBy(args[0], args[1])", timed, at) for at in moments] == [0, 0, 1, 1, 2, 3]
    still = run(page, "t.replayPosts(args[0], args[1], null)", posts, start)  # still recording: no end yet
    assert [x["post"]["id"] for x in still] == [2, 3, 4, 5]
    assert run(page, "[t.clock(0), t.clock(65_400), t.clock(3_725_000), t.spokenClock(61_000)]") == [
        "0:00", "1:05", "1:02:05", "1 minute 1 second"
    ]  # fmt: skip
