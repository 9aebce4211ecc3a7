"""The web client's microphone over the WebSocket when the socket stalls, in a real browser: frames that could not
be sent within `STALE_MS` (web/js/audio-send.js) are dropped and counted, never sent late; requests are never
dropped; the dock shows the count; and a close with 1008 says which of its two causes it was.

The stall is a stand-in socket in the page (what it is given waits, counted in `bufferedAmount`, until it
resumes, as a browser's socket does behind a stalled network), or, in the full page against the real server,
the real socket's `bufferedAmount` read as full for a second."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.conftest import ServerProcess
from tests.web.browser import AUDIO_S, host_and_listener, launch, plays, tone_wav, wait_for

# Frames dropped by their age, against the page's timers: those tests run alone. A frame handed over long after
# its capture (its age is set, not waited for) and a flood the server closes run beside the other tests.
by_their_age = pytest.mark.serial

STALE_MS = 200  # web/js/audio-send.js
SOCKET_FRAMES = 5  # what the socket takes (SOCKET_BACKLOG_BYTES, 512) before frames wait: these go late
SLACK_MS = 60  # timers on a busy machine

STALLED_SOCKET = """async (o) => {
  const { Connection } = await import('/js/connection.js');
  const { decode } = await import('/js/msgpack.js');
  class StallingSocket {
    constructor() { this.readyState = WebSocket.OPEN; this.pending = []; this.delivered = []; this.stalled = false; }
    get bufferedAmount() { return this.pending.reduce((n, d) => n + d.byteLength, 0); }
    send(data) { this.pending.push(data); if (!this.stalled) this.drain(); }
    drain() {
      const at = performance.now();
      for (const d of this.pending) this.delivered.push({ msg: decode(d), at });
      this.pending = [];
    }
    close() {}
  }
  const conn = new Connection('ws://127.0.0.1:9/', { hello: () => ({}), refused() {}, welcomed() {} });
  const ws = new StallingSocket();
  conn.ws = ws;
  conn.ready = true;
  const handed = {};
  const start = performance.now();
  let seq = 0;
  let asked = false;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const t = performance.now() - start;
      if (t >= o.stallFrom && t < o.stallTo && !ws.stalled) ws.stalled = true;
      if (t >= o.stallTo && ws.stalled) { ws.stalled = false; ws.drain(); }
      if (ws.stalled && !asked) {
        asked = true;
        conn.request({ type: 'get_space', space_id: 'during-the-stall' }).catch(() => {});
      }
      seq += 1;
      handed[seq] = { at: performance.now(), stalled: ws.stalled };
      const opus = new Uint8Array(80).fill(seq % 256);
      const capturedAt = Math.round((performance.timeOrigin + performance.now()) * 1000);  // as mic.js stamps it
      conn.send({ type: 'audio', seq, captured_at: capturedAt, opus, level: 40 });
      if (seq === o.frames) { clearInterval(timer); resolve(); }
    }, 20);
  });
  for (const p of conn.pending.values()) clearTimeout(p.timer);
  return {
    handed,
    delivered: ws.delivered.map((d) => (
      { type: d.msg.type, seq: d.msg.seq ?? null, space_id: d.msg.space_id ?? null, at: d.at })),
    stats: conn.audio ? conn.audio.stats : null,
  };
}"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One chromium for the module, its microphone a 440 Hz tone."""
    with sync_playwright() as pw:
        browser = launch(pw, tone_wav(tmp_path_factory.mktemp("mic") / "a440.wav", 440))
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, web_server: ServerProcess) -> Iterator[Page]:
    """A plain page of the web client's origin, for running its modules."""
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{web_server.http_port}/")
    yield page
    page.close()


@by_their_age
def test_a_stalled_socket_drops_stale_frames_and_counts_them_instead_of_sending_them_late(page: Page) -> None:
    frames, stall_from, stall_to = 100, 500, 1500  # 2 s of 20 ms frames; the socket stalls for the middle 1 s
    stall = {"frames": frames, "stallFrom": stall_from, "stallTo": stall_to}
    run: dict[str, Any] = page.evaluate(STALLED_SOCKET, stall)
    handed = {int(seq): h for seq, h in run["handed"].items()}
    audio = [d for d in run["delivered"] if d["type"] == "audio"]
    late = [d["seq"] for d in audio if d["at"] - handed[d["seq"]]["at"] > STALE_MS + SLACK_MS]
    # Only what the socket had taken before it filled goes late; everything after waits here, then is dropped.
    assert len(late) <= SOCKET_FRAMES, f"{len(late)} frames sent late: {late}"
    seqs = [d["seq"] for d in audio]
    assert seqs == sorted(seqs), "frames sent out of order"
    before = [s for s, h in handed.items() if not h["stalled"] and h["at"] - handed[1]["at"] < stall_from - SLACK_MS]
    assert set(before) <= set(seqs), "a frame lost while the socket kept up"
    assert seqs[-1] == frames, "the frames after the stall are sent"
    assert run["stats"] is not None
    assert run["stats"]["dropped"] == frames - len(audio), "every frame not sent is counted"
    assert run["stats"]["sent"] == len(audio)
    assert run["stats"]["dropped"] >= (stall_to - stall_from - STALE_MS) / 20 - SOCKET_FRAMES - 10
    # A request made during the stall is sent when the socket drains: never dropped.
    assert [d["space_id"] for d in run["delivered"] if d["type"] == "get_space"] == ["during-the-stall"]


