"""The one table from errors to wire codes and WebSocket close codes (STYLE R9).

Every `SpaceError` subclass, every `StoreError` subclass and every gateway error must appear here; a test
fails on an unmapped one. Codes never change once published; `docs/protocol.md` lists the same table.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

import store
from actors.space import errors as space_errors
from gateway.logs import AnyLogger
from gateway.protocol_base import (  # defined with the decoder that raises them
    BadMessage as BadMessage,
    GatewayError as GatewayError,
    UnknownType as UnknownType,
)


class NotAuthenticated(GatewayError):
    """Anything but `hello` before `hello` succeeded."""

    code = "not_authenticated"


class AlreadyAuthenticated(GatewayError):
    code = "already_authenticated"


class UnsupportedProtocol(GatewayError):
    code = "unsupported_protocol"


class RateLimited(GatewayError):
    """Too many of one kind of request: `retry_after_ms` says when one more will be accepted."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_ms: int = 1000) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class LimitReached(GatewayError):
    """A cap that waiting does not lift: one live space hosted at a time, so many scheduled spaces."""

    code = "limit_reached"


class GuestTokenInvalid(GatewayError):
    """`hello` with a `guest_token` this server did not issue (forged, or signed with a retired key)."""

    code = "guest_token_invalid"


class AccountRequired(GatewayError):
    """A guest connection (`hello` with a `user`, no `token`) asked for something only an account may do."""

    code = "account_required"


class ProtectedAccount(GatewayError):
    """A protected account asked to host a space: protected accounts cannot host."""

    code = "protected_account"


class BadSdp(GatewayError):
    """`rtc_offer`: the SDP cannot be answered (malformed, not one sending Opus audio section, no candidates);
    the message says why, never quoting the offer."""

    code = "bad_sdp"


class RtcFailed(GatewayError):
    """`rtc_offer`: the server could not answer in time, or the peer connection closed while it answered."""

    code = "rtc_failed"


class Internal(GatewayError):
    code = "internal"


class NoSuchRecording(GatewayError):
    """No recording with that id that the sender may see (a private one is only its host's to see)."""

    code = "no_such_recording"


class RecordingInProgress(GatewayError):
    """`delete_recording` of a recording still running: the host stops it first."""

    code = "recording_in_progress"


ERROR_CODES: dict[type[Exception], str] = {
    BadMessage: "bad_message",
    UnknownType: "unknown_type",
    NotAuthenticated: "not_authenticated",
    AlreadyAuthenticated: "already_authenticated",
    UnsupportedProtocol: "unsupported_protocol",
    RateLimited: "rate_limited",
    LimitReached: "limit_reached",
    GuestTokenInvalid: "guest_token_invalid",
    AccountRequired: "account_required",
    ProtectedAccount: "protected_account",
    BadSdp: "bad_sdp",
    RtcFailed: "rtc_failed",
    Internal: "internal",
    NoSuchRecording: "no_such_recording",
    RecordingInProgress: "recording_in_progress",
    space_errors.NoSuchSpace: "no_such_space",
    space_errors.SpaceOver: "space_ended",
    space_errors.NotAllowed: "not_allowed",
    space_errors.NotInSpace: "not_in_space",
    space_errors.AlreadyInSpace: "already_in_space",
    space_errors.NoSuchParticipant: "no_such_participant",
    space_errors.SpeakerLimit: "speaker_limit",
    space_errors.NotASpeaker: "not_a_speaker",
    space_errors.CohostLimit: "cohost_limit",
    space_errors.Muted: "muted",
    space_errors.Removed: "removed",
    space_errors.NoSuchPost: "no_such_post",
    space_errors.NoSuchRequest: "no_such_request",
    space_errors.NotEligible: "not_eligible",
    space_errors.NotInvited: "not_invited",
    space_errors.BadArgument: "bad_argument",
    space_errors.SpaceUnavailable: "space_unavailable",
    space_errors.ScheduledSpaceOver: "scheduled_space_over",
    space_errors.HostLimit: "limit_reached",
    space_errors.NotResumable: "not_resumable",
    space_errors.NotRecording: "not_recording",
    space_errors.RecordingUnavailable: "recording_unavailable",
    store.BadArgument: "bad_argument",
    store.HandleTaken: "handle_taken",
    store.BadCredentials: "bad_credentials",
    store.TokenInvalid: "token_invalid",
    store.TokenExpired: "token_expired",
    store.AccountSuspended: "account_suspended",
    store.NoSuchAccount: "no_such_account",
    store.Blocked: "blocked",
    store.SchemaTooNew: "schema_too_new",
    store.NoSuchScheduledSpace: "no_such_scheduled_space",
    store.ScheduledSpaceOver: "scheduled_space_over",
    store.TooManyScheduled: "limit_reached",
    store.TooManyWebhookReceivers: "limit_reached",
}

