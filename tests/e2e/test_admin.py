"""The admin API over a real server process: the token, the OpenAPI document against real responses, and
suspension (refused on join, on a token's hello, on log-in and on promotion at once, and across a restart)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import trio
from trio_websocket import ConnectionClosed

from actors.space import ParticipantRemoved, Role
from gateway.client import RequestError, connect, connect_account
from gateway.http.admin_errors import STATUS
from gateway.http.admin_messages import OPERATIONS
from tests.conftest import ROOT, ServerProcess, run_stoa, start_server, stop_server

TOKEN = "admin-secret-for-tests"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    monkeypatch.setenv("STOA_ADMIN_TOKEN", TOKEN)
    srv = start_server(tmp_path / "data", "--webhook-record", "on")
    try:
        yield srv
    finally:
        assert stop_server(srv) == 0


def http(server: ServerProcess, token: str | None = TOKEN) -> httpx.AsyncClient:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}", headers=headers, timeout=10)


def concrete(path: str) -> str:
    return (path.replace("{space_id}", "nosuchspace").replace("{user}", "u1").replace("{handle}", "nobody")
            .replace("{webhook_id}", "1"))  # fmt: skip


async def test_the_admin_tokens_scheme_is_case_insensitive(admin_server: ServerProcess) -> None:
    """RFC 9110, 11.1: the auth scheme is case-insensitive; the token itself is not."""
    with trio.fail_after(20):
        async with http(admin_server, None) as client:
            for given, status in [(f"Bearer {TOKEN}", 200), (f"bearer {TOKEN}", 200), (f"BEARER  {TOKEN}", 200),
                                  (f"bEaReR {TOKEN}", 200), (f"Bearer {TOKEN.upper()}", 401), (f"Basic {TOKEN}", 401),
                                  (f"Bearer{TOKEN}", 401), ("Bearer", 401)]:  # fmt: skip
                response = await client.get("/admin/spaces", headers={"authorization": given})
                assert response.status_code == status, given


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN[:-1]])
async def test_admin_endpoints_refuse_a_missing_or_wrong_token(admin_server: ServerProcess, token: str | None) -> None:
    with trio.fail_after(30):
        async with http(admin_server, token) as client:
            for method, path, *_ in OPERATIONS:
                response = await client.request(method.upper(), concrete(path), json={} if method == "post" else None)
                assert response.status_code == 401, (method, path, response.text)
                assert response.json()["error"] == "unauthorized"
            # the control: the right token passes the same check (and gets the space's own answer)
            async with http(admin_server) as right:
                assert (await right.get("/admin/spaces")).status_code == 200


async def test_without_an_admin_token_set_the_admin_api_refuses_everyone(server: ServerProcess) -> None:
    with trio.fail_after(20):
        async with http(server, "anything") as client:
            response = await client.get("/admin/spaces")
            assert response.status_code == 401 and "admin.token" in response.json()["message"]


def validator(document: dict[str, Any], path: str, method: str, status: int) -> jsonschema.Draft202012Validator:
    responses = document["paths"][path][method]["responses"]
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


async def test_every_admin_response_matches_the_openapi_document(admin_server: ServerProcess) -> None:
    with trio.fail_after(60):
        async with http(admin_server) as client, connect_account(admin_server.url, "host") as host:
            document = (await client.get("/admin/openapi.json")).json()
            assert document["openapi"].startswith("3.1")
            async with connect_account(admin_server.url, "lena") as lena:
                space_id = (await host.create_space("Checked")).space.space_id
                await lena.join_space(space_id)
                seen: set[tuple[str, str]] = set()

                async def call(method: str, template: str, status: int, path: str | None = None, **kw: Any) -> Any:
                    response = await client.request(method.upper(), path or template, **kw)
                    assert response.status_code == status, response.text
                    validator(document, template, method, status).validate(response.json())
                    seen.add((method, template))
                    return response.json()

                listed = await call("get", "/admin/spaces", 200)
                assert [s["space_id"] for s in listed["spaces"]] == [space_id]
                people = await call("get", "/admin/spaces/{space_id}/participants", 200,
                                    f"/admin/spaces/{space_id}/participants")  # fmt: skip
                assert {p["user"]: p["role"] for p in people["participants"]} == {
                    host.user: "host",
                    lena.user: "listener",
                }
                # the space's rules answer for the admin as for the host: a listener is not on the mic to mute
                refused = await call("post", "/admin/spaces/{space_id}/participants/{user}/mute", 409,
                                     f"/admin/spaces/{space_id}/participants/{lena.user}/mute")  # fmt: skip
                assert refused["error"] == "not_a_speaker"
                await host.set_role(lena.user, Role.SPEAKER)
                await call("post", "/admin/spaces/{space_id}/participants/{user}/mute", 200,
                           f"/admin/spaces/{space_id}/participants/{lena.user}/mute")  # fmt: skip
                await call("post", "/admin/spaces/{space_id}/participants/{user}/remove", 200,
                           f"/admin/spaces/{space_id}/participants/{lena.user}/remove")  # fmt: skip
                with pytest.raises(RequestError) as removed:  # an admin removal is a removal
                    await lena.join_space(space_id)
                assert removed.value.code == "removed"
                suspended = await call("post", "/admin/accounts/{handle}/suspend", 200, "/admin/accounts/lena/suspend")
                assert (suspended["suspended"], suspended["changed"]) == (True, True)
                await call("post", "/admin/accounts/{handle}/restore", 200, "/admin/accounts/lena/restore")
            created = await call("post", "/admin/spaces", 201, json={"host": "lena", "title": "Made by a back-end"})
            await call("post", "/admin/spaces/{space_id}/end", 200, f"/admin/spaces/{created['space_id']}/end")
            missing = await call("post", "/admin/spaces/{space_id}/end", 404, "/admin/spaces/nosuchspace/end")
            assert missing["error"] == "no_such_space"
            await call("post", "/admin/spaces", 400, json={"title": "no host"})
            made = await call("post", "/admin/webhooks", 201, json={"url": "http://127.0.0.1:9/hook"})
            assert made["secret"].startswith("whsec_")
            listed_hooks = await call("get", "/admin/webhooks", 200)
            assert [h["id"] for h in listed_hooks["webhooks"]] == [made["id"]]
            await call("delete", "/admin/webhooks/{webhook_id}", 200, f"/admin/webhooks/{made['id']}")
            for wrong in (str(made["id"]), "x1", "99999999999999999999999"):
                gone = await call("delete", "/admin/webhooks/{webhook_id}", 404, f"/admin/webhooks/{wrong}")
                assert gone["error"] == "not_found"
            await call("post", "/admin/webhooks", 400, json={"url": "not a url"})
            for hidden in ("http://127.0.0.1:9/\u0000", "http://127.0.0.1:9/a b", "http://127.0.0.1:9/\r\nX: y"):
                refused = await call("post", "/admin/webhooks", 400, json={"url": hidden})
                assert refused["error"] == "bad_argument", refused
            events = await call("get", "/admin/events", 200, "/admin/events?after=0&limit=1000")
            kinds = [e["type"] for e in events["events"]]
            assert kinds[0] == "space.started" and "account.suspended" in kinds and "space.summary" in kinds
            assert seen >= {(method, path) for method, path, *_ in OPERATIONS}


MALFORMED = [
    ("GET", "/admin/events?after=9223372036854775808", None),  # past SQLite's integers
    ("GET", "/admin/events?after=99999999999999999999999", None),
    ("GET", "/admin/events?limit=99999999999999999999", None),
    ("GET", "/admin/events?after=-1", None),
    ("GET", "/admin/events?after=", None),
    ("GET", "/admin/events?after=%EF%BC%91", None),  # a fullwidth 1: int() would take it
    ("GET", "/admin/events?after=1_000", None),
    ("GET", "/admin/events?after=%20%201", None),
    ("GET", "/admin/events?limit=0", None),
    ("POST", "/admin/spaces", b'{"host":"\xff","title":"y"}'),  # not UTF-8
    ("POST", "/admin/webhooks", b'{"url":"http://a/\xff"}'),
    ("POST", "/admin/spaces", b'{"host":"\\ud800","title":"y"}'),  # a lone surrogate
    ("POST", "/admin/spaces", b'{"host":"x","title":"y","speakers":1}'),  # a wrong type
    ("POST", "/admin/spaces", b'{"host":"x","title":"y","topics":[99999999999999999999999]}'),
    ("POST", "/admin/spaces", b"[]"),
    ("POST", "/admin/webhooks", b"{"),
]


WELL_FORMED = {"/admin/events": None, "/admin/spaces": {"host": "nobody", "title": "y"},
               "/admin/webhooks": {"url": "http://127.0.0.1:9/hook"}}  # fmt: skip


async def test_a_malformed_admin_request_is_a_json_400(admin_server: ServerProcess) -> None:
    with trio.fail_after(60):
        async with http(admin_server) as client:
            for method, path, body in MALFORMED:
                response = await client.request(method, path, content=body)
                assert response.status_code == 400, (path, body, response.text)
                assert response.headers["content-type"] == "application/json", (path, body)
                assert response.json()["error"] == "bad_message", (path, body)
            # the control: the same routes answer well-formed requests, with the largest integer SQLite holds
            assert (await client.get("/admin/events?after=9223372036854775807&limit=1000")).status_code == 200
            for path, body in WELL_FORMED.items():
                ok = await client.request("GET" if body is None else "POST", path, json=body)
                assert ok.status_code in (200, 201, 404), ok.text  # 404: no account "nobody"


def test_the_admin_codes_are_the_table_of_docs_operations() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    table = doc[doc.index("| status | code | when |") :].split("\n\n")[0].splitlines()[2:]
    rows = [[cell.strip() for cell in line.split("|")[1:3]] for line in table]
    assert {code.strip("`"): int(status) for status, code in rows} == STATUS
    assert len(rows) == len(STATUS)


async def test_admin_refusals_are_json_with_the_documented_codes(admin_server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with http(admin_server) as client, connect_account(admin_server.url, "jan") as jan:
            await jan.set_protected(True)
            protected = await client.post("/admin/spaces", json={"host": "jan", "title": "Not here"})
            assert (protected.status_code, protected.json()["error"]) == (409, "protected_account")
            for method, path, allow in [
                ("DELETE", "/admin/spaces", "GET, HEAD, POST"),
                ("PUT", "/admin/events", "GET, HEAD"),
                ("GET", "/admin/webhooks/1", "DELETE"),
                ("POST", "/admin/openapi.json", "GET, HEAD"),
            ]:
                wrong = await client.request(method, path, content=b"{}")
                assert wrong.status_code == 405, (method, path, wrong.text)
                assert wrong.headers["content-type"] == "application/json"
                assert (wrong.json()["error"], wrong.headers["allow"]) == ("method_not_allowed", allow)
            for method, path in [("GET", "/admin/nothing"), ("GET", "/admin/"), ("POST", "/admin/spaces/x/y/z")]:
                missing = await client.request(method, path)
                assert (missing.status_code, missing.json()["error"]) == (404, "not_found"), path
            # the control: a host that is not protected may
            await jan.set_protected(False)
            assert (await client.post("/admin/spaces", json={"host": "jan", "title": "Here"})).status_code == 201


async def test_a_suspended_account_is_refused_on_join_resume_and_promotion_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOA_ADMIN_TOKEN", TOKEN)
    server = start_server(tmp_path / "data")
    try:
        with trio.fail_after(60):
            async with http(server) as admin, connect_account(server.url, "host") as host:
                space_id = (await host.create_space("Suspensions")).space.space_id
                async with connect_account(server.url, "sam") as sam, connect_account(server.url, "idle") as idle:
                    await sam.join_space(space_id)
                    token = sam.token
                    assert (await admin.post("/admin/accounts/sam/suspend")).json()["changed"] is True
                    assert (await admin.post("/admin/accounts/idle/suspend")).json()["changed"] is True
                    # at once: its connection is closed with 4005, and it is out of the space
                    await sam.closed.wait()
                    assert sam.ws.closed is not None and sam.ws.closed.code == 4005
                    while not isinstance(event := await host.next_event(), ParticipantRemoved):
                        pass
                    assert event.user == sam.user
                    # a connection that was not in a space: its join is refused, and it is closed with 4005
                    try:
                        await idle.join_space(space_id)
                        raise AssertionError("a suspended account joined")
                    except RequestError as refused:
                        assert refused.code in ("account_suspended", "connection_closed", "connection_lost")
                    except ConnectionClosed:
                        pass  # the close came first
                    await idle.closed.wait()
                    assert idle.ws.closed is not None and idle.ws.closed.code == 4005
                await _refused_everywhere(server, host, token)
            # across a restart: the store holds the suspension
            assert stop_server(server) == 0
            server = start_server(tmp_path / "data")
            async with connect_account(server.url, "host", register=False) as host:
                await host.join_space(space_id)  # the live space was brought back: its host is host again
                await _refused_everywhere(server, host, token)
                async with http(server) as admin:
                    restored = (await admin.post("/admin/accounts/sam/restore")).json()
                assert (restored["suspended"], restored["changed"]) == (False, True)
                async with connect_account(server.url, "sam", register=False):  # the control: restored
                    await host.invite_speaker("sam")  # (its suspension removed it from this space: for good)
    finally:
        stop_server(server)


async def _refused_everywhere(server: ServerProcess, host: Any, token: str | None) -> None:
    with pytest.raises(RequestError) as refused:  # the token (what a resume presents) is refused at hello
        async with connect(server.url, token=token):
            pass
    assert refused.value.code == "account_suspended"
    async with connect(server.url, "guest") as guest:
        with pytest.raises(RequestError) as refused:
            await guest.log_in("sam", PASSWORD)
        assert refused.value.code == "account_suspended"
        with pytest.raises(RequestError) as wrong:  # a wrong password tells nothing of the account
            await guest.log_in("sam", "not the password at all")
        assert wrong.value.code == "bad_credentials"
    sam_user = "u2"  # registered second (host is u1); it is no longer in the space: the refusal comes first
    with pytest.raises(RequestError) as refused:
        await host.set_role(sam_user, Role.SPEAKER)
    assert refused.value.code == "account_suspended"
    with pytest.raises(RequestError) as refused:
        await host.invite_speaker("sam")
    assert refused.value.code == "account_suspended"


async def test_stoa_admin_wraps_the_api_for_people(admin_server: ServerProcess) -> None:
    url = f"http://127.0.0.1:{admin_server.http_port}"

    async def stoa_admin(*args: str) -> subprocess.CompletedProcess[str]:
        return await run_stoa("admin", "--url", url, *args)

    with trio.fail_after(60):
        async with connect_account(admin_server.url, "host"):
            pass
        listed = await stoa_admin("spaces")
        assert listed.returncode == 0 and json.loads(listed.stdout) == {"spaces": []}
        created = await stoa_admin("create-space", "host", "From the shell")
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["title"] == "From the shell"
        missing = await stoa_admin("suspend", "nobody")
        assert missing.returncode == 1 and "no_such_account" in missing.stderr
        os.environ.pop("STOA_ADMIN_TOKEN")  # (monkeypatch restores it) without a token it asks for one
        refused = await stoa_admin("spaces")
        assert refused.returncode == 2 and "STOA_ADMIN_TOKEN" in refused.stderr
