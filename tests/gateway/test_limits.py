"""The rate limiters on a fake clock: token buckets refill at their rate up to their burst, the log-in
lockout doubles up to its ceiling, and neither grows without bound however many keys a client invents. And the
client key every per-address limit counts by (an IPv6 client by its /64)."""

from __future__ import annotations

import pytest
import trio

import store
from gateway import limits, protocol as p
from gateway.errors import RateLimited
from gateway.handlers import accounts
from gateway.limits import Buckets, HashQueue, Limits, LimitSettings, LoginGuard, Rate, client_key
from tests.gateway.fakes import FakeCaller, FakeServices
from tests.store.conftest import CHEAP_HASHER, PASSWORD


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def retry_after(take: object, *args: object) -> int:
    """The `retry_after_ms` of the refusal `take(*args)` must raise."""
    with pytest.raises(RateLimited) as refused:
        take(*args)  # type: ignore[operator]
    assert refused.value.code == "rate_limited"
    return refused.value.retry_after_ms


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    buckets = Buckets(Rate(3, 2.0), clock)
    for _ in range(3):
        buckets.take("u1", "posts")
    assert retry_after(buckets.take, "u1", "posts") == 500  # one token every 0.5 s
    clock.advance(0.25)
    assert retry_after(buckets.take, "u1", "posts") == 250  # half a token there: half the wait left
    clock.advance(0.25)
    buckets.take("u1", "posts")
    assert retry_after(buckets.take, "u1", "posts") == 500
    buckets.take("u2", "posts")  # every key has its own bucket


def test_a_bucket_refills_no_further_than_its_burst() -> None:
    clock = FakeClock()
    buckets = Buckets(Rate(3, 2.0), clock)
    buckets.take("u1", "posts")
    clock.advance(3600)
    for _ in range(3):
        buckets.take("u1", "posts")
    assert retry_after(buckets.take, "u1", "posts") == 500


def test_a_slow_rate_says_how_long_to_wait_and_describes_itself() -> None:
    clock = FakeClock()
    buckets = Buckets(Rate(5, 1 / 60), clock)
    for _ in range(5):
        buckets.take("127.0.0.1", "accounts registered")
    assert retry_after(buckets.take, "127.0.0.1", "accounts registered") == 60_000
    clock.advance(59)
    assert retry_after(buckets.take, "127.0.0.1", "accounts registered") in (1000, 1001)  # rounded up
    assert Rate(5, 1 / 60).describe() == "5 at once, then one every 60 s"
    assert Rate(50, 20.0).describe() == "50 at once, then 20 a second"


def test_the_refusal_says_what_was_limited() -> None:
    buckets = Buckets(Rate(1, 1.0), FakeClock())
    buckets.take("u1", "posts")
    with pytest.raises(RateLimited, match="posts: at most 1 at once"):
        buckets.take("u1", "posts")


def test_the_lockout_starts_after_the_free_failures_and_doubles_up_to_its_ceiling() -> None:
    clock = FakeClock()
    guard = LoginGuard(free=5, max_s=8.0, clock=clock)
    for _ in range(4):
        guard.attempt("ada")  # the first four failures cost nothing
    waits = []
    for _ in range(6):
        guard.attempt("ada")
        waits.append(retry_after(guard.attempt, "ADA"))  # one handle in any casing
        clock.advance(waits[-1] / 1000)
    assert waits == [1000, 2000, 4000, 8000, 8000, 8000]


def test_a_successful_log_in_clears_the_failures() -> None:
    clock = FakeClock()
    guard = LoginGuard(free=5, max_s=900.0, clock=clock)
    for _ in range(7):
        clock.advance(10)  # each after the last one's lockout
        guard.attempt("ada")
    assert retry_after(guard.attempt, "ada") == 4000
    guard.attempt("bob")  # other handles are not locked
    guard.succeeded("Ada")
    for _ in range(5):
        guard.attempt("ada")  # counted from zero again
    assert retry_after(guard.attempt, "ada") == 1000


def test_attempts_count_as_failures_before_they_end_so_concurrent_ones_cannot_outrun_the_lockout() -> None:
    clock = FakeClock()
    guard = LoginGuard(free=5, max_s=900.0, clock=clock)
    for _ in range(5):
        guard.attempt("ada")  # five let through, none finished (their hashes still running)
    for _ in range(5):
        assert retry_after(guard.attempt, "ada") == 1000
    clock.advance(1)
    guard.attempt("ada")  # refusals were not counted: the lockout did not grow
    assert retry_after(guard.attempt, "ada") == 2000


async def test_concurrent_log_ins_past_the_free_failures_are_refused_before_any_hash() -> None:
    """Ten wrong passwords for one handle at once, through the real handler and store: five are hashed
    (bad_credentials), the rest refused without a hash (rate_limited)."""
    clock = FakeClock()
    settings = LimitSettings(log_in=Rate(100, 1.0), hashes_waiting=100, login_failures_free=5)
    outcomes: list[str] = []
    with trio.fail_after(10):
        async with store.open_database(":memory:", hasher=CHEAP_HASHER) as db:
            await store.register(db, "ada", PASSWORD, "Ada")
            caller = FakeCaller(FakeServices(db, Limits(settings, clock))).as_caller()

            async def guess(ref: int) -> None:
                try:
                    await accounts.log_in(caller, p.LogIn(ref=ref, handle="ada", password="not the password"))
                except (store.BadCredentials, RateLimited) as refusal:
                    outcomes.append(refusal.code)

            async with trio.open_nursery() as nursery:
                for ref in range(10):
                    nursery.start_soon(guess, ref)
    assert sorted(outcomes) == ["bad_credentials"] * 5 + ["rate_limited"] * 5