SHARED_CODES = frozenset({"bad_argument", "scheduled_space_over", "limit_reached"})
"""Codes that more than one layer raises with one meaning (a value out of its documented range): a client
handles `bad_argument` alike whether the space or the store refused the value."""


def code_of(error: Exception) -> str:
    """The wire code of `error`: exact class first, so a subclass can never borrow its parent's code."""
    code = ERROR_CODES.get(type(error))
    return code if code is not None else "internal"


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses (RFC 6455 ones, and 4000-4999 of our own)."""

    NORMAL = 1000  # the client closed, or the server let it go after `leave_space` and a client close
    GOING_AWAY = 1001  # the server is shutting down
    PROTOCOL_ERROR = 1002  # a frame that breaks RFC 6455 (sent by the Rust wire, `mixer-rs/wire/src/frames.rs`)
    UNSUPPORTED_DATA = 1003  # a text frame: this protocol is binary msgpack only
    INVALID_DATA = 1007  # a close reason that is not UTF-8 (the Rust wire)
    POLICY_VIOLATION = 1008  # too many messages refused unread in a row, or audio faster than real time
    MESSAGE_TOO_BIG = 1009  # a message over the limit in `welcome.limits.max_message_bytes`
    INTERNAL_ERROR = 1011  # a fault in the server's handling of this connection (logged with an incident id)
    TOO_SLOW = 4000  # the client did not read fast enough: its queue of events overflowed
    KEEPALIVE_TIMEOUT = 4001  # no pong within 5 s of a ping
    REPLACED = 4002  # the same user connected again; the newer connection wins
    HELLO_TIMEOUT = 4003  # no successful `hello` within 10 s of connecting
    DRAINING = 4004  # the server is draining (going down for a restart or a move): reconnect, then resume
    ACCOUNT_SUSPENDED = 4005  # an operator suspended the account: do not reconnect with it


OVERFLOW_REASON = "the client did not read its replies and events fast enough"
"""The reason of the 4000 close after an overflow: the Rust fan-out's own frame's (`fanout::TOO_SLOW_REASON`)."""


T = TypeVar("T")


def report_incident(log: AnyLogger, error: BaseException, what: str) -> str:
    """Log an unexpected exception, with its traceback, under a fresh incident id; return the reason to close
    the connection with (1011): the operator finds the log line from the id the client was told."""
    incident = secrets.token_hex(4)
    log.error("incident %s: %s failed", incident, what, exc_info=error)
    return f"internal error (incident {incident})"


def contained(log: AnyLogger, handler: Callable[[T], Awaitable[None]]) -> Callable[[T], Awaitable[None]]:
    """`handler` for one connection, made unable to end anything but that connection: an exception that
    escapes it is reported as an incident instead of reaching the server's nursery. `trio.Cancelled` (a
    BaseException) always passes through."""

    async def run(connection: T) -> None:
        try:
            await handler(connection)
        except Exception as error:
            report_incident(log, error, "a connection's handler")

    return run
