"""The names guests go by, which `register` may not take (`gateway.handles.GuestNames`); over the wire:
tests/e2e/test_identity.py."""

from __future__ import annotations

from gateway.handles import GuestNames


def test_a_name_is_held_in_any_casing_until_its_last_guest_releases_it() -> None:
    names = GuestNames()
    names.hold("Ada")
    names.hold("ADA")
    assert names.held("ada") and not names.held("bob")
    assert names.held("ada", besides="Ada"), "another guest goes by it too"
    names.release("ada")
    assert not names.held("ada", besides="ADA"), "only the asking guest goes by it"
    assert names.held("ada")
    names.release("Ada")
    assert not names.held("ada")


def test_a_handle_being_registered_is_refused_to_guests_meanwhile() -> None:
    names = GuestNames()
    with names.registering("Newbie"):
        assert names.being_registered("NEWBIE")
        with names.registering("newbie"):  # two attempts at once: the store keeps one
            pass
        assert names.being_registered("newbie")
    assert not names.being_registered("newbie")
