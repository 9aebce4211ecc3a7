"""The admin API's request and response bodies: msgspec Structs, the one definition the handlers encode and
decode with and the OpenAPI document (`/admin/openapi.json`) is generated from (`openapi()`)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from actors.space import Role, SpeakerPolicy


class SpaceSummary(msgspec.Struct, frozen=True):
    """A live space."""

    space_id: str
    title: str
    host: str
    """The host's user id (`u<n>`)."""
    status: str
    participants: int
    created_at: int
    """Unix time, milliseconds."""
    seq: int
    """The space's last event sequence number."""


class SpaceList(msgspec.Struct, frozen=True):
    spaces: list[SpaceSummary]


class CreateSpace(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A space hosted by the account `host` (a handle), which must then connect and join it."""

    host: str
    title: str
    speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE
    description: str = ""
    topics: list[str] = []


class ParticipantInfo(msgspec.Struct, frozen=True):
    user: str
    name: str
    role: Role
    on_mic: bool
    muted: bool


class ParticipantList(msgspec.Struct, frozen=True):
    space_id: str
    participants: list[ParticipantInfo]


class AccountStatus(msgspec.Struct, frozen=True):
    handle: str
    user: str
    suspended: bool
    changed: bool
    """Whether this request changed it (false: it already was so)."""


class WebhookEventOut(msgspec.Struct, frozen=True):
    """One event of the outbox, as webhooks deliver it (docs/operations.md, Webhooks)."""

    id: int
    type: str
    space_id: str | None
    space_seq: int | None
    timestamp: int
    data: dict[str, Any]


class EventList(msgspec.Struct, frozen=True):
    events: list[WebhookEventOut]
    next_after: int
    """Pass it as `after` for the next page (the last id here, or `after` itself when none)."""


class AddWebhook(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A receiver URL: http:// or https://, with a host, at most 2,048 characters."""

    url: str


class WebhookCreated(msgspec.Struct, frozen=True):
    """A registered receiver. It gets every event with an id above `starts_after`, in order, signed with `secret`."""

    id: int
    url: str
    secret: str
    """`whsec_<base64 of 32 bytes>`, the Standard Webhooks key of its signatures: shown this once, never listed."""
    created_at: int
    """Unix time, milliseconds."""
    starts_after: int
    """The last event id written before it was registered (0: none yet)."""


class WebhookInfo(msgspec.Struct, frozen=True):
    """A receiver and its delivery."""

    id: int | None
    """The id to remove it by; null for a URL of the settings (`webhooks.urls`), which the API cannot remove."""
    url: str
    created_at: int | None
    """Unix time, milliseconds; null for a URL of the settings."""
    delivered_id: int
    """The last event id it acknowledged."""
    backlog: int
    """Events waiting for it."""
    failures: int
    """Failed delivery attempts since the server started."""


class WebhookList(msgspec.Struct, frozen=True):
    webhooks: list[WebhookInfo]


class Done(msgspec.Struct, frozen=True):
    ok: Literal[True] = True


class AdminError(msgspec.Struct, frozen=True):
    """Every refusal: `error` is one of the codes of docs/operations.md's table (Admin API, Errors), each with
    one status; `message` is for people."""

    error: str
    message: str


# (method, path, summary, request body, response body, success status)
OPERATIONS: list[tuple[str, str, str, type | None, type, int]] = [
    ("get", "/admin/spaces", "List live spaces", None, SpaceList, 200),
    ("post", "/admin/spaces", "Create a space hosted by an account", CreateSpace, SpaceSummary, 201),
    ("post", "/admin/spaces/{space_id}/end", "End a space (as its host)", None, Done, 200),
    ("get", "/admin/spaces/{space_id}/participants", "List a space's participants", None, ParticipantList, 200),
    (
        "post",
        "/admin/spaces/{space_id}/participants/{user}/remove",
        "Remove a participant (as the host)",
        None,
        Done,
        200,
    ),  # fmt: skip
    ("post", "/admin/spaces/{space_id}/participants/{user}/mute", "Mute a speaker (as the host)", None, Done, 200),
    ("post", "/admin/accounts/{handle}/suspend", "Suspend an account everywhere at once", None, AccountStatus, 200),
    ("post", "/admin/accounts/{handle}/restore", "Lift an account's suspension", None, AccountStatus, 200),
    ("get", "/admin/events", "Webhook events after an id, oldest first", None, EventList, 200),
    ("get", "/admin/webhooks", "List webhook receivers (never their secrets)", None, WebhookList, 200),
    (
        "post",
        "/admin/webhooks",
        "Register a webhook receiver; its secret is in this answer only",
        AddWebhook,
        WebhookCreated,
        201,
    ),  # fmt: skip
    ("delete", "/admin/webhooks/{webhook_id}", "Remove a registered webhook receiver", None, Done, 200),
]
MAX_EVENTS_PAGE = 1000
MAX_INTEGER = 2**63 - 1  # SQLite's largest
QUERY = {"/admin/events": [("after", 0, 0, MAX_INTEGER), ("limit", 100, 1, MAX_EVENTS_PAGE)]}
"""Each path's query parameters: (name, default, minimum, maximum), all integers."""
INTEGER_PARAMETERS = frozenset({"webhook_id"})


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the admin API, its schemas made by msgspec from the Structs above."""
    bodies = sorted({t for op in OPERATIONS for t in (op[3], op[4]) if t is not None} | {AdminError},
                    key=lambda t: t.__name__)  # fmt: skip
    _, components = msgspec.json.schema_components(bodies, ref_template="#/components/schemas/{name}")

    def ref(t: type) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{t.__name__}"}

    def error(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": ref(AdminError)}}}

    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, request, response, status in OPERATIONS:
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        operation: dict[str, Any] = {
            "summary": summary,
            "parameters": [
                *(
                    {
                        "name": name,
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer" if name in INTEGER_PARAMETERS else "string"},
                    }
                    for name in names
                ),
                *(
                    {
                        "name": name,
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": low, "maximum": high, "default": default},
                    }
                    for name, default, low, high in QUERY.get(path, [])
                ),
            ],  # fmt: skip
            "responses": {
                str(status): {"description": "done", "content": {"application/json": {"schema": ref(response)}}},
                "400": error("a malformed request (bad_message) or a value out of its range (bad_argument)"),
                "401": error("a missing or wrong admin token (unauthorized)"),
                "404": error("no such space, participant, account or webhook receiver"),
                "405": error("another method than this path's (method_not_allowed), with Allow"),
                "409": error("refused by the space's rules, the account's state or a cap (limit_reached)"),
                "500": error("a fault of the server's (internal): the message names the log's incident id"),
            },
        }
        if request is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(request)}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stoa admin API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
