"""The web client's own msgpack module (web/js/msgpack.js), run in the real browser: what it encodes, the
independent `msgpack` package reads as the same values; what that package encodes, it decodes; and it speaks
to the real server (a `hello` it encodes is answered with a `welcome` it decodes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from playwright.sync_api import Page

from tests.conftest import ServerProcess
from tests.web.browser import served_page

INTS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1,
        -1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**53) + 1]  # fmt: skip
STRS = ["", "a" * 31, "b" * 32, "c" * 255, "d" * 256, "e" * 70000, "héllo ✋ 💯", "\u0000"]
BINS = [b"", b"\x00\xff" * 127 + b"\x01", bytes(range(256)), b"\x07" * 70000]

# JS -> Python: values written as JS source, the Python value the msgpack package must read.
FROM_JS: list[tuple[str, Any]] = [
    *[(str(i), i) for i in INTS],
    ("2n ** 63n - 1n", 2**63 - 1),
    ("-(2n ** 63n)", -(2**63)),
    ("2 ** 53", 2**53),
    ("-(2 ** 60)", -(2**60)),
    ("1.5", 1.5),
    ("-0.25", -0.25),
    ("null", None),
    ("true", True),
    ("false", False),
    *[(f"'{s[:1]}'.repeat({len(s)})" if len(set(s)) == 1 else repr(s), s) for s in STRS],
    ("new Uint8Array([0, 1, 255])", b"\x00\x01\xff"),
    ("new Uint8Array(300).fill(9)", b"\x09" * 300),
    ("new Uint8Array(70000).fill(7)", b"\x07" * 70000),
    ("Array.from({length: 15}, (_, i) => i)", list(range(15))),
    ("Array.from({length: 16}, (_, i) => i)", list(range(16))),
    ("Array.from({length: 70000}, () => 1)", [1] * 70000),
    ("Object.fromEntries(Array.from({length: 16}, (_, i) => ['k' + i, i]))", {f"k{i}": i for i in range(16)}),
    ("({type: 'hello', protocol: 2, name: 'lena', nested: {a: [1, {b: null}]}})",
     {"type": "hello", "protocol": 2, "name": "lena", "nested": {"a": [1, {"b": None}]}}),
    ("({skipped: undefined, kept: 1})", {"kept": 1}),
]  # fmt: skip

# Python -> JS: values the msgpack package encodes (every width it chooses), and what the JS decoder must give.
TO_JS: list[Any] = [
    *INTS, 2**63 - 1, 2**64 - 1, -(2**63), 1.5, None, True, False, *STRS, *BINS,
    list(range(15)), list(range(16)), [0] * 70000, {f"k{i}": [i, str(i)] for i in range(20)},
    {"type": "audio", "frames": [{"seq": 1841, "captured_at": 1764120050000000, "opus": b"\xfc\xff\xfe"}]},
]  # fmt: skip

# Bytes cross between Python and the page as hex text (the page's `hex` and `unhex`), and a decoded value as
# one JSON text: Playwright passes a 70,000-element array item by item, 2 to 8 s each way (it was most of
# this module's time).
HEX_HELPERS = """() => {
  window.hex = (u) => Array.from(u, (b) => b.toString(16).padStart(2, '0')).join('');
  window.unhex = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
}"""
TO_JSON = """(v) => {
  const out = (x) => {
    if (typeof x === 'bigint') return {bigint: x.toString()};
    if (x === undefined) return {undefined: true};
    if (typeof x === 'number' && (!Number.isFinite(x) || Object.is(x, -0))) return {number: String(x)};
    if (x instanceof Uint8Array) return {bin: hex(x)};
    if (Array.isArray(x)) return x.map(out);
    if (x && typeof x === 'object') return {map: Object.entries(x).map(([k, y]) => [k, out(y)])};
    return x;
  };
  return JSON.stringify(out(v));
}"""


def from_json(x: Any) -> Any:
    """The Python value of TO_JSON's output (after `json.loads`); `undefined`, which no msgpack value is, as
    an object equal to nothing."""
    if isinstance(x, list):
        return [from_json(y) for y in x]
    if isinstance(x, dict):
        if "bigint" in x:
            return int(x["bigint"])
        if "bin" in x:
            return bytes.fromhex(x["bin"])
        if "undefined" in x:
            return object()
        if "number" in x:
            return float(x["number"])
        return {k: from_json(y) for k, y in x["map"]}
    return x


def page_bytes(page: Page, expression: str, data: bytes = b"") -> bytes:
    """The bytes of `expression` (a JavaScript function of a Uint8Array, `data`, to a Uint8Array) in the page."""
    return bytes.fromhex(page.evaluate(f"(h) => hex(({expression})(unhex(h)))", data.hex()))


@pytest.fixture(scope="module")
def page(web_server: ServerProcess) -> Iterator[Page]:
    with served_page(f"http://127.0.0.1:{web_server.http_port}/") as page:
        page.evaluate("async () => { window.mp = await import('/js/msgpack.js'); }")
        page.evaluate(HEX_HELPERS)
        yield page


def test_what_the_page_encodes_the_msgpack_package_reads(page: Page) -> None:
    for source, expected in FROM_JS:
        data = page_bytes(page, f"() => mp.encode({source})")
        assert msgpack.unpackb(data, raw=False, strict_map_key=False) == expected, source


def test_the_page_decodes_what_the_msgpack_package_encodes(page: Page) -> None:
    for value in TO_JS:
        data = msgpack.packb(value, use_bin_type=True)
        decoded = from_json(json.loads(page.evaluate(f"(h) => ({TO_JSON})(mp.decode(unhex(h)))", data.hex())))
        assert decoded == value, repr(value)[:80]
        # and writes it back as the package reads it
        again = page_bytes(page, "(b) => mp.encode(mp.decode(b))", data)
        assert msgpack.unpackb(again, raw=False) == value, repr(value)[:80]


@pytest.mark.parametrize(
    "data",
    [b"\x92\x01", b"\xa5abc", b"\xc1", b"\xd4\x01\x02", b"\xa2\xff\xfe", b"\x01\x02", b"\x91" * 100 + b"\x90"],
    ids=["short-array", "short-str", "never-used", "ext", "bad-utf8", "trailing", "too-deep"],
)
def test_the_page_refuses_what_is_not_one_msgpack_value(page: Page, data: bytes) -> None:
    error = page.evaluate(
        "(b) => { try { mp.decode(new Uint8Array(b)); return null; } catch (e) { return e.name + ': ' + e.message; } }",
        list(data),
    )
    assert error is not None


def test_the_page_speaks_to_the_real_server(page: Page, web_server: ServerProcess) -> None:
    replies = page.evaluate(
        """(url) => new Promise((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.binaryType = 'arraybuffer';
          const got = [];
          ws.onopen = () => ws.send(mp.encode({type: 'hello', protocol: 2, name: 'probe'}));
          ws.onmessage = (m) => {
            got.push(mp.decode(new Uint8Array(m.data)));
            if (got.length === 1) ws.send(mp.encode({type: 'get_space', ref: 2 ** 53, space_id: 'nope'}));
            else { ws.close(); resolve(got); }
          };
          ws.onerror = () => reject(new Error('websocket error'));
          setTimeout(() => reject(new Error('no answer: ' + JSON.stringify(got))), 10000);
        })""",
        web_server.url,
    )
    welcome, error = replies
    assert welcome["type"] == "welcome" and welcome["protocol"] == 2
    assert welcome["user"].startswith("g-") and welcome["name"] == "probe"
    assert welcome["limits"]["frame_ms"] == 20
    assert (error["type"], error["code"], error["ref"]) == ("error", "no_such_space", 2**53)
