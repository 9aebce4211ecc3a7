"""The admin API's routes on the HTTP port (`/admin/...`, docs/operations.md, Admin API): JSON over HTTP for
back-ends, every request with `Authorization: Bearer <admin.token>`.

The token is compared in constant time (`hmac.compare_digest`) and never logged (hypercorn's access log is
off; these routes log the action, never the headers). Without `admin.token` set, every request is refused.
`/admin/openapi.json` (the document, no secret in it) answers anyone. Errors carry the codes of
docs/protocol.md's table (`AdminError`); the HTTP status says which kind: 400, 401, 404 or 409.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import store
from actors.space import SpaceState, errors as space_errors
from gateway import identity
from gateway.admin import Admin
from gateway.errors import code_of
from gateway.http import admin_messages as m
from gateway.http._bearer import presents

MAX_BODY_BYTES = 16 * 1024
MAX_INTEGER = 2**63 - 1  # SQLite's
NOT_FOUND = (space_errors.NoSuchSpace, space_errors.NoSuchParticipant, store.NoSuchAccount)
BAD_REQUEST = (space_errors.BadArgument, store.BadArgument)
Handler = Callable[[Request], Awaitable[msgspec.Struct]]


class _NotFound(Exception):
    """What the path names does not exist, and no layer has a code of its own for it (`not_found`)."""


class _Malformed(Exception):
    """A request no handler can read: a body that is not JSON of its shape (or not UTF-8), a query integer that
    is not one, or out of its range. Raised only by the readers below (`_query_int`, `body`), the one place
    the API's untrusted input is parsed, so nothing out of range ever reaches the store (SQLite's integers are
    signed 64-bit: a larger one is an OverflowError there)."""


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """The query parameter `name`: ASCII digits only (no sign, space, `_` or other scripts' digits, which
    `int()` would take), from `low` to `high`; `default` when absent."""
    given = request.query_params.get(name)
    if given is None:
        return default
    if not (given.isascii() and given.isdigit() and len(given) <= 19) or not low <= int(given) <= high:
        raise _Malformed(f"{name} is an integer from {low} to {high}")
    return int(given)


def _json(body: msgspec.Struct, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json",
                    headers={"cache-control": "no-store", **(headers or {})})  # fmt: skip


def _summary(state: SpaceState) -> m.SpaceSummary:
    return m.SpaceSummary(
        space_id=state.space_id,
        title=state.title,
        host=state.host,
        status=state.status.value,
        participants=len(state.roles),
        created_at=state.created_at,
        seq=state.seq,
    )


async def _drained(request: Request) -> bool:
    """Reads a refused request's body, up to `MAX_BODY_BYTES`; False if it is longer (the rest left unread)."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_BODY_BYTES:
            return False
    return True


