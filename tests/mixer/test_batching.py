"""`mixer.BatchPolicy`, the binding of the driver's batching rule (tested in full by `cargo test`,
`mixer-rs/driver/src/batching.rs`): the table docs/operations.md quotes, and its refusals."""

from __future__ import annotations

import pytest

from mixer import BatchPolicy, MixerError


def test_the_default_is_auto_with_the_documented_table() -> None:
    policy = BatchPolicy()
    assert (policy.fixed, policy.max_frames, policy.listeners_per_frame, policy.initial) == (None, 10, 2500, 1)
    table = {1_000: 1, 2_500: 1, 2_501: 2, 5_001: 3, 7_501: 5, 10_013: 5, 12_500: 5, 12_501: 10, 100_000: 10}
    assert {audience: policy.next(1, audience) for audience in table} == table
    assert policy.next(2, 2_001) == 2 and policy.next(2, 2_000) == 1, "down only within 80% of a step"


def test_fixed_never_changes() -> None:
    policy = BatchPolicy(fixed=5)
    assert (policy.initial, policy.next(5, 0), policy.next(5, 10**9)) == (5, 5, 5)
    assert policy == BatchPolicy(fixed=5) != BatchPolicy()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fixed": 0},
        {"fixed": 11},
        {"max_frames": 0},
        {"max_frames": 11},
        {"listeners_per_frame": 0},
        {"listeners_per_frame": -1},
        {"fixed": 2**70},
    ],  # fmt: skip
)
def test_out_of_range_is_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(MixerError) as refused:
        BatchPolicy(**kwargs)
    assert refused.value.code == "bad_argument"
