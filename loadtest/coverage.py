"""What listeners heard, over the window: coverage per listener and latency over every pool.

The definition (docs/operations.md, "Load testing"): the window is a range of slots of the run's
capture clock, fixed on the speakers' timeline (from the end of the ramp to the end of the
measurement); a space's produced slots are the slots of the window in which any of its speakers
sent a packet; a listener's coverage is the share of its space's produced slots for which it
received a real frame (`captured_at` not 0, naming that slot). Every listener planned counts:
one that never joined, failed, was cut off or whose worker died heard what its bitmap says, or
nothing. A frame names only the earliest slot mixed into it: where two speakers overlap one tick
apart, the slot of the one ahead is in a frame that names the other's. Such a slot is named by no
frame only when the one behind stops: it then lies between two consecutive ticks that named the
slots on either side, right after a slot both produced, and is counted as heard
(`mixer-rs/loadpool/src/clock.rs`). The rest of the bias is conservative: a slot in a frame that
names an earlier one, and named by no other, counts as unheard.
"""

from __future__ import annotations

import math
from typing import Any

HEALTHY = 0.999  # every listener must hear at least this share of what was said


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def coverage_summary(
    planned: dict[str, int], produced: dict[str, int], listeners: list[dict[str, Any]]
) -> tuple[dict[str, object], list[float]]:
    """`planned[space]` listeners were asked for in each space, which produced `produced[space]`
    slots; `listeners` are those the workers reported (with `covered`). Returns the summary and
    each reported listener's coverage (in the order given)."""
    shares = []
    for ls in listeners:
        slots = produced[ls["space"]]
        shares.append(ls["covered"] / slots if slots else 0.0)
    missing = sum(planned.values()) - len(listeners)
    every = sorted(shares + [0.0] * max(0, missing))
    summary: dict[str, object] = {
        "listeners": len(every),
        "unreported": max(0, missing),
        "produced_slots": {"min": min(produced.values(), default=0), "max": max(produced.values(), default=0)},
        "min": round(every[0], 5) if every else None,
        "p1": round(percentile(every, 1), 5) if every else None,
        "median": round(percentile(every, 50), 5) if every else None,
        "below_99_9_percent": sum(1 for c in every if c < HEALTHY),
        "heard_nothing": sum(1 for c in every if c == 0),
    }
    return summary, shares


def latency_ms(buckets: list[tuple[int, int]]) -> dict[str, float]:
    """p50 / p95 / p99 / max from histogram buckets (highest µs of the bucket, count) of any number
    of pools, added up bucket by bucket: the same bucket edges in every pool."""
    merged: dict[int, int] = {}
    for upper, count in buckets:
        merged[upper] = merged.get(upper, 0) + count
    ordered = sorted(merged.items())
    total = sum(count for _, count in ordered)
    out = {}
    for name, p in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0)):
        if not total:
            out[name] = 0.0
            continue
        rank, seen = max(1, math.ceil(p / 100 * total)), 0
        for upper, count in ordered:
            seen += count
            if seen >= rank:
                out[name] = round(upper / 1000, 1)
                break
    out["frames"] = total
    return out