OLD_CAPTURE = """async () => {
  const { AudioSender } = await import('/js/audio-send.js');
  const sent = [];
  const ws = { bufferedAmount: 0, send: (data) => sent.push(data) };
  const sender = new AudioSender();
  const capturedAgo = (ms) => Math.round((performance.timeOrigin + performance.now() - ms) * 1000);
  sender.send(ws, { type: 'audio', seq: 1, captured_at: capturedAgo(300), opus: new Uint8Array(8) });
  sender.send(ws, { type: 'audio', seq: 2, captured_at: capturedAgo(20), opus: new Uint8Array(8) });
  return { sent: sent.length, stats: sender.stats };
}"""


def test_a_frame_handed_over_long_after_its_capture_is_dropped_though_the_socket_keeps_up(page: Page) -> None:
    # A stalled page or encoder hands frames over late: their age counts from their capture, not the hand-over.
    run: dict[str, Any] = page.evaluate(OLD_CAPTURE)
    assert run == {"sent": 1, "stats": {"sent": 1, "dropped": 1}}


@by_their_age
def test_the_dock_counts_frames_dropped_while_the_real_socket_is_backed_up_and_the_voice_comes_back(
    browser: Browser, web_server: ServerProcess
) -> None:
    base = f"http://127.0.0.1:{web_server.http_port}"
    (host, host_errors), (listener, listener_errors) = host_and_listener(browser, base, "Stalls", webrtc=False)
    late = host.locator(".dock .late")
    stats = "() => ({ ...stoa.app.conn.audio.stats })"
    before = host.evaluate(
        """() => {
          Object.defineProperty(stoa.app.conn.ws, 'bufferedAmount', { configurable: true, get: () => 1 << 20 });
          return { ...stoa.app.conn.audio.stats };
        }"""
    )
    host.wait_for_timeout(1000)
    during = host.evaluate("() => { delete stoa.app.conn.ws.bufferedAmount; return { ...stoa.app.conn.audio.stats }; }")
    assert during["sent"] == before["sent"], "frames handed to a backed-up socket"
    dropped = during["dropped"] - before["dropped"]
    assert dropped >= (1000 - STALE_MS) / 20 - 10, dropped
    wait_for(lambda: shown(late) >= during["dropped"], 5, what="the dock to show the count")  # it ticks at 5 Hz
    expect(late).to_contain_text("late frames dropped")
    wait_for(lambda: host.evaluate(stats)["sent"] > during["sent"] + 50, 10, what="sending again")
    wait_for(lambda: plays(listener, 440), AUDIO_S, what="the listener to hear the host again")
    assert not host_errors and not listener_errors, (host_errors, listener_errors)
    host.context.close()
    listener.context.close()


def shown(late: Locator) -> int:
    """The count the dock shows ("41 late frames dropped"), 0 when it shows none."""
    return int((late.inner_text().split() or ["0"])[0])


def test_a_close_for_audio_faster_than_real_time_says_so(page: Page, web_server: ServerProcess) -> None:
    closed: dict[str, Any] = page.evaluate(
        """async (url) => {
          const { Connection } = await import('/js/connection.js');
          const { describeClose } = await import('/js/errors.js');
          const { encode } = await import('/js/msgpack.js');
          const conn = new Connection(url, { hello: () => ({ name: 'flood' }), refused() {}, welcomed() {} });
          const ended = new Promise((resolve) => conn.addEventListener('status', (e) => {
            if (e.detail.state === 'ended') resolve(e.detail);
          }));
          const ready = new Promise((resolve) => conn.addEventListener('ready', resolve));
          conn.start();
          await ready;
          const opus = new Uint8Array(80).fill(7);
          // A client bug: its whole backlog at once, far past the server's pace (docs/protocol.md, Rate limits).
          for (let seq = 1; seq <= 4000; seq++) conn.ws.send(encode({ type: 'audio', seq, captured_at: 1, opus }));
          const status = await Promise.race([ended, new Promise((r) => setTimeout(() => r(null), 15000))]);
          return status && {
            ...status,
            text: describeClose(status.code, status.reason),
            bad: describeClose(1008, 'too many refused messages in a row'),
            bare: describeClose(1008),
          };
        }""",
        web_server.url,
    )
    assert closed is not None, "the server did not close the flooding connection"
    assert (closed["code"], closed["reason"]) == (1008, "audio faster than real time")
    assert "audio faster than real time" in closed["text"]
    assert "unreadable" not in closed["text"]
    assert "unreadable or too frequent messages" in closed["bad"] and "audio" not in closed["bad"]
    assert "unreadable" in closed["bare"] and "audio faster than real time" in closed["bare"]  # no reason: both