def test_the_failures_map_stays_bounded_even_when_every_handle_is_locked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_BUCKETS", 10)
    clock = FakeClock()
    guard = LoginGuard(free=1, max_s=900.0, clock=clock)
    for i in range(100):
        guard.attempt(f"handle{i}")  # each one locked for a second
        assert len(guard._failures) <= 10
    assert retry_after(guard.attempt, "handle99") == 1000  # the newest are kept


def test_buckets_are_swept_so_invented_keys_cannot_grow_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_BUCKETS", 10)
    clock = FakeClock()
    buckets = Buckets(Rate(2, 1.0), clock)
    for key in range(10):
        buckets.take(key, "requests")
    clock.advance(5)  # every bucket full again: a fresh one would hold the same
    buckets.take("new", "requests")
    assert len(buckets._level) == 1
    for key in range(100):  # all busy: the oldest half goes rather than the map growing
        buckets.take(f"busy{key}", "requests")
        assert len(buckets._level) <= 10
    buckets.take("busy99", "requests")  # the newest are kept
    assert retry_after(buckets.take, "busy99", "requests") == 1000


def test_failed_log_ins_are_forgotten_once_their_lockout_passes_when_the_map_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MAX_BUCKETS", 10)
    clock = FakeClock()
    guard = LoginGuard(free=1, max_s=900.0, clock=clock)
    for i in range(10):
        guard.attempt(f"handle{i}")
    clock.advance(2)
    guard.attempt("another")
    assert len(guard._failures) == 1


def test_limits_off_lift_every_rate_and_refusals_are_counted() -> None:
    clock = FakeClock()
    off = Limits(LimitSettings(enabled=False), clock)
    for _ in range(1000):
        off.take("share_post", "u1", "posts")
    assert off.refused == 0
    on = Limits(LimitSettings(), clock)
    for _ in range(LimitSettings().share_post.burst):
        on.take("share_post", "u1", "posts")
    assert retry_after(on.take, "share_post", "u1", "posts") == 1000
    assert on.refused == 1
    with pytest.raises(KeyError):
        on.take("no_such_limit", "u1", "nothing")


def test_at_most_two_hashes_and_the_waiting_few_are_admitted() -> None:
    queue = HashQueue(waiting=1)
    for _ in range(3):
        queue.enter()
    assert retry_after(queue.enter) == 1000
    queue.leave()
    queue.enter()


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:abcd:ef01:2345:6789", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:0:0:0:1", "2001:db8:1:2::/64"),  # any spelling of one address
        ("::1", "::/64"),  # loopback is its /64 like any other
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),  # how a dual-stack socket reports an IPv4 client
        ("::ffff:127.0.0.1", "127.0.0.1"),
    ],
)
def test_the_client_key_is_an_ipv4_address_or_an_ipv6_64(address: str, key: str) -> None:
    assert client_key(address) == key


@pytest.mark.parametrize(
    ("one", "other", "shared"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("192.0.2.1", "192.0.2.2", False),
        ("::ffff:192.0.2.1", "192.0.2.1", True),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.2", False),  # not one ::/64 for every IPv4 client
        ("::ffff:127.0.0.1", "::1", False),
    ],
)
def test_two_addresses_share_a_key_only_in_one_ipv6_64_or_as_one_ipv4_address(
    one: str, other: str, shared: bool
) -> None:
    assert (client_key(one) == client_key(other)) is shared


@pytest.mark.parametrize("bad", ["", "localhost", "192.0.2.1:80", "[::1]", "2001:db8::/64", "192.0.2.256"])
def test_anything_but_an_ip_address_has_no_client_key(bad: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        client_key(bad)


async def test_register_and_log_in_count_every_address_of_one_ipv6_64_as_one_client() -> None:
    """Through the real handlers: the burst of one /64 is spent from two of its addresses; another /64 and
    an IPv4 client have their own."""
    settings = LimitSettings(register=Rate(2, 1 / 60), log_in=Rate(2, 1 / 6))
    with trio.fail_after(10):
        async with store.open_database(":memory:", hasher=CHEAP_HASHER) as db:
            services = FakeServices(db, Limits(settings, FakeClock()))

            def caller(address: str) -> FakeCaller:
                return FakeCaller(services, address=address)

            async def register(address: str, handle: str) -> None:
                await accounts.register(
                    caller(address).as_caller(),
                    p.Register(ref=0, handle=handle, password=PASSWORD, display_name="Name"),
                )

            async def log_in(address: str) -> None:
                await accounts.log_in(caller(address).as_caller(), p.LogIn(ref=0, handle="ada", password=PASSWORD))

            await register("2001:db8:0:1::1", "ada")
            await register("2001:db8:0:1::2", "bob")
            with pytest.raises(RateLimited):
                await register("2001:db8:0:1:ffff::3", "cy")
            await register("2001:db8:0:2::1", "cy")
            await register("192.0.2.1", "dee")

            await log_in("2001:db8:0:1::1")
            await log_in("2001:db8:0:1::2")
            with pytest.raises(RateLimited):
                await log_in("2001:db8:0:1::3")
            await log_in("2001:db8:0:2::1")
            assert services.limits.refused_by == {"register": 1, "log_in": 1}
