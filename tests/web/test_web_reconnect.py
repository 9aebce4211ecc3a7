"""The network drops under a listening page: the server process stops and starts again on the same ports with
the same data. The pages reconnect by themselves (jittered backoff), come back as the same users (the host's
token, the guest's guest_token), rejoin the space (the restarted server kept no place: `not_resumable`, then
`join_space`), and the listener plays the host's tone again. A connection that drops while the server runs
resumes its place, with the events it missed."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.conftest import ServerProcess, start_server, stop_server
from tests.web.browser import AUDIO_S, host_and_listener, launch, plays, tone_wav, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_listening_page_reconnects_by_itself_after_the_server_restarts(tmp_path: Path) -> None:
    ports = ("--port", str(free_port()), "--http-port", str(free_port()))
    server = start_server(tmp_path / "data", *ports)
    try:
        base = f"http://127.0.0.1:{server.http_port}"
        with sync_playwright() as pw:
            browser = launch(pw, tone_wav(tmp_path / "a440.wav", 440))
            try:
                (host, host_errors), (listener, listener_errors) = host_and_listener(browser, base, "Night owls")
                user = listener.evaluate("stoa.app.identity.user")

                assert stop_server(server) == 0
                wait_for(lambda: listener.evaluate("!stoa.app.conn.ready"), 10, what="the page to see the drop")
                frames = listener.evaluate("stoa.app.player.frames")
                time.sleep(1.0)  # the pages retry against a closed port meanwhile
                server = start_server(tmp_path / "data", *ports)

                wait_for(lambda: listener.evaluate("stoa.app.conn.ready"), 30, what="the page to reconnect")
                assert listener.evaluate("stoa.app.identity.user") == user  # the same guest
                wait_for(lambda: listener.evaluate("stoa.app.lastRejoin"), 20, what="the page to rejoin")
                assert listener.evaluate("stoa.app.lastRejoin") == "joined (not_resumable)"
                expect(listener.locator("#space-title")).to_have_text("Night owls")
                wait_for(lambda: listener.evaluate("stoa.app.player.frames") > frames + 50, AUDIO_S,
                         what="audio again after the restart")  # fmt: skip
                wait_for(lambda: plays(listener, 440), AUDIO_S, what="the listener to play 440 Hz again")
                expect(host.get_by_role("button", name="🎙 Mute")).to_be_visible()
                assert listener.evaluate("location.pathname") == host.evaluate("location.pathname")
                # The browser logs each refused retry: a connection refused by the closed port, or reset when the
                # stopping server closed its listening socket with the retry in its backlog (chromium says
                # ERR_SOCKET_NOT_CONNECTED, or ERR_CONNECTION_RESET once it had sent its request), closed before
                # any answer when the stopping server's reader had taken the connection but not yet its whole
                # request, and a 503 if a retry came while the server drained (docs/protocol.md, Draining).
                # Nothing else: no frame after the server's close frame.
                refused = ("ERR_CONNECTION_REFUSED", "ERR_SOCKET_NOT_CONNECTED", "ERR_CONNECTION_RESET")
                expected = (
                    *(f"Error in connection establishment: net::{e}" for e in refused),
                    "Connection closed before receiving a handshake response",
                    "response code: 503",
                )
                for errors in (listener_errors, host_errors):
                    assert not [e for e in errors if not any(x in e for x in expected)], errors
            finally:
                browser.close()
    finally:
        assert stop_server(server) == 0


def test_a_dropped_connection_resumes_its_place_with_the_events_it_missed(
    web_server: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{web_server.http_port}"
    with sync_playwright() as pw:
        browser = launch(pw, tone_wav(tmp_path / "a440.wav", 440))
        try:
            (host, host_errors), (listener, listener_errors) = host_and_listener(browser, base, "Late night radio")
            expect(host.locator("#audience-title .count")).to_have_text("1")

            # The listener's socket drops (closed as a network change would, not as a goodbye) while the host
            # posts: the page comes back by itself, with the post it missed and its place kept.
            listener.evaluate("stoa.app.conn.ws.close(4100)")
            host.get_by_label("Post to the space").fill("Did you miss this?")
            host.get_by_role("button", name="Post", exact=True).click()
            wait_for(lambda: listener.evaluate("stoa.app.lastRejoin"), 20, what="the page to take its place back")
            assert listener.evaluate("stoa.app.lastRejoin") == "resumed"
            expect(listener.locator(".posts")).to_contain_text("Did you miss this?")
            frames = listener.evaluate("stoa.app.player.frames")
            wait_for(lambda: listener.evaluate("stoa.app.player.frames") > frames + 25, AUDIO_S, what="audio again")
            wait_for(lambda: plays(listener, 440), AUDIO_S, what="440 Hz again")
            expect(host.locator("#audience-title .count")).to_have_text("1")  # no departure, no arrival

            # The host's own page drops too: it resumes as host, still on the mic.
            host.evaluate("stoa.app.conn.ws.close(4100)")
            wait_for(lambda: host.evaluate("stoa.app.lastRejoin"), 20, what="the host to take its place back")
            assert host.evaluate("stoa.app.lastRejoin") == "resumed"
            expect(host.get_by_role("button", name="End space")).to_be_visible()
            frames = listener.evaluate("stoa.app.player.frames")
            wait_for(
                lambda: listener.evaluate("stoa.app.player.frames") > frames + 25, AUDIO_S, what="the host heard again"
            )
            assert not listener_errors, listener_errors
            assert not host_errors, host_errors
        finally:
            browser.close()
