"""A connection's refusals: the row that closes it, and the once-a-second pace of logging refusals and of
answering refused audio, each per code and apart from the other (a fake clock)."""

from __future__ import annotations

from gateway.refusals import MAX_REFUSED_IN_A_ROW, Refusals


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_row_closes_one_past_the_limit_and_a_handled_message_ends_it() -> None:
    refusals = Refusals()
    assert not any(refusals.unread() for _ in range(MAX_REFUSED_IN_A_ROW))
    refusals.handled()
    assert not any(refusals.unread() for _ in range(MAX_REFUSED_IN_A_ROW))
    assert refusals.unread()


def test_a_refusal_is_logged_once_a_second_per_code_with_how_many_went_unlogged() -> None:
    clock = Clock()
    refusals = Refusals(clock)
    assert refusals.to_log("bad_message") == 0
    assert [refusals.to_log("bad_message") for _ in range(3)] == [None] * 3
    assert refusals.to_log("unknown_type") == 0  # another code has its own pace
    clock.now += 0.999
    assert refusals.to_log("bad_message") is None
    clock.now += 0.001
    assert refusals.to_log("bad_message") == 4
    assert refusals.to_log("bad_message") is None


def test_refused_audio_is_answered_once_a_second_per_code_whatever_was_logged() -> None:
    clock = Clock()
    refusals = Refusals(clock)
    assert refusals.to_log("not_allowed") == 0
    assert refusals.to_answer_audio("not_allowed")  # the log's pace is not the answers'
    assert not refusals.to_answer_audio("not_allowed")
    assert refusals.to_answer_audio("not_in_space")
    clock.now += 1.0
    assert refusals.to_answer_audio("not_allowed")
