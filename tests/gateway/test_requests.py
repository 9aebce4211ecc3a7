"""The request table: every client message is routed, every limit it names exists, and the docs' tables
say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from gateway import protocol as p
from gateway.limits import LimitSettings, Rate
from gateway.requests import ROUTES, Who

ROOT = Path(__file__).resolve().parents[2]


def test_every_client_message_but_audio_has_a_route() -> None:
    messages = set(p.ClientUnion.__args__) - {p.SendAudio}
    assert messages == set(ROUTES)


def test_every_route_names_a_limit_that_exists() -> None:
    settings = LimitSettings()
    for message, route in ROUTES.items():
        if route.limit is not None:
            assert isinstance(settings.rate(route.limit), Rate), message


def test_guests_may_only_listen_find_spaces_play_replays_and_sign_in() -> None:
    open_to_guests = {m.__struct_config__.tag for m, r in ROUTES.items() if r.who is Who.ANYONE}
    assert open_to_guests == {
        "join_space",
        "resume",
        "leave_space",
        "list_spaces",
        "search_spaces",
        "get_space",
        "get_posts",
        "list_recordings",
        "get_recording",
        "register",
        "log_in",
    }


def _doc_rows(path: Path, heading: str) -> dict[str, list[str]]:
    text = path.read_text()
    section = text[text.index(heading) :]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("| ") and not line.startswith("| limit |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
        elif rows and not line.startswith("|"):  # the end of the first table
            break
    return rows


def _per_s(refill: str) -> float:
    m = re.fullmatch(r"(\d+) a (second|minute)", refill)
    if m:
        return int(m[1]) / (1 if m[2] == "second" else 60)
    m = re.fullmatch(r"1 every (\d+) s", refill)
    assert m, refill
    return 1 / int(m[1])


def test_the_protocols_rate_limit_table_is_the_codes() -> None:
    rows = _doc_rows(ROOT / "docs/protocol.md", "## Rate limits and caps")
    settings = LimitSettings()
    used = {r.limit for r in ROUTES.values() if r.limit is not None} | {"requests", "register", "log_in"}
    assert set(rows) == used
    for name, (_, burst, refill, _requests) in rows.items():
        rate = settings.rate(name)
        assert (int(burst), round(_per_s(refill), 6)) == (rate.burst, round(rate.per_s, 6)), name


def test_the_documented_requests_of_each_limit_are_the_tables() -> None:
    rows = _doc_rows(ROOT / "docs/protocol.md", "## Rate limits and caps")
    for name, cells in rows.items():
        if name in ("requests",):
            continue
        documented = set(re.findall(r"`([a-z_]+)`", cells[-1]))
        routed = {m.__struct_config__.tag for m, r in ROUTES.items() if r.limit == name}
        if name in ("register", "log_in"):  # limited inside their handlers, per address
            routed = {name}
        assert documented == routed, name
