"""/metrics against a real `stoa serve`: it parses with prometheus_client's own text parser, and its counters move
as the server works (a join, a refusal by a rate limit, a speaker talking, a leave); only loopback requests
that came through no proxy, or requests with the bearer token, may read it.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from gateway.client import Client, RequestError, connect, connect_account
from tests.audio import encode_tone
from tests.conftest import ROOT, ServerProcess, start_server, stop_server

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def samples(server: ServerProcess) -> Samples:
    """Every sample of /metrics, by (name, sorted labels), as prometheus_client's parser reads them."""
    status, text = scrape(server.http_port or 0)
    assert status == 200
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def talk(speaker: Client, seconds: float) -> None:
    start = trio.current_time()
    for i, packet in enumerate(encode_tone(440, seconds)):
        await trio.sleep_until(start + i * 0.020)
        await speaker.send_audio(i, time.time_ns() // 1000, packet)


async def test_counters_move_with_joins_refusals_and_talk(tmp_path: object) -> None:
    srv = start_server(tmp_path / "data")  # type: ignore[operator]
    try:
        with trio.fail_after(60):
            before = await trio.to_thread.run_sync(samples, srv)
            assert value(before, "stoa_joins_total") == 0
            assert value(before, "stoa_spaces", state="live") == 0
            async with connect_account(srv.url, "host") as host:
                space_id = (await host.create_space("Measured")).space.space_id
                async with connect(srv.url, "lena") as lena:
                    await lena.join_space(space_id)
                    joined = await trio.to_thread.run_sync(samples, srv)
                    assert value(joined, "stoa_joins_total") == 2
                    assert value(joined, "stoa_participants", role="host") == 1
                    assert value(joined, "stoa_participants", role="listener") == 1
                    assert value(joined, "stoa_spaces", state="live") == 1
                    assert value(joined, "stoa_connections") == 2
                    assert value(joined, "stoa_sign_ins_total", kind="guest") >= 1
                    assert value(joined, "stoa_store_write_seconds_count") > 0, "the space was recorded"
                    # The Rust reader's counters: both sockets are its, and their requests reached Python.
                    assert value(joined, "stoa_wire_connections") == 2
                    assert value(joined, "stoa_wire_accepted_total") >= 2
                    assert value(joined, "stoa_wire_messages_total") >= 4, "two hellos, a create and a join"
                    assert value(joined, "stoa_wire_bytes_read_total") > 0

                    # A rate limit's refusals are counted by limit: listings allow 5 at once.
                    refused = 0
                    for _ in range(12):
                        try:
                            await lena.list_spaces("live")
                        except RequestError as e:
                            assert e.code == "rate_limited"
                            refused += 1
                    assert refused > 0
                    after_refusals = await trio.to_thread.run_sync(samples, srv)
                    assert value(after_refusals, "stoa_rate_limit_refusals_total", limit="listings") == refused

                    # Talking moves the mixer's ticks, the frames sent and the speaker's packets.
                    await talk(host, 1.0)
                    for _ in range(40):
                        await lena.next_audio()
                    talked = await trio.to_thread.run_sync(samples, srv)
                    # A parked speaker's last packet is read at its space's next tick (docs/operations.md).
                    for _ in range(50):
                        if value(talked, "stoa_wire_audio_total", route="routed") == len(encode_tone(440, 1.0)):
                            break
                        await trio.sleep(0.02)
                        talked = await trio.to_thread.run_sync(samples, srv)
                    sent = value(talked, "stoa_frames_sent_total") - value(after_refusals, "stoa_frames_sent_total")
                    assert sent >= 40, "each mixed frame sent to the listener (and the speaker's own) counts"
                    assert value(talked, "stoa_mixer_ticks_total") >= 40
                    assert value(talked, "stoa_mixer_tick_seconds_count") == value(talked, "stoa_mixer_ticks_total")
                    assert value(talked, "stoa_speaker_packets_accepted_total") >= 40
                    # The host's audio went from its socket into the mixer in Rust, none of it through Python.
                    assert value(talked, "stoa_wire_audio_total", route="routed") == len(encode_tone(440, 1.0))
                    assert value(talked, "stoa_wire_audio_total", route="unrouted") == 0
                    # Those of its packets read at the space's tick, with the speakers parked then: at most all.
                    assert value(talked, "stoa_wire_audio_at_tick_total") <= len(encode_tone(440, 1.0))
                    assert value(talked, "stoa_wire_parked_speakers") <= 1
                    assert value(talked, "stoa_wire_messages_total") >= value(joined, "stoa_wire_messages_total") + 12
                    assert value(talked, "stoa_mixer_tick_seconds_bucket", le="+Inf") == value(
                        talked, "stoa_mixer_ticks_total"
                    )
                    # The writer wrote, for a small part of the wall time it ran (far from saturated).
                    passes = value(talked, "stoa_fanout_writer_passes_total")
                    busy = value(talked, "stoa_fanout_writer_busy_seconds_total")
                    assert passes >= 40 and 0 < busy < 0.5, (passes, busy)
                    assert value(talked, "stoa_fanout_writer_cpu_seconds_total") > 0
                    # Nothing was the listener's fault: no audio dropped for a slow reader.
                    assert value(talked, "stoa_frames_dropped_total", reason="slow_listener") == 0
                    await lena.leave_space()
                left = await trio.to_thread.run_sync(samples, srv)
                assert value(left, "stoa_leaves_total") == 1
                assert value(left, "stoa_participants", role="listener") == 0
            assert value(left, "stoa_event_loop_stall_seconds_count") > 0, "the probe has been sampling"
            assert value(left, "stoa_webhook_backlog") == 0
            assert value(left, "stoa_resumes_total", result="resumed") == 0
    finally:
        assert stop_server(srv) == 0


def exposed_names(server: ServerProcess) -> set[str]:
    """The names /metrics exposes, as people write them (a counter with its `_total`)."""
    status, text = scrape(server.http_port or 0)
    assert status == 200
    return {f.name + "_total" if f.type == "counter" else f.name for f in text_string_to_metric_families(text)}


def test_operations_doc_lists_exactly_the_metrics_exposed(server: ServerProcess) -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    table = doc[doc.index("| metric | type | labels | what |") :].split("\n\n")[0]
    first_cells = [line.split("|")[1] for line in table.splitlines()[2:]]
    documented = {name for cell in first_cells for name in re.findall(r"`(stoa_[a-z_]+)`", cell)}
    assert documented == exposed_names(server)


async def test_metrics_are_for_loopback_or_the_token_holder(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = start_server(tmp_path / "a")  # type: ignore[operator]
    try:
        assert (await trio.to_thread.run_sync(scrape, srv.http_port))[0] == 200
        # Through a reverse proxy (on this machine, so from loopback too): refused.
        proxied = {"X-Forwarded-For": "203.0.113.7"}
        assert (await trio.to_thread.run_sync(scrape, srv.http_port, proxied))[0] == 403
        # Credentials, where no token is set, are wrong ones: refused from loopback too.
        presented = {"Authorization": "Bearer s3cret-token"}
        assert (await trio.to_thread.run_sync(scrape, srv.http_port, presented))[0] == 403
    finally:
        assert stop_server(srv) == 0
    monkeypatch.setenv("STOA_METRICS_TOKEN", "s3cret-token")
    srv = start_server(tmp_path / "b")  # type: ignore[operator]
    try:
        # The scheme is case-insensitive (RFC 9110, 11.1), the token is not. From loopback, a wrong one is refused
        # all the same (it was let in as if it were no token at all); no token at all is loopback's.
        for given, status in [("Bearer s3cret-token", 200), ("bearer s3cret-token", 200), ("BEARER  s3cret-token", 200),
                              ("Bearer s3cret-tokem", 401), ("Basic s3cret-token", 401), ("Bearer S3CRET-TOKEN", 401),
                              ("bearer", 401), ("Bearers3cret-token", 401), ("", 401)]:  # fmt: skip
            for proxied in ({"X-Forwarded-For": "203.0.113.7"}, {}):
                headers = proxied | {"Authorization": given}
                assert (await trio.to_thread.run_sync(scrape, srv.http_port, headers))[0] == status, (given, proxied)
        assert (await trio.to_thread.run_sync(scrape, srv.http_port))[0] == 200
        assert (await trio.to_thread.run_sync(scrape, srv.http_port, {"X-Forwarded-For": "203.0.113.7"}))[0] == 401
    finally:
        assert stop_server(srv) == 0
