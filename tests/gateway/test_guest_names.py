"""The names guests go by, which `register` may not take (`gateway.guest_names.GuestNames`); over the wire:
tests/e2e/test_identity.py."""

from __future__ import annotations

import pytest

from gateway.guest_names import GuestNames


def test_a_name_is_held_in_any_casing_until_its_last_holder_releases_it() -> None:
    names = GuestNames()
    first = names.hold("Ada", "g-1")
    back = names.hold("ADA", "g-1")  # the same guest, back on a new connection while its old place is kept
    assert names.held("ada") and not names.held("bob")
    assert not names.held("ada", besides="g-1"), "only the asking guest goes by it, twice"
    other = names.hold("ada", "g-2")
    assert names.held("ada", besides="g-1")
    for hold in (first, other, back):
        hold.release()
    assert not names.held("ada")
    with pytest.raises(ValueError, match="does not hold"):
        first.release()  # a release of nothing held is a bug, not another guest's hold undone


def test_a_hello_is_refused_a_name_registered_during_or_since_its_hold() -> None:
    names = GuestNames()
    with names.registering("Early"):
        pass
    hold = names.hold("early", "")
    assert not names.registered_since("EARLY", hold.at), "ended before the hold: the store read sees its row"
    with names.registering("Newbie"):
        hold = names.hold("newbie", "")
        assert names.registered_since("NEWBIE", hold.at)
    assert names.registered_since("newbie", hold.at), "ended after the hold: the read may have missed its row"
