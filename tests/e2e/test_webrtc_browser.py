"""A real browser speaks over WebRTC: Debian's chromium (driven by Playwright, no browser download) with a fake
microphone fed from a WAV of a 440 Hz tone. The page (the served web client's origin, so the browser treats
it as a secure context) makes the offer itself with a tiny inline script; this test carries the offer and the
answer on an account's WebSocket, as the web client does, and a WebSocket listener hears the tone.

The web client's own browser tests (`web/`) cover its interface; this one covers the server's side of a
browser's peer connection: Chrome's SDP, its candidates (on the machine's interfaces, not loopback), DTLS,
SRTP and Opus RTP, through aiortc to the mixer.
"""

from __future__ import annotations

import queue
import wave
from functools import partial
from pathlib import Path
from typing import Any

import trio

from actors.space import Role
from gateway.client import connect, connect_account
from tests.audio import assert_tone_present, decode_stream, tone_frames
from tests.conftest import ServerProcess
from tests.e2e.test_space_audio import collect

OFFER = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const pc = new RTCPeerConnection();
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
  await new Promise((done) => {
    const check = () => ["closed", "failed", "disconnected"].includes(window.pc.connectionState) && done();
    window.pc.addEventListener("connectionstatechange", check);
    check();
  });
  return window.pc.connectionState;
}"""


class Browser:
    """Chromium in a worker thread (Playwright's sync API), running page scripts the test hands it. A failure
    in that thread (a launch that fails, a page that does not load) is raised by the waiting `evaluate`."""

    def __init__(self, page_url: str, microphone: Path) -> None:
        self._url, self._microphone = page_url, microphone
        self._calls: queue.Queue[tuple[str, object, queue.Queue[Any]] | None] = queue.Queue()
        self._failed: BaseException | None = None
        self._replies: list[queue.Queue[Any]] = []

    def run(self) -> None:
        try:
            self._serve()
        except BaseException as error:
            self._failed = error
            for reply in self._replies:
                reply.put(error)
            raise

    def _serve(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={self._microphone}",
                    "--use-fake-ui-for-media-stream",
                ],
                timeout=60_000,
            )
            try:
                page = browser.new_context(bypass_csp=True).new_page()
                page.goto(self._url, timeout=60_000)
                while (call := self._calls.get()) is not None:
                    script, arg, reply = call
                    try:
                        reply.put(page.evaluate(script, arg))
                    except Exception as error:  # handed to the test, which raises it
                        reply.put(error)
            finally:
                browser.close()

    async def evaluate(self, script: str, arg: object = None) -> Any:
        reply: queue.Queue[Any] = queue.Queue()
        self._replies.append(reply)
        if self._failed is not None:
            raise self._failed
        self._calls.put((script, arg, reply))
        result = await trio.to_thread.run_sync(reply.get, abandon_on_cancel=True)
        if isinstance(result, BaseException):
            raise result
        return result

    def stop(self) -> None:
        self._calls.put(None)


async def test_chromiums_microphone_over_webrtc_is_heard_by_a_websocket_listener_until_it_leaves_the_mic(
    server: ServerProcess, tmp_path: Path
) -> None:
    microphone = tmp_path / "tone.wav"
    with wave.open(str(microphone), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(b"".join(tone_frames(440.0, 10.0)))
    browser = Browser(f"http://127.0.0.1:{server.http_port}/", microphone)
    with trio.fail_after(120):
        async with (
            trio.open_nursery() as nursery,
            connect_account(server.url, "host") as host,
            connect_account(server.url, "ada") as ada,
            connect(server.url, "lis") as lis,
        ):
            nursery.start_soon(partial(trio.to_thread.run_sync, browser.run, abandon_on_cancel=True))
            try:
                space_id = (await host.create_space("From a browser")).space.space_id
                await ada.join_space(space_id)
                await lis.join_space(space_id)
                await host.set_role(ada.user, Role.SPEAKER)
                offer = await browser.evaluate(OFFER)
                assert "a=candidate" in offer
                answer = await ada.rtc_offer(offer)
                assert await browser.evaluate(ANSWER, answer) == "connected"
                heard = await collect(lis, 3.0)
                assert len(heard) > 100
                pcm = decode_stream([opus for _, _, opus in heard])
                assert_tone_present(pcm[len(pcm) // 5 :], 440.0)
                await host.set_role(ada.user, Role.LISTENER)  # the server closes the browser's peer connection
                assert await browser.evaluate(CLOSED) in ("closed", "failed", "disconnected")
            finally:
                browser.stop()
