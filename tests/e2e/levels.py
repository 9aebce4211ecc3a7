"""What the tests of speakers' levels read in a real server's /metrics: packets that came with a level, and
packets the mixers decoded. A lone speaker whose packets carry their level is forwarded undecoded; without
levels, every packet is decoded: the check sees the difference."""

from __future__ import annotations

from tests.e2e.test_metrics import Samples, value

LEVELLED = "stoa_speaker_packets_with_level_total"
DECODED = "stoa_speaker_packets_decoded_total"
LONE_DECODES_MAX = 0.25
"""The share of a lone speaker's packets (with levels) the server may decode. None while they come on time (0 on a
quiet machine); a packet late for its tick is concealed, which first decodes the up to 3 before it (a warm-up),
and so does the hangover when the speaker stops: a loaded machine's late packets cost a few."""


def assert_lone_speaker_undecoded(before: Samples, after: Samples, *, at_least: int) -> None:
    """Between the two scrapes, at least `at_least` packets came with a level, and the server decoded at most
    `LONE_DECODES_MAX` of them."""
    with_level = value(after, LEVELLED) - value(before, LEVELLED)
    assert with_level >= at_least, f"{with_level} packets came with a level"
    decoded = value(after, DECODED) - value(before, DECODED)
    assert decoded <= LONE_DECODES_MAX * with_level, f"{decoded} of {with_level} packets of a lone speaker decoded"
