"""Rate limits: token buckets keyed by user id and by client address (`client_key`: an IPv6 client by its
/64), the log-in lockout that backs off, and the bounded queue in front of password hashing. Every refusal is
a `RateLimited` carrying `retry_after_ms`; `docs/security.md` lists each limit with its default.

Resource handling: buckets live in one dict per limiter, swept of full (idle) buckets once it passes
`MAX_BUCKETS`, so memory stays bounded however many keys a client invents.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address

from gateway.errors import RateLimited

MAX_BUCKETS = 100_000


def client_key(address: str) -> str:
    """What every per-address limit counts a client's IP `address` by (the Rust wire counts by the same,
    `mixer-rs/wire/src/address.rs`): an IPv4 address itself; an IPv6 address its /64 ("2001:db8:1:2::/64"),
    the block one client usually owns whole, where it could otherwise take a fresh address for each try; an
    IPv4-mapped IPv6 address (::ffff:a.b.c.d, how a dual-stack socket reports an IPv4 client) the IPv4 address
    it maps, since as IPv6 every IPv4 client would share ::/64. Raises ValueError for anything else."""
    ip = ip_address(address)
    if not isinstance(ip, IPv6Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return f"{IPv6Address(int(ip) >> 64 << 64)}/64"


@dataclass(frozen=True)
class Rate:
    """At most `burst` at once, refilled at `per_s` a second (a token bucket)."""

    burst: int
    per_s: float

    def describe(self) -> str:
        if self.per_s >= 1:
            return f"{self.burst} at once, then {self.per_s:g} a second"
        return f"{self.burst} at once, then one every {1 / self.per_s:g} s"


@dataclass(frozen=True)
class LimitSettings:
    """Every rate limit of the gateway. `enabled=False` (`stoa serve --rate-limits off`) is for load tests
    on a private network only: it lifts every per-request limit here (never the caps on sizes)."""

    enabled: bool = True
    requests: Rate = Rate(50, 20.0)  # every message but audio, per connection
    register: Rate = Rate(5, 1 / 60)  # per client address (`client_key`)
    log_in: Rate = Rate(10, 1 / 6)  # per client address (`client_key`)
    create_space: Rate = Rate(3, 1 / 60)  # per account
    schedule_space: Rate = Rate(5, 1 / 60)  # per account
    share_post: Rate = Rate(5, 1.0)  # per account
    hands: Rate = Rate(3, 1 / 5)  # raise_hand and lower_hand together, per account
    invitations: Rate = Rate(5, 1 / 6)  # invite_speaker, per account
    reactions: Rate = Rate(5, 5.0)  # per account
    listings: Rate = Rate(5, 5.0)  # list_spaces, search_spaces, get_space, per user
    timeline_pages: Rate = Rate(20, 10.0)  # get_posts, per user
    direct_messages: Rate = Rate(5, 1.0)  # send_dm, per account
    resumes: Rate = Rate(5, 1 / 5)  # resume, per user
    rtc_offers: Rate = Rate(5, 1 / 6)  # rtc_offer, per account
    rtc_configs: Rate = Rate(5, 1 / 6)  # get_rtc_config, per account
    recordings: Rate = Rate(4, 1 / 15)  # set_recording, per account: each `on` makes a recording
    consents: Rate = Rate(5, 1 / 2)  # recording_consent, per account: each change is an event and a row
    max_connections_per_address: int = 64
    # Connections accepted whose upgrade request is not read yet (mixer-rs/wire/src/handshakes.rs says why):
    # one more from an address with this many is closed at accept; at the cap in all, the oldest is closed.
    max_handshakes_per_address: int = 16
    max_handshakes: int = 1024
    # TCP_DEFER_ACCEPT of the WebSocket port: a connection that sends nothing waits this long in the kernel.
    defer_accept_s: int = 1
    max_scheduled_per_account: int = 20
    login_failures_free: int = 5  # failed log-ins to one handle before the lockout starts
    login_lockout_max_s: float = 900.0
    hashes_waiting: int = 8  # register/log_in waiting for a password hash; more are refused

    def handshakes_from_one_address(self) -> int:
        """The cap on handshakes in progress per address, as the transports take it: none (the largest they
        take) where the cap on connections per address is off, as an operator sets it for a load test from
        one machine or a proxy in front, whose many clients share its address."""
        return self.max_handshakes_per_address if self.max_connections_per_address else 2**32 - 1

    def rate(self, name: str) -> Rate:
        """The rate of the limit called `name` (a field above)."""
        found = getattr(self, name, None)
        if not isinstance(found, Rate):
            raise KeyError(f"no rate limit {name!r}")
        return found


class Buckets:
    """Token buckets for one limit, keyed by anything hashable (a user id, an address)."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._level: dict[object, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: object, what: str) -> None:
        """Spend one token of `key`, or raise `RateLimited` saying when the next one is due."""
        now = self._clock()
        tokens, at = self._level.get(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - at) * self.rate.per_s)
        if tokens < 1.0:
            wait_ms = math.ceil((1.0 - tokens) / self.rate.per_s * 1000)
            raise RateLimited(f"{what}: at most {self.rate.describe()}", retry_after_ms=wait_ms)
        if len(self._level) >= MAX_BUCKETS and key not in self._level:
            self._sweep(now)
        self._level[key] = (tokens - 1.0, now)

    def give_back(self, key: object) -> None:
        """Return the token `take` spent for `key` (never above `burst`): the request was refused for its own
        content before any work was done."""
        level = self._level.get(key)
        if level is not None:
            tokens, at = level
            self._level[key] = (min(float(self.rate.burst), tokens + 1.0), at)

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled (they hold nothing a fresh one would not)."""
        full = float(self.rate.burst)
        for key, (tokens, at) in list(self._level.items()):
            if tokens + (now - at) * self.rate.per_s >= full:
                del self._level[key]
        if len(self._level) >= MAX_BUCKETS:  # all busy: drop the oldest half rather than grow
            for key in list(self._level)[: MAX_BUCKETS // 2]:
                del self._level[key]


class LoginGuard:
    """Failed log-ins per handle (any casing): after `free` failures, each further attempt waits a lockout
    that doubles (1 s, 2 s, 4 s, ... up to `max_s`); a success clears it. Guessing one account's password
    from many addresses is slowed as much as from one.

    An attempt counts as a failure from the moment it is let through (`attempt`), before its password is
    hashed, and `succeeded` clears the count: the hash takes a worker thread's while, and a check before it
    with a count after it would let every attempt sent at once through. At most `MAX_BUCKETS` handles are
    kept: when full, those whose lockout has passed are forgotten, then the least recently tried half.
    """

    def __init__(self, free: int, max_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._free = free
        self._max_s = max_s
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # handle -> (failures, locked until); oldest first

    def attempt(self, handle: str) -> None:
        """Let one log-in to `handle` through, counted as failed until `succeeded`; or raise `RateLimited`
        (not counted) while the handle is locked."""
        key = handle.casefold()
        now = self._clock()
        failures, until = self._failures.pop(key, (0, 0.0))
        if until > now:
            self._failures[key] = (failures, until)
            raise RateLimited(
                f"too many failed log-ins to this account ({failures}): try again later",
                retry_after_ms=math.ceil((until - now) * 1000),
            )
        failures += 1
        lock_s = 0.0 if failures < self._free else min(self._max_s, 2.0 ** (failures - self._free))
        if len(self._failures) >= MAX_BUCKETS:
            self._sweep(now)
        self._failures[key] = (failures, now + lock_s)

    def succeeded(self, handle: str) -> None:
        self._failures.pop(handle.casefold(), None)

    def _sweep(self, now: float) -> None:
        self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
        if len(self._failures) >= MAX_BUCKETS:  # all locked: drop the least recently tried half, not grow
            for key in list(self._failures)[: MAX_BUCKETS // 2]:
                del self._failures[key]


class HashQueue:
    """Admission to password hashing (register, log_in): the store hashes at most two at once; at most
    `waiting` more requests may wait for a turn, the rest are refused at once instead of queueing for
    seconds behind an attacker's burst."""

    def __init__(self, waiting: int) -> None:
        self._limit = waiting + 2
        self._inside = 0

    def enter(self) -> None:
        if self._inside >= self._limit:
            raise RateLimited("the server is busy checking passwords", retry_after_ms=1000)
        self._inside += 1

    def leave(self) -> None:
        self._inside -= 1


