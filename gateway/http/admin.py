"""The admin API's routes on the HTTP port (`/admin/...`, docs/operations.md, Admin API): JSON over HTTP for
back-ends, every request with `Authorization: Bearer <admin.token>`.

The token is compared in constant time (`hmac.compare_digest`) and never logged (hypercorn's access log is
off; these routes log the action, never the headers). Without `admin.token` set, every request is refused.
`/admin/openapi.json` (the document, no secret in it) answers anyone. Every refusal, a wrong method or path
under /admin/ included, is a JSON `AdminError` with a code and status of `admin_errors.STATUS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from actors.space import SpaceState
from gateway import identity
from gateway.admin import Admin
from gateway.http import admin_messages as m
from gateway.http._bearer import presents
from gateway.http.admin_errors import Malformed, NotFound, json_response, refusal, refusal_of

MAX_BODY_BYTES = 16 * 1024
Handler = Callable[[Request], Awaitable[msgspec.Struct]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """The query parameter `name`: ASCII digits only (no sign, space, `_` or other scripts' digits, which
    `int()` would take), from `low` to `high`; `default` when absent."""
    given = request.query_params.get(name)
    if given is None:
        return default
    if not (given.isascii() and given.isdigit() and len(given) <= 19) or not low <= int(given) <= high:
        raise Malformed(f"{name} is an integer from {low} to {high}")
    return int(given)


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


async def _refused(request: Request, code: str, message: str, headers: dict[str, str]) -> Response:
    """The refusal of a request its handler never read. The body unread, the server would close the connection
    as it answers, and a client sending its next request on it (keep-alive) would see it drop: read what came,
    up to `MAX_BODY_BYTES`, and close only past that."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_BODY_BYTES:
            headers = {**headers, "connection": "close"}
            break
    return refusal(code, message, headers)


def admin_routes(admin: Admin, token: str | None) -> list[Route]:
    """The admin API's routes, acting through `admin`, for requests that present `token`."""

    def guarded(handler: Handler, status: int = 200) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            if not presents(request, token):
                why = "a wrong or missing admin token" if token else "the admin API is off: set admin.token"
                return await _refused(request, "unauthorized", why, {"www-authenticate": "Bearer"})
            try:
                return json_response(await handler(request), status)
            except Exception as e:  # (trio.Cancelled is no Exception: it passes)
                return refusal_of(e, f"admin {request.method} {request.url.path}")

        return endpoint

    async def body(request: Request, kind: type[Any]) -> Any:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise Malformed(f"the body is over {MAX_BODY_BYTES} bytes")
        try:  # a str that is not UTF-8 is a UnicodeDecodeError, not a msgspec one
            return msgspec.json.decode(raw, type=kind)
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            raise Malformed(str(e)) from e

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
        after, limit = (_query_int(request, *parameter) for parameter in m.QUERY["/admin/events"])
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
            raise NotFound(f"no webhook receiver {given[:20]!r}")
        return m.Done()

    document = msgspec.json.encode(m.openapi())

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    by_path: dict[str, dict[str, Endpoint]] = {"/admin/openapi.json": {"GET": openapi}}
    handlers: dict[str, Handler] = {
        "GET /admin/spaces": list_spaces, "POST /admin/spaces": create_space,
        "POST /admin/spaces/{space_id}/end": end_space,
        "GET /admin/spaces/{space_id}/participants": participants,
        "POST /admin/spaces/{space_id}/participants/{user}/remove": remove,
        "POST /admin/spaces/{space_id}/participants/{user}/mute": mute,
        "POST /admin/accounts/{handle}/suspend": suspend, "POST /admin/accounts/{handle}/restore": restore,
        "GET /admin/events": events, "GET /admin/webhooks": webhooks, "POST /admin/webhooks": add_webhook,
        "DELETE /admin/webhooks/{webhook_id}": remove_webhook,
    }  # fmt: skip
    for method, path, _, _, _, status in m.OPERATIONS:  # the document's operations, each with its handler
        handler = handlers[f"{method.upper()} {path}"]
        by_path.setdefault(path, {})[method.upper()] = guarded(handler, status)
    return [*(Route(path, _ByMethod(methods)) for path, methods in by_path.items()),
            Route("/admin/{rest:path}", _NoSuchRoute())]  # fmt: skip


class _ByMethod:
    """One path's ASGI app for every method (a class: starlette would give a function route GET alone):
    `endpoints[method]` (HEAD as GET), or a JSON 405 with `Allow`."""

    def __init__(self, endpoints: dict[str, Endpoint]) -> None:
        self.endpoints = {**endpoints, **({"HEAD": endpoints["GET"]} if "GET" in endpoints else {})}
        self.allow = ", ".join(sorted(self.endpoints))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        chosen = self.endpoints.get(request.method)
        if chosen is None:
            why = f"{request.method} is not a method of {request.url.path}: {self.allow}"
            response = await _refused(request, "method_not_allowed", why, {"allow": self.allow})
        else:
            response = await chosen(request)
        await response(scope, receive, send)


class _NoSuchRoute:
    """Any method of a path under /admin/ that no route has: a JSON 404 (an ASGI class, as `_ByMethod`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response = await _refused(request, "not_found", f"no admin route {request.url.path[:100]}", {})
        await response(scope, receive, send)
