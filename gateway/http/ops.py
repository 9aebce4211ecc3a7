"""The operators' routes of the HTTP port: `/healthz` (the process is alive and its loop answers), `/readyz`
(it takes new clients: 503 while draining), `/metrics` (Prometheus text format).

Who may read /metrics: anyone who presents the bearer token (`metrics.token`), and a request with no
credentials at all (no `Authorization` header) from a loopback address that came through no proxy (no
`Forwarded`, `X-Forwarded-For` or `X-Real-IP` header: a reverse proxy on the same machine connects from loopback
too, so the header is what tells its requests apart). A request with credentials is judged by them alone: a
wrong token is refused from loopback too. The health routes say nothing but ok or draining, and answer anyone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.http._bearer import presents

PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def ops_routes(render: Callable[[], tuple[bytes, str]], draining: Callable[[], bool], token: str | None) -> list[Route]:
    """The routes, reading the metrics from `render()` (text, content type) and the drain state from `draining()`."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n", headers={"cache-control": "no-store"})

    async def readyz(request: Request) -> Response:
        if draining():
            return PlainTextResponse("draining\n", status_code=503, headers={"cache-control": "no-store"})
        return PlainTextResponse("ready\n", headers={"cache-control": "no-store"})

    async def metrics(request: Request) -> Response:
        if not _may_read_metrics(request, token):
            status = 401 if token else 403
            headers = {"www-authenticate": "Bearer"} if token else {}
            return PlainTextResponse("not allowed\n", status_code=status, headers=headers)
        body, content_type = render()  # a few hundred lines: built in the loop, under a millisecond
        return Response(body, media_type=content_type, headers={"cache-control": "no-store"})

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


def _may_read_metrics(request: Request, token: str | None) -> bool:
    if "authorization" in request.headers:  # a wrong token from loopback was once let in, as if none were sent
        return presents(request, token)
    if any(name in request.headers for name in PROXY_HEADERS) or request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False