def admin_routes(admin: Admin, token: str | None) -> list[Route]:
    """The admin API's routes, acting through `admin`, for requests that present `token`."""

    def guarded(handler: Handler, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not presents(request, token):
                why = "a wrong or missing admin token" if token else "the admin API is off: set admin.token"
                body = m.AdminError("unauthorized", why)
                headers = {"www-authenticate": "Bearer"}
                # The body unread, the server would close the connection as it answers, and a client sending
                # its next request on it (keep-alive) would see it drop: read what came, within the bound.
                if not await _drained(request):
                    headers["connection"] = "close"
                return _json(body, 401, headers)
            try:
                return _json(await handler(request), status)
            except _Malformed as e:
                return _json(m.AdminError("bad_request", str(e)[:200]), 400)
            except _NotFound as e:
                return _json(m.AdminError("not_found", str(e)[:200]), 404)
            except NOT_FOUND as e:
                return _json(m.AdminError(code_of(e), str(e)[:200]), 404)
            except BAD_REQUEST as e:
                return _json(m.AdminError(code_of(e), str(e)[:200]), 400)
            except (space_errors.SpaceError, store.StoreError) as e:
                return _json(m.AdminError(code_of(e), str(e)[:200]), 409)

        return endpoint

    async def body(request: Request, kind: type[Any]) -> Any:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise _Malformed(f"the body is over {MAX_BODY_BYTES} bytes")
        try:  # a str that is not UTF-8 is a UnicodeDecodeError, not a msgspec one
            return msgspec.json.decode(raw, type=kind)
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            raise _Malformed(str(e)) from e

    async def list_spaces(request: Request) -> m.SpaceList:
        return m.SpaceList([_summary(state) for state in await admin.spaces()])

    async def create_space(request: Request) -> m.SpaceSummary:
        wanted: m.CreateSpace = await body(request, m.CreateSpace)
        state = await admin.create_space(wanted.host, wanted.title, wanted.speakers, wanted.description,
                                         wanted.topics)  # fmt: skip
        return _summary(state)

    async def end_space(request: Request) -> m.Done:
        await admin.end_space(request.path_params["space_id"])
        return m.Done()

    async def participants(request: Request) -> m.ParticipantList:
        state = await admin.space(request.path_params["space_id"])
        people = [
            m.ParticipantInfo(
                user=user,
                name=state.names.get(user, ""),
                role=role,
                on_mic=user in state.on_mic,
                muted=user in state.muted,
            )  # fmt: skip
            for user, role in state.roles.items()
        ]
        return m.ParticipantList(state.space_id, people)

    async def remove(request: Request) -> m.Done:
        await admin.remove(request.path_params["space_id"], request.path_params["user"])
        return m.Done()

    async def mute(request: Request) -> m.Done:
        await admin.mute(request.path_params["space_id"], request.path_params["user"])
        return m.Done()

    async def suspend(request: Request) -> m.AccountStatus:
        account, changed = await admin.suspend(request.path_params["handle"])
        return m.AccountStatus(account.handle, identity.account_user(account), True, changed)

    async def restore(request: Request) -> m.AccountStatus:
        account, changed = await admin.restore(request.path_params["handle"])
        return m.AccountStatus(account.handle, identity.account_user(account), False, changed)

    async def events(request: Request) -> m.EventList:
        after = _query_int(request, "after", 0, 0, MAX_INTEGER)
        limit = _query_int(request, "limit", 100, 1, m.MAX_EVENTS_PAGE)
        found = await admin.events(after, limit)
        out = [
            m.WebhookEventOut(e.id, e.type, e.space_id, e.space_seq, e.created_at, msgspec.json.decode(e.data))
            for e in found
        ]
        return m.EventList(out, found[-1].id if found else after)

    async def webhooks(request: Request) -> m.WebhookList:
        return m.WebhookList([
            m.WebhookInfo(None if r is None else r.id, s.url, None if r is None else r.created_at, s.cursor,
                          s.backlog, s.failures)
            for r, s in admin.webhooks()
        ])  # fmt: skip

    async def add_webhook(request: Request) -> m.WebhookCreated:
        wanted: m.AddWebhook = await body(request, m.AddWebhook)
        receiver, after = await admin.add_webhook(wanted.url)
        return m.WebhookCreated(receiver.id, receiver.url, receiver.secret, receiver.created_at, after)

    async def remove_webhook(request: Request) -> m.Done:
        given = request.path_params["webhook_id"]
        if not (given.isascii() and given.isdigit() and len(given) < 19) or not await admin.remove_webhook(int(given)):
            raise _NotFound(f"no webhook receiver {given[:20]!r}")
        return m.Done()

    document = msgspec.json.encode(m.openapi())

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    return [
        Route("/admin/openapi.json", openapi),
        Route("/admin/spaces", guarded(list_spaces), methods=["GET"]),
        Route("/admin/spaces", guarded(create_space, 201), methods=["POST"]),
        Route("/admin/spaces/{space_id}/end", guarded(end_space), methods=["POST"]),
        Route("/admin/spaces/{space_id}/participants", guarded(participants), methods=["GET"]),
        Route("/admin/spaces/{space_id}/participants/{user}/remove", guarded(remove), methods=["POST"]),
        Route("/admin/spaces/{space_id}/participants/{user}/mute", guarded(mute), methods=["POST"]),
        Route("/admin/accounts/{handle}/suspend", guarded(suspend), methods=["POST"]),
        Route("/admin/accounts/{handle}/restore", guarded(restore), methods=["POST"]),
        Route("/admin/events", guarded(events), methods=["GET"]),
        Route("/admin/webhooks", guarded(webhooks), methods=["GET"]),
        Route("/admin/webhooks", guarded(add_webhook, 201), methods=["POST"]),
        Route("/admin/webhooks/{webhook_id}", guarded(remove_webhook), methods=["DELETE"]),
    ]
