"""The harness's accounts (hosts and speakers: only accounts host and speak) and their session tokens.

A server the harness starts gets its accounts written into its store before it starts
(`seed`), hashed with argon2's cheapest parameters: hundreds of speakers then cost the server no
password check at all (each would take about 0.3 s of a core at the server's own parameters), and
their tokens are real, signed by the store's own keys. A server given by URL is asked instead
(`log_in_all`: register if new, then log in, as any client does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import argon2

import store
from gateway.client import connect_account
from gateway.identity import account_user

PASSWORD = "correct horse battery staple"
# Only for the harness's own accounts on a server it starts and throws away.
_CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass(frozen=True)
class Account:
    handle: str
    user: str  # the server-issued id, u<digits>
    token: str


async def seed(database: Path, handles: list[str]) -> dict[str, Account]:
    """Registers each handle (unless it exists) in the store at `database` and logs it in."""
    accounts = {}
    async with store.open_database(database, hasher=_CHEAP) as db:
        for handle in handles:
            try:
                await store.register(db, handle, PASSWORD, handle)
            except store.HandleTaken:
                pass
            session = await store.log_in(db, handle, PASSWORD)
            accounts[handle] = Account(handle, account_user(session.account), session.token)
    return accounts


async def log_in_all(url: str, handles: list[str]) -> dict[str, Account]:
    """Through the protocol: register each handle if new, and log in (argon2 on the server: slow)."""
    accounts = {}
    for handle in handles:
        async with connect_account(url, handle, PASSWORD) as client:
            assert client.token is not None
            accounts[handle] = Account(handle, client.user, client.token)
    return accounts
