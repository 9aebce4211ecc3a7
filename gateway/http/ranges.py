"""A file over HTTP with byte ranges (RFC 9110, section 14): what a media player needs to seek in a recording
without downloading all of it.

- Every answer says `Accept-Ranges: bytes` and carries a strong `ETag` (size and modification time).
- `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` (one range): 206 with `Content-Range: bytes a-b/size` and
  exactly those bytes. A range that starts at or past the end (or `-0`, or any range of an empty file):
  416 with `Content-Range: bytes */size`. The end is clipped to the file's size, and a suffix longer than
  the file is all of it. A number has any count of digits: one too large for any file (`_number`) is simply
  past its end, never a reason to ignore the header.
- Several ranges in one header, a unit other than bytes, or a header that cannot be read: the Range header is
  ignored and the whole file sent (200), as RFC 9110 allows, so no multipart body is ever built.
- `If-Range` with another ETag or date than the file's now: the whole file (200).
- The length is the file's size when the request arrives, and exactly that many bytes are sent: a part
  still being written (it only grows) is served as far as it was written then.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from email.utils import formatdate
from pathlib import Path

import trio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

CHUNK_BYTES = 64 * 1024
SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)
BEYOND_ANY_FILE = 2**64


def _number(digits: str) -> int:
    """`digits` as an int, or BEYOND_ANY_FILE past 19 significant digits (int() refuses over 4,300 of them,
    and no file is 10^19 bytes long)."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= 19 else BEYOND_ANY_FILE


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """The inclusive range `(first, last)` a Range header asks of a file of `size` bytes; None to send the whole
    file (no header, or one ignored); "unsatisfiable" for 416."""
    if header is None:
        return None
    m = SINGLE_RANGE.fullmatch(header.strip().replace(" ", ""))
    if m is None or (not m[1] and not m[2]):
        return None  # several ranges, another unit, or unreadable: ignored
    if not m[1]:  # the last n bytes
        n = _number(m[2])
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    first = _number(m[1])
    last = _number(m[2]) if m[2] else size - 1
    if m[2] and last < first:
        return None  # invalid: ignored
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


async def file_response(
    request: Request, path: Path, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    """`path` as the answer to a GET or HEAD `request`, with its byte range if it asks one;
    `FileNotFoundError` if there is no such file."""
    stat = await trio.to_thread.run_sync(os.stat, path)
    size = stat.st_size
    etag = f'"{size:x}-{stat.st_mtime_ns:x}"'
    modified = formatdate(stat.st_mtime, usegmt=True)
    common = {"accept-ranges": "bytes", "etag": etag, "last-modified": modified, **(headers or {})}
    wanted = byte_range(request.headers.get("range"), size)
    if_range = request.headers.get("if-range")
    if wanted is not None and if_range is not None and if_range not in (etag, modified):
        wanted = None  # the file changed since the client's copy: all of it
    if wanted == "unsatisfiable":
        return PlainTextResponse("range not satisfiable\n", 416, {**common, "content-range": f"bytes */{size}"})
    if wanted is None:
        first, last, status = 0, size - 1, 200
    else:
        assert not isinstance(wanted, str)
        first, last = wanted
        status = 206
        common["content-range"] = f"bytes {first}-{last}/{size}"
    length = last - first + 1
    common["content-length"] = str(length)
    if request.method == "HEAD":
        return Response(b"", status, common, media_type)
    return StreamingResponse(_read(path, first, length), status, common, media_type)


async def _read(path: Path, first: int, length: int) -> AsyncIterator[bytes]:
    """Exactly `length` bytes of `path` from `first` (fewer only if the file was cut short meanwhile)."""
    async with await trio.open_file(path, "rb") as f:
        await f.seek(first)
        left = length
        while left > 0:
            chunk = await f.read(min(CHUNK_BYTES, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
