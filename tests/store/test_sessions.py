"""Sessions: log in, verify, log out; one error for unknown handles and wrong passwords; expired,
tampered, foreign and revoked tokens refused."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
import trio

from store import (
    DEFAULT_TOKEN_LIFETIME_S,
    BadArgument,
    BadCredentials,
    Database,
    TokenExpired,
    TokenInvalid,
    log_in,
    log_out,
    log_out_everywhere,
    open_database,
    purge_expired_sessions,
    register,
    set_protected,
    verify_token,
)
from store._tokens import Claims, mint
from tests.store.conftest import CEILING, CHEAP_HASHER, PASSWORD, FakeClock, make_account


async def test_a_user_logs_in_verifies_the_token_and_logs_out(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        alice = await register(db, "Alice", PASSWORD, "Alice")
        session = await log_in(db, "alice", PASSWORD)  # any casing of the handle
        assert session.account == alice
        assert session.expires_at - session.issued_at == DEFAULT_TOKEN_LIFETIME_S * 1000
        verified = await verify_token(db, session.token)
        assert verified == session
        await log_out(db, session.token)
        with pytest.raises(TokenInvalid):
            await verify_token(db, session.token)


async def test_wrong_password_and_unknown_handle_give_the_same_error(db: Database) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        refusals = []
        for handle, password in [("alice", "wrong password"), ("nobody", PASSWORD), ("alice", "short"), ("-", "")]:
            with pytest.raises(BadCredentials) as caught:
                await log_in(db, handle, password)
            refusals.append((type(caught.value), caught.value.code, str(caught.value)))
        assert len(set(refusals)) == 1
        assert refusals[0][1] == "bad_credentials"


async def test_each_log_in_is_a_separate_session(db: Database) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        phone = await log_in(db, "alice", PASSWORD)
        laptop = await log_in(db, "alice", PASSWORD)
        assert phone.token_id != laptop.token_id
        await log_out(db, phone.token)
        assert (await verify_token(db, laptop.token)).token_id == laptop.token_id


async def test_a_token_is_refused_from_its_expiry_on(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        session = await log_in(db, "alice", PASSWORD, lifetime_s=60)
        clock.advance(59.999)
        await verify_token(db, session.token)
        clock.advance(0.001)
        with pytest.raises(TokenExpired) as caught:
            await verify_token(db, session.token)
        assert caught.value.code == "token_expired"
        assert caught.value.expired_at_ms == session.expires_at


async def test_the_default_lifetime_is_thirty_days(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        session = await log_in(db, "alice", PASSWORD)
        clock.advance(30 * 86400 - 1)
        await verify_token(db, session.token)
        clock.advance(1)
        with pytest.raises(TokenExpired):
            await verify_token(db, session.token)


def _tamper_claims(token: str) -> str:
    """Rewrite the claims to another account, keeping the old signature."""
    version, key_id, claims, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    decoded[0] += 1
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return ".".join([version, key_id, forged, signature])


def _flip_last(part: str) -> str:
    return part[:-1] + ("A" if part[-1] != "A" else "B")


TAMPERINGS = {
    "claims rewritten": _tamper_claims,
    "signature changed": lambda t: _flip_last(t),
    "signature dropped": lambda t: t.rsplit(".", 1)[0],
    "signature padded": lambda t: t + "==",
    "signature with a stray character": lambda t: t[:-2] + "!" + t[-2:],
    "other version": lambda t: "s2" + t[2:],
    "other key id": lambda t: t.replace(".1.", ".2.", 1),
    "non-numeric key id": lambda t: t.replace(".1.", ".x.", 1),
    "extra part": lambda t: t + ".AAAA",
    "empty": lambda t: "",
    "garbage": lambda t: "not a token at all",
    "too long": lambda t: t + "A" * 600,
    "non-ascii": lambda t: t[:-1] + "é",
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=list(TAMPERINGS))
async def test_a_tampered_token_is_refused(db: Database, tamper: object) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        await make_account(db, "bob")
        session = await log_in(db, "alice", PASSWORD)
        assert callable(tamper)
        with pytest.raises(TokenInvalid) as caught:
            await verify_token(db, tamper(session.token))
        assert caught.value.code == "token_invalid"
        with pytest.raises(TokenInvalid):
            await log_out(db, tamper(session.token))
        assert await verify_token(db, session.token) == session  # the genuine one still works


async def test_a_token_signed_with_another_secret_is_refused(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        genuine = await log_in(db, "alice", PASSWORD)
        now = int(clock.now * 1000)
        forged = mint(1, secrets.token_bytes(32), Claims(alice.id, genuine.token_id, now, now + 60_000))
        with pytest.raises(TokenInvalid, match="bad signature"):
            await verify_token(db, forged)
        async with open_database(":memory:", clock=clock, hasher=CHEAP_HASHER) as other_server:
            await make_account(other_server, "alice")
            foreign = await log_in(other_server, "alice", PASSWORD)
        with pytest.raises(TokenInvalid):
            await verify_token(db, foreign.token)


async def test_a_well_signed_token_for_a_session_that_never_started_is_refused(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        key_id, secret = db.current_signing_key
        now = int(clock.now * 1000)
        token = mint(key_id, secret, Claims(alice.id, secrets.token_hex(16), now, now + 60_000))
        with pytest.raises(TokenInvalid, match="unknown session"):
            await verify_token(db, token)


async def test_a_revoked_token_is_refused_and_logging_out_twice_is_harmless(db: Database) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        session = await log_in(db, "alice", PASSWORD)
        await log_out(db, session.token)
        await log_out(db, session.token)
        with pytest.raises(TokenInvalid, match="revoked"):
            await verify_token(db, session.token)


async def test_an_expired_token_can_still_log_out(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        session = await log_in(db, "alice", PASSWORD, lifetime_s=1)
        clock.advance(2)
        await log_out(db, session.token)


async def test_logging_out_everywhere_revokes_every_live_session_of_that_account_only(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        await make_account(db, "bob")
        sessions = [await log_in(db, "alice", PASSWORD) for _ in range(3)]
        bobs = await log_in(db, "bob", PASSWORD)
        assert await log_out_everywhere(db, alice.id) == 3
        for session in sessions:
            with pytest.raises(TokenInvalid):
                await verify_token(db, session.token)
        assert (await verify_token(db, bobs.token)).account.handle == "bob"


async def test_purging_forgets_only_expired_sessions(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        await log_in(db, "alice", PASSWORD, lifetime_s=10)
        lasting = await log_in(db, "alice", PASSWORD, lifetime_s=100)
        clock.advance(10)
        assert await purge_expired_sessions(db) == 1
        assert await purge_expired_sessions(db) == 0
        await verify_token(db, lasting.token)


async def test_a_verified_session_carries_the_account_as_it_is_now(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        session = await log_in(db, "alice", PASSWORD)
        await set_protected(db, alice.id, True)
        assert (await verify_token(db, session.token)).account.protected is True


async def test_a_session_lifetime_must_be_positive(db: Database) -> None:
    with trio.fail_after(CEILING):
        await make_account(db, "alice")
        with pytest.raises(BadArgument):
            await log_in(db, "alice", PASSWORD, lifetime_s=0)
