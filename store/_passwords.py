"""Password hashing with argon2id, off the Trio loop: slow by design, so it runs in worker threads.

At most a few hashes run at once (each one takes tens of MiB): a burst of log-ins waits its turn
instead of exhausting memory.
"""

from __future__ import annotations

import secrets

import argon2
import trio

HASHES_AT_ONCE = 2


class Passwords:
    """Hashes and checks passwords with one `argon2.PasswordHasher` (by default argon2-cffi's own:
    argon2id, RFC 9106's low-memory profile, about 0.3 s a hash on our 2-vCPU machines)."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher if hasher is not None else argon2.PasswordHasher()
        self._limiter = trio.CapacityLimiter(HASHES_AT_ONCE)
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await trio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, stored_hash: str, password: str) -> bool:
        """True when `password` matches; False for a wrong password or a hash we cannot read."""
        return await trio.to_thread.run_sync(self._verify_sync, stored_hash, password, limiter=self._limiter)

    async def verify_decoy(self, password: str) -> None:
        """Spend the time a real check would, for a handle that does not exist: answers for unknown
        handles and wrong passwords then take alike, and timing does not tell which handles exist."""
        if self._decoy is None:
            self._decoy = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._decoy, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than today's (checked after a good log-in)."""
        return self._hasher.check_needs_rehash(stored_hash)

    def _verify_sync(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
