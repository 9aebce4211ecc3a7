"""A real browser speaks over WebRTC: Debian's chromium (driven by Playwright, no browser download) with a fake
microphone fed from a WAV of a 440 Hz tone. The page (the served web client's origin, so the browser treats
it as a secure context) makes the offer itself with a tiny inline script; this test carries the offer and the
answer on an account's WebSocket, as the web client does, and a WebSocket listener hears the tone. The answer
accepts the audio-level header extension, and the server, told each packet's level by chromium, forwards a
lone speaker's packets without decoding them (its /metrics).

The web client's own browser tests (`web/`) cover its interface; this one covers the server's side of a
browser's peer connection: Chrome's SDP, its candidates (on the machine's interfaces, not loopback), DTLS,
SRTP and Opus RTP, through aiortc to the mixer.
"""

from __future__ import annotations

import multiprocessing
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.space import Role
from gateway.client import Client, connect, connect_account
from tests.audio import assert_tone_present, decode_stream, tone_frames
from tests.conftest import ServerProcess
from tests.e2e.browser_process import serve_browser
from tests.e2e.levels import assert_lone_speaker_undecoded
from tests.e2e.test_metrics import samples
from tests.e2e.test_space_audio import collect

pytestmark = pytest.mark.serial  # a browser's microphone over WebRTC, heard within deadlines

OFFER = """async (config) => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const pc = new RTCPeerConnection(config || {});
  pc.addTransceiver(stream.getAudioTracks()[0], {direction: "sendonly"});
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== "complete") {
    await new Promise((done) => pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && done()));
  }
  window.pc = pc;
  return pc.localDescription.sdp;
}"""
ANSWER = """async (sdp) => {
  await window.pc.setRemoteDescription({type: "answer", sdp});
  await new Promise((done) => {
    const check = () => window.pc.connectionState === "connected" && done();
    window.pc.addEventListener("connectionstatechange", check);
    check();
  });
  return window.pc.connectionState;
}"""
CLOSED = """async () => {
  const dtls = window.pc.getSenders()[0].transport;
  const ended = () => (["closed", "failed"].includes(dtls.state) ? `dtls ${dtls.state}`
    : ["closed", "failed", "disconnected"].includes(window.pc.connectionState) ? window.pc.connectionState : null);
  await new Promise((done) => {
    const check = () => ended() && done();
    window.pc.addEventListener("connectionstatechange", check);
    dtls.addEventListener("statechange", check);
    check();
  });
  return ended();
}"""
"""Resolves when the peer connection has ended: at once when the server closes it (its DTLS close_notify closes
the transport), else when chromium sees no more answers (ICE: about 7 s)."""


class Browser:
    """Chromium driven from a child process; `evaluate` runs a page script there and returns its result."""

    def __init__(self, page_url: str, microphone: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._calls, self._replies = context.Queue(), context.Queue()
        self._process = context.Process(
            target=serve_browser, args=(page_url, str(microphone), self._calls, self._replies), daemon=True
        )

    def start(self) -> None:
        self._process.start()

    async def evaluate(self, script: str, arg: object = None) -> Any:
        self._calls.put((script, arg))
        kind, value = await trio.to_thread.run_sync(self._replies.get, abandon_on_cancel=True)
        if kind == "error":
            raise RuntimeError(f"in the browser: {value}")
        return value

    def stop(self) -> None:
        self._calls.put(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def tone_microphone(path: Path) -> Path:
    """A WAV of 10 s of 440 Hz for chromium's fake microphone."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(b"".join(tone_frames(440.0, 10.0)))
    return path


@asynccontextmanager
async def browser_on_the_mic(server: ServerProcess, folder: Path, title: str) -> AsyncIterator[BrowserSpace]:
    """A space of `host` with the account `ada` on the mic, whose peer connection the browser (a 440 Hz
    microphone) makes, and the guest `lis` listening."""
    browser = Browser(f"http://127.0.0.1:{server.http_port}/", tone_microphone(folder / "tone.wav"))
    browser.start()  # chromium starts while the accounts sign up
    try:
        async with (
            connect_account(server.url, "host") as host,
            connect_account(server.url, "ada") as ada,
            connect(server.url, "lis") as lis,
        ):
            space_id = (await host.create_space(title)).space.space_id
            await ada.join_space(space_id)
            await lis.join_space(space_id)
            await host.set_role(ada.user, Role.SPEAKER)
            yield BrowserSpace(browser, host, ada, lis)
    finally:
        browser.stop()


@dataclass(frozen=True)
class BrowserSpace:
    browser: Browser
    host: Client
    ada: Client
    lis: Client


async def assert_hears_the_tone(lis: Client) -> None:
    heard = await collect(lis, 3.0)
    assert len(heard) > 100
    pcm = decode_stream([opus for _, _, opus in heard])
    assert_tone_present(pcm[len(pcm) // 5 :], 440.0)


async def test_chromiums_microphone_over_webrtc_is_heard_undecoded_by_a_websocket_listener_until_it_leaves_the_mic(
    server: ServerProcess, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with browser_on_the_mic(server, tmp_path, "From a browser") as s:
            offer = await s.browser.evaluate(OFFER)
            assert "a=candidate" in offer
            answer = await s.ada.rtc_offer(offer)
            assert "urn:ietf:params:rtp-hdrext:ssrc-audio-level" in answer
            assert await s.browser.evaluate(ANSWER, answer) == "connected"
            before = await trio.to_thread.run_sync(samples, server)
            await assert_hears_the_tone(s.lis)
            after = await trio.to_thread.run_sync(samples, server)
            assert_lone_speaker_undecoded(before, after, at_least=100)  # of about 150 in 3 s
            await s.host.set_role(s.ada.user, Role.LISTENER)  # the server closes the browser's peer connection
            assert await s.browser.evaluate(CLOSED) in (
                "dtls closed",
                "dtls failed",
                "closed",
                "failed",
                "disconnected",
            )