class Limits:
    """The gateway's limiters, made from one `LimitSettings`."""

    def __init__(self, settings: LimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._buckets: dict[str, Buckets] = {}
        self.logins = LoginGuard(settings.login_failures_free, settings.login_lockout_max_s, clock)
        self.hashing = HashQueue(settings.hashes_waiting)
        self.refused_by: dict[str, int] = {}
        """Refusals since start, by limit name (the metrics read it)."""

    @property
    def refused(self) -> int:
        return sum(self.refused_by.values())

    def refuse(self, name: str) -> None:
        """Count one refusal by limit `name`."""
        self.refused_by[name] = self.refused_by.get(name, 0) + 1

    def take(self, name: str, key: object, what: str) -> None:
        """Spend one of limit `name` for `key`; raises `RateLimited` (counted) when none is left."""
        if not self.settings.enabled:
            return
        buckets = self._buckets.get(name)
        if buckets is None:
            buckets = self._buckets[name] = Buckets(self.settings.rate(name), self._clock)
        try:
            buckets.take(key, what)
        except RateLimited:
            self.refuse(name)
            raise

    def give_back(self, name: str, key: object) -> None:
        """Undo one `take` of limit `name` for `key` (see `Buckets.give_back`)."""
        buckets = self._buckets.get(name)
        if self.settings.enabled and buckets is not None:
            buckets.give_back(key)
