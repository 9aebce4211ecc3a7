"""A space scheduled before topics given twice were refused still starts: its topics, the first of each."""

from __future__ import annotations

import pytest

from actors.space import errors
from actors.space.domain.membership import new_space
from gateway.handlers.schedule import once_each


def test_topics_stored_twice_start_once_each_in_their_first_casing() -> None:
    stored = ("Jazz", "jazz", "blues", "Blues")
    with pytest.raises(errors.BadArgument):
        new_space("s1", "Old", "u1", 0, topics=stored)  # what starting the stored row did
    assert new_space("s1", "Old", "u1", 0, topics=once_each(stored)).topics == ("Jazz", "blues")
    assert once_each(()) == ()
