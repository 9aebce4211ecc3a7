"""The download route of recordings on the HTTP port: `GET /recordings/<recording_id>/part-<n>.opus?<link>`,
an Ogg Opus file with byte ranges (`ranges.py`), to the bearer of a link `get_recording` handed out
(`gateway/replays/_links.py`; docs/recording.md, Downloads; docs/security.md, Recordings).

Refusals: 403 for a link that is missing, forged, expired, or public while the recording is now private;
404 for a recording or part that does not exist (or no longer: deleted, expired). The link is checked before
anything is read from the store or the disk. The access log is off, so no link is ever logged.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

import store
from gateway.http.ranges import file_response
from gateway.replays import LinkRefused, Replays, Scope, part_file

MEDIA_TYPE = "audio/ogg"
NO_CACHE = {"cache-control": "private, no-store"}


def recording_routes(db: store.Database, replays: Replays) -> list[Route]:
    async def download(request: Request) -> Response:
        recording_id: str = request.path_params["recording_id"]
        number: int = request.path_params["part"]
        try:
            scope = replays.links.check(recording_id, request.query_params, time.time())
        except LinkRefused as refused:
            return PlainTextResponse(f"not allowed: {refused}\n", 403, NO_CACHE)
        recording = await store.get_recording(db, recording_id)
        if recording is None:
            return PlainTextResponse("no such recording\n", 404, NO_CACHE)
        if scope is Scope.PUBLIC and recording.visibility != "public":
            return PlainTextResponse("not allowed: the recording is private\n", 403, NO_CACHE)
        part = next((p for p in await store.recording_parts(db, recording_id) if p.part == number), None)
        path = None if part is None else part_file(replays.data_dir, part.path)
        disposition = f'inline; filename="{recording_id}-part-{number}.opus"'
        try:
            if path is not None:
                return await file_response(request, path, MEDIA_TYPE, {**NO_CACHE, "content-disposition": disposition})
        except FileNotFoundError:  # deleted meanwhile (by its host, or expired)
            pass
        return PlainTextResponse("no such part\n", 404, NO_CACHE)

    return [Route("/recordings/{recording_id}/part-{part:int}.opus", download, methods=["GET", "HEAD"])]
