"""Byte ranges over HTTP (`gateway/http/ranges.py`): the header's reading as a table, then real requests on a
real socket to the web app as the server builds it (hypercorn's Trio worker, starlette), each answer's bytes
compared with the file's."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.http import WebSettings, build_app, serve_http
from gateway.http.ranges import byte_range, file_response
from gateway.transport import open_http_socket
from tests.http_wire import exchange, get

SIZE = 100_003


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-4", 10, (0, 4)),
        ("bytes=3-", 10, (3, 9)),
        ("bytes=-4", 10, (6, 9)),
        ("bytes=-40", 10, (0, 9)),  # more than the file: all of it
        ("bytes=5-500", 10, (5, 9)),  # the end is clipped
        ("BYTES = 2-3", 10, (2, 3)),  # the unit without regard to case, spaces ignored
        ("bytes=9-9", 10, (9, 9)),
        ("bytes=10-", 10, "unsatisfiable"),  # starts at the end
        ("bytes=10-20", 10, "unsatisfiable"),
        ("bytes=-0", 10, "unsatisfiable"),
        ("bytes=0-", 0, "unsatisfiable"),  # any range of an empty file
        ("bytes=-3", 0, "unsatisfiable"),
        ("bytes=4-2", 10, None),  # invalid: ignored
        ("bytes=0-1,4-5", 10, None),  # several ranges: the whole file
        ("items=0-1", 10, None),  # another unit
        ("bytes=-", 10, None),
        ("bytes=x-3", 10, None),
        ("bytes=" + "9" * 30 + "-", 10, "unsatisfiable"),  # numbers of any size: this one starts past the end
        ("bytes=0-" + "9" * 30, 10, (0, 9)),  # clipped
        ("bytes=-" + "9" * 30, 10, (0, 9)),  # a suffix longer than the file: all of it
        ("bytes=" + "0" * 40 + "3-4", 10, (3, 4)),  # leading zeros are not size
        ("bytes=" + "9" * 5000 + "-", 10, "unsatisfiable"),  # past int()'s 4,300 digits
        ("bytes=" + "9" * 30 + "-4", 10, None),  # last before first: invalid, ignored
    ],
)
def test_a_range_header_reads_as_rfc_9110_says(header: str | None, size: int, expected: object) -> None:
    assert byte_range(header, size) == expected


@asynccontextmanager
async def serving(path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async def file(request: Request) -> Response:
        return await file_response(request, path, "application/octet-stream", {"x-test": "yes"})

    app = build_app(WebSettings(ws_port=1), [Route("/file", file, methods=["GET", "HEAD"])])
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_http, app, open_http_socket("127.0.0.1", 0))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
        nursery.cancel_scope.cancel()


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, bytes]:
    content = os.urandom(SIZE)  # every range of random bytes is its own
    path = tmp_path / "part-0.opus"
    path.write_bytes(content)
    return path, content


async def test_a_range_request_returns_exactly_the_bytes_asked(data: tuple[Path, bytes]) -> None:
    path, content = data
    with trio.fail_after(20):
        async with serving(path) as client:
            whole = await client.get("/file")
            assert whole.status_code == 200 and whole.content == content
            assert whole.headers["accept-ranges"] == "bytes"
            assert int(whole.headers["content-length"]) == SIZE
            etag = whole.headers["etag"]
            assert etag.startswith('"') and whole.headers["x-test"] == "yes"
            assert "content-security-policy" in whole.headers  # the app's headers, as on every answer

            for header, first, last in [
                ("bytes=10-19", 10, 19),
                ("bytes=0-0", 0, 0),
                ("bytes=-5", SIZE - 5, SIZE - 1),
                (f"bytes={SIZE - 7}-", SIZE - 7, SIZE - 1),
                ("bytes=65530-70000", 65530, 70000),  # across the 64 KiB read chunk
                ("bytes=99000-999999999", 99000, SIZE - 1),
                ("bytes=0-" + "9" * 26, 0, SIZE - 1),  # any number: the end clipped
                ("bytes=-" + "9" * 26, 0, SIZE - 1),  # a suffix longer than the file: all of it, as 206
            ]:
                part = await client.get("/file", headers={"range": header})
                assert part.status_code == 206, header
                assert part.content == content[first : last + 1], header
                assert part.headers["content-range"] == f"bytes {first}-{last}/{SIZE}", header
                assert int(part.headers["content-length"]) == last - first + 1, header

            # If-Range: the range while the file is the client's copy, the whole file otherwise.
            same = await client.get("/file", headers={"range": "bytes=5-9", "if-range": etag})
            assert (same.status_code, same.content) == (206, content[5:10])
            other = await client.get("/file", headers={"range": "bytes=5-9", "if-range": '"0-0"'})
            assert (other.status_code, other.content) == (200, content)

            head = await client.head("/file", headers={"range": "bytes=100-199"})
            assert head.status_code == 206 and head.content == b""
            assert head.headers["content-range"] == f"bytes 100-199/{SIZE}"


async def test_an_unsatisfiable_range_is_416_and_several_ranges_get_the_whole_file(data: tuple[Path, bytes]) -> None:
    path, content = data
    with trio.fail_after(20):
        async with serving(path) as client:
            for header in (f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0", "bytes=" + "9" * 26 + "-"):
                refused = await client.get("/file", headers={"range": header})
                assert refused.status_code == 416, header
                assert refused.headers["content-range"] == f"bytes */{SIZE}", header
            several = await client.get("/file", headers={"range": "bytes=0-1,10-11"})
            assert (several.status_code, several.content) == (200, content)
            unreadable = await client.get("/file", headers={"range": "bytes=oops"})
            assert (unreadable.status_code, unreadable.content) == (200, content)


async def test_a_growing_file_is_served_as_far_as_it_was_written(data: tuple[Path, bytes]) -> None:
    """A part being written only grows: the answer's length is the size at the request, whatever follows."""
    path, content = data
    with trio.fail_after(20):
        async with serving(path) as client:
            async with client.stream("GET", "/file") as response:
                with path.open("ab") as f:  # written after the answer's head went out
                    f.write(b"more audio" * 10_000)
                body = b"".join([chunk async for chunk in response.aiter_bytes()])
            assert int(response.headers["content-length"]) == SIZE
            assert body == content
            later = await client.get("/file")
            assert len(later.content) == SIZE + 100_000


async def test_a_file_answer_closes_the_connection_when_the_client_asks_it(data: tuple[Path, bytes]) -> None:
    """`Connection: close` or HTTP/1.0: the whole file or range, then the server closes (RFC 9112, 9.6); the
    connection stayed open until the client left. A kept connection (the control) stays open meanwhile."""
    path, content = data
    with trio.fail_after(30):
        async with serving(path) as client:
            port = client.base_url.port
            assert port is not None
            for version, headers in [("HTTP/1.1", ["Connection: close"]), ("HTTP/1.0", [])]:
                for ranged, status, expected in [
                    ([], b"200", content),
                    (["Range: bytes=10-99999"], b"206", content[10:100_000]),
                ]:
                    request = get("/file", version, *headers, *ranged)
                    head, body, closed = await trio.to_thread.run_sync(exchange, port, request)
                    assert head.startswith(b"HTTP/1.1 " + status) and body == expected, (version, ranged)
                    assert closed is not None and closed < 2, (version, ranged)
            _, _, closed = await trio.to_thread.run_sync(exchange, port, get("/file"), 1.0)
            assert closed is None
