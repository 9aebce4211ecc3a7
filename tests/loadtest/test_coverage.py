"""The harness's arithmetic: coverage over every listener planned, and latency from pools' histograms."""

from __future__ import annotations

from loadtest.coverage import coverage_summary, latency_ms, percentile
from loadtest.worker import missed


def listener(space: str, covered: int) -> dict[str, object]:
    return {"space": space, "covered": covered}


def test_a_listener_missing_from_the_reports_counts_as_hearing_nothing() -> None:
    summary, shares = coverage_summary(
        {"a": 3, "b": 2}, {"a": 100, "b": 50}, [listener("a", 100), listener("a", 99), listener("b", 50)]
    )
    assert shares == [1.0, 0.99, 1.0]
    assert summary["listeners"] == 5 and summary["unreported"] == 2
    assert (summary["min"], summary["median"], summary["heard_nothing"]) == (0.0, 0.99, 2)
    assert summary["below_99_9_percent"] == 3


def test_every_listener_hearing_everything_is_full_coverage() -> None:
    summary, _ = coverage_summary({"a": 2}, {"a": 10}, [listener("a", 10), listener("a", 10)])
    assert (summary["min"], summary["p1"], summary["below_99_9_percent"]) == (1.0, 1.0, 0)


def test_a_space_that_produced_nothing_gives_no_coverage_to_claim() -> None:
    summary, shares = coverage_summary({"a": 1}, {"a": 0}, [listener("a", 0)])
    assert shares == [0.0] and summary["below_99_9_percent"] == 1


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (1, 50, 99, 100)] == [1.0, 50.0, 99.0, 100.0]
    assert percentile([0.5], 1) == 0.5


def test_latency_adds_pools_bucket_by_bucket() -> None:
    # Two pools: 98 frames at 10 ms between them, 2 at 300 ms.
    merged = latency_ms([(10_000, 50), (300_000, 1), (10_000, 48), (300_000, 1)])
    assert merged == {"p50": 10.0, "p95": 10.0, "p99": 300.0, "max": 300.0, "frames": 100}
    assert latency_ms([])["frames"] == 0


def test_missed_slots_are_the_produced_ones_not_heard() -> None:
    produced = (0b1111_0110).to_bytes(2, "little")
    heard = (0b0101_0010).to_bytes(2, "little")
    assert missed(produced, heard) == [2, 5, 7]
    assert missed(produced, heard, at_most=1) == [2]
    assert missed(produced, produced) == []
