"""Each listener's own arrival and departure in a run of joins or leaves (`listener_churn`): what the webhooks
write at once, while `audience_changed` tells it a second later, netted."""

from __future__ import annotations

import msgspec

from actors.space import Churn, Role
from actors.space.commands import SetRole
from actors.space.domain import apply, listener_churn
from actors.space.domain.membership import join, join_all, leave_all, new_space


def test_a_run_of_joins_names_each_new_listener_once_in_order_and_no_one_else() -> None:
    state = new_space("s1", "Churn", "host", 0)
    state, _ = join(state, "early", 0, "Early")
    state, _ = leave_all(state, [("host", "left")], 0)[:2]
    state = msgspec.structs.replace(state, removed=("bad",))
    joins = [("b", "B"), ("host", ""), ("early", ""), ("bad", ""), ("c", "C"), ("b", "B again")]
    after, _, _ = join_all(state, joins, 7)
    assert after.roles["host"] is Role.HOST  # the host's return is an event of its own
    assert listener_churn(state, after, joins, 7) == Churn(7, arrived=("b", "c"))


def test_a_run_of_leaves_names_each_listener_who_went_with_its_reason_and_no_one_on_the_mic() -> None:
    state = new_space("s1", "Churn", "host", 0)
    state, _, _ = join_all(state, [("b", "B"), ("c", "C"), ("d", "D")], 0)
    state, _ = apply(state, SetRole("host", "d", Role.SPEAKER), 0)
    leaves = [("c", "disconnected"), ("d", "left"), ("b", "left"), ("c", "left"), ("nobody", "left")]
    after, _, _ = leave_all(state, leaves, 9)
    assert listener_churn(state, after, leaves, 9) == Churn(9, departed=(("c", "disconnected"), ("b", "left")))
