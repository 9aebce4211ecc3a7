"""Guest ids: a token this server issued proves its id; anything else is refused with None, never an exception."""

from __future__ import annotations

import pytest

from gateway.identity import GuestIds


def test_an_issued_guest_token_proves_its_id() -> None:
    guests = GuestIds(b"k" * 32)
    user, token = guests.issue()
    assert guests.verify(token) == user
    assert GuestIds(b"j" * 32).verify(token) is None  # another key did not issue it


@pytest.mark.parametrize(
    "token",
    ["g-0.é", "g-0.\u00e9\u00e9", "g-é.0123", "é", "g-0.🙂", "", ".", "g-", "u1.abc", "g-0.abc"],
)
def test_a_forged_guest_token_is_refused_even_with_non_ascii_characters(token: str) -> None:
    assert GuestIds(b"k" * 32).verify(token) is None


def test_a_valid_token_with_a_non_ascii_character_added_is_refused() -> None:
    guests = GuestIds(b"k" * 32)
    _, token = guests.issue()
    assert guests.verify(token + "é") is None
