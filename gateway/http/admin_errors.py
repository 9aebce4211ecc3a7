"""The admin API's refusals (`admin.py`): every code it answers with and that code's HTTP status, in one table
that docs/operations.md (Admin API, Errors) copies row for row, and how an exception becomes one.

The codes are docs/protocol.md's, meaning there what they mean here (one mapping of exceptions to codes,
`gateway/errors.py`, serves both), plus four the HTTP side alone needs: `unauthorized`, `not_found`,
`method_not_allowed` and, for a fault of the server's, `internal` (protocol.md's too).
"""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from gateway import logs
from gateway.errors import code_of, report_incident
from gateway.http import admin_messages as m

log = logs.get_logger("gateway.http.admin")

STATUS: dict[str, int] = {
    "bad_message": 400,  # not JSON, not UTF-8, a field missing or of the wrong type, a query integer out of range
    "bad_argument": 400,  # a value the space's or the store's rules refuse (a blank title, a bad URL)
    "unauthorized": 401,
    "no_such_space": 404,
    "no_such_participant": 404,
    "no_such_account": 404,
    "not_found": 404,  # no such webhook receiver, or no such admin route
    "method_not_allowed": 405,
    "not_allowed": 409,
    "not_a_speaker": 409,
    "not_in_space": 409,
    "space_ended": 409,
    "space_unavailable": 409,
    "account_suspended": 409,
    "protected_account": 409,
    "limit_reached": 409,
    "internal": 500,
}


class Malformed(Exception):
    """A request no handler can read (`bad_message`): a body that is not JSON of its shape (or not UTF-8), a
    query integer that is not one, or out of its range. Raised only by admin.py's readers (`_query_int`,
    `body`), the one place the API's untrusted input is parsed, so nothing out of range reaches the store
    (SQLite's integers are signed 64-bit: a larger one is an OverflowError there)."""


class NotFound(Exception):
    """What the path names does not exist, and no layer has a code of its own for it (`not_found`)."""


def json_response(body: msgspec.Struct, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json",
                    headers={"cache-control": "no-store", **(headers or {})})  # fmt: skip


def refusal(code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """`{"error": code, "message"}` with the status of `code` in STATUS."""
    return json_response(m.AdminError(code, message[:200]), STATUS[code], headers)


def refusal_of(error: Exception, what: str) -> Response:
    """The answer to `error`, raised while handling `what`: its code if STATUS has it, else `internal` (500),
    the error logged as an incident whose id the message names."""
    if isinstance(error, Malformed):
        return refusal("bad_message", str(error))
    if isinstance(error, NotFound):
        return refusal("not_found", str(error))
    code = code_of(error)
    if code == "internal" or code not in STATUS:
        return refusal("internal", report_incident(log, error, what))
    return refusal(code, str(error))
