"""Download links of recordings (`gateway/replays/_links.py`): a link works for its recording until it expires,
and any change to it (id, scope, expiry, key, signature) refuses it; a retired key retires its links."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from gateway.replays import LinkRefused, RecordingLinks, Scope

KEYS = {1: b"k" * 32, 2: b"q" * 32}
NOW = 1_764_120_000.0
RID = "r-5e0c2a9f3b71"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_a_link_works_for_its_recording_until_it_expires() -> None:
    links = RecordingLinks(KEYS, lifetime_s=600)
    link = links.mint(RID, Scope.PUBLIC, NOW)
    url = link.part_url(RID, 3)
    assert urlsplit(url).path == f"/recordings/{RID}/part-3.opus"
    assert link.expires_at_ms == int(NOW + 600) * 1000
    q = query_of(url)
    assert q["key"] == "2"  # the newest signing key signs
    assert links.check(RID, q, NOW) is Scope.PUBLIC
    assert links.check(RID, q, NOW + 599) is Scope.PUBLIC
    with pytest.raises(LinkRefused, match="expired"):
        links.check(RID, q, NOW + 600)
    host = links.mint(RID, Scope.HOST, NOW)
    assert links.check(RID, query_of(host.part_url(RID, 0)), NOW) is Scope.HOST
    # Another server (another key) or a restart with the same keys: only the same keys verify.
    assert RecordingLinks(KEYS).check(RID, q, NOW) is Scope.PUBLIC
    with pytest.raises(LinkRefused):
        RecordingLinks({2: b"z" * 32}).check(RID, q, NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"scope": "host"},  # a public link made into the host's
        {"exp": str(int(NOW) + 10_000)},  # a longer life
        {"key": "1"},  # another key's
        {"key": "7"},  # a key the server does not have
        {"sig": "A" * 43},
        {"sig": ""},
        {"sig": "é"},
        {"exp": "-1"},
        {"exp": "12345678901234567"},
        {"scope": "admin"},
    ],
)
def test_any_change_to_a_link_refuses_it(change: dict[str, str]) -> None:
    links = RecordingLinks(KEYS)
    q = query_of(links.mint(RID, Scope.PUBLIC, NOW).part_url(RID, 0))
    assert links.check(RID, q, NOW) is Scope.PUBLIC  # the control: unchanged, it works
    with pytest.raises(LinkRefused):
        links.check(RID, {**q, **change}, NOW)


def test_a_link_opens_only_its_own_recording_and_missing_fields_refuse() -> None:
    links = RecordingLinks(KEYS)
    q = query_of(links.mint(RID, Scope.PUBLIC, NOW).part_url(RID, 0))
    with pytest.raises(LinkRefused):
        links.check("r-5e0c2a9f3b72", q, NOW)
    with pytest.raises(LinkRefused):
        links.check("../../stoa.db", q, NOW)
    for field in ("exp", "scope", "key", "sig"):
        with pytest.raises(LinkRefused):
            links.check(RID, {k: v for k, v in q.items() if k != field}, NOW)
