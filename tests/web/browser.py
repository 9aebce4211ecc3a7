"""Helpers of the browser tests: Debian's chromium driven by Playwright (no browser download), a fake microphone
fed from a WAV the test writes, pages of the real web client served by a real `stoa serve`, and what a page
reports of the audio it plays (`window.stoa.probe`, an AnalyserNode after the page's playback path)."""

from __future__ import annotations

import math
import os
import struct
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery staple"
AUDIO_S = 20.0
"""How long a tone may take to be heard (a page's audio starts, the jitter buffer fills)."""
T = TypeVar("T")


def tone_wav(path: Path, hz: float, seconds: float = 4.0, amplitude: float = 0.4, rate: int = 48000) -> Path:
    """A mono 16-bit WAV of a steady sine (the fake microphone loops it)."""
    n = int(seconds * rate)
    return write_wav(path, [amplitude * math.sin(2 * math.pi * hz * i / rate) for i in range(n)], rate)


def write_wav(path: Path, samples: list[float], rate: int = 48000) -> Path:
    """A mono 16-bit WAV of `samples` (floats, -1 to 1)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *(int(s * 32767) for s in samples)))
    return path


def launch(pw: Playwright, mic_wav: Path | None = None) -> Browser:
    """Chromium with audio allowed to start without a gesture, and `mic_wav` as its microphone."""
    args = ["--autoplay-policy=no-user-gesture-required"]
    if mic_wav is not None:
        args += [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic_wav}",
        ]
    return pw.chromium.launch(executable_path=CHROMIUM, args=args)


class Errors(list[str]):
    """The page errors and console errors a page logged (the tests assert there are none)."""


def open_page(browser: Browser, url: str, *, phone: bool = False, webrtc: bool = True) -> tuple[Page, Errors]:
    """A page in a context of its own (its own localStorage: its own identity), with voice processing off (the
    test's tones are steady sines, which noise suppression would take for noise); `webrtc=False` makes it speak
    over the WebSocket whatever the server offers."""
    context = browser.new_context(viewport=PHONE if phone else DESKTOP, color_scheme="dark")
    page = context.new_page()
    errors = Errors()

    def console(m: ConsoleMessage) -> None:
        if m.type == "error" and "favicon" not in m.text:
            errors.append(m.text)

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())  # the "are you sure" confirmations
    page.add_init_script("localStorage.setItem('stoa.processing', 'off')")
    if not webrtc:
        page.add_init_script("localStorage.setItem('stoa.webrtc', 'off')")
    page.goto(url)
    page.wait_for_function("() => window.stoa && window.stoa.app.conn.ready", timeout=15000)
    return page, errors


@contextmanager
def served_page(url: str) -> Iterator[Page]:
    """A plain page of a browser of its own (no microphone) at `url` (the web client's origin, so its modules
    import): for running the client's JavaScript modules."""
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        page.goto(url)
        yield page
        browser.close()


def host_and_listener(
    browser: Browser, base: str, title: str, *, webrtc: bool = True
) -> tuple[tuple[Page, Errors], tuple[Page, Errors]]:
    """A host page (the account `ada`) live on its 440 Hz microphone in a new space (over the WebSocket
    if not `webrtc`), and a guest page hearing it."""
    host, host_errors = open_page(browser, base + "/", webrtc=webrtc)
    sign_up(host, "ada")
    listener, listener_errors = open_page(browser, start_space(host, title))
    wait_for(lambda: plays(listener, 440), AUDIO_S, what="the listener to play 440 Hz")
    return (host, host_errors), (listener, listener_errors)


def wait_for(check: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.2, what: str = "") -> T:
    """Poll `check` until it returns something truthy; fail naming `what` (and the last value seen)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or check}: last {last!r}")


def probe(page: Page, freqs: tuple[int, ...] = (440, 1000)) -> dict[str, Any]:
    """What the page plays now: `levelDb`, `dominantHz`, `at` (dB at each of `freqs`), frames, jitter stats."""
    result: dict[str, Any] = page.evaluate("(freqs) => stoa.probe(freqs)", list(freqs))
    return result


def plays(page: Page, hz: int, others: tuple[int, ...] = ()) -> bool:
    """Whether the page's output carries `hz` loudly, near the strongest of the spectrum."""
    p = probe(page, (hz, *others))
    return bool(p and p["levelDb"] > -40 and p["at"][str(hz)] > p["peakDb"] - 12)


def sign_up(page: Page, handle: str) -> None:
    page.get_by_role("button", name="Sign up", exact=True).click()
    page.fill("#auth-handle", handle)
    page.fill("#auth-display", handle.capitalize())
    page.fill("#auth-password", PASSWORD)
    page.click("#auth-submit")
    page.wait_for_selector(f".account >> text=@{handle}", timeout=15000)


def start_space(
    host: Page,
    title: str,
    description: str = "",
    topics: str = "",
    before_going_live: Callable[[], object] = lambda: None,
) -> str:
    """The host page starts a space from the home page's dialog and goes live on its microphone; returns the
    share link (the page's address in the space)."""
    host.get_by_role("button", name="Start a space").click()
    host.fill("#create-name", title)
    host.fill("#create-description", description)
    host.fill("#create-topics", topics)
    before_going_live()
    host.click("#create-submit")
    expect(host.locator("#space-title")).to_have_text(title)
    host.get_by_role("button", name="🎙 Unmute").click()
    expect(host.get_by_role("button", name="🎙 Mute")).to_be_visible()
    return host.url


def screenshot(page: Page, name: str, out: Path) -> Path:
    """A screenshot, into docs/screenshots/ when STOA_SCREENSHOTS=1 (to refresh the committed ones), else into
    `out` (so `make test` leaves the tree clean); the test then compares it loosely with the committed one."""
    folder = SCREENSHOTS if os.environ.get("STOA_SCREENSHOTS") == "1" else out
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    page.screenshot(path=str(path), animations="disabled")  # animations as they end (an endless one as it starts)
    return path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def check_screenshots(shots: Path, names: str = "*.png") -> None:
    """The screenshots a test took (`names` of them) look like the committed ones: same names and sizes (their
    pixels change with every run). With STOA_SCREENSHOTS=1 they are the committed ones."""
    for shot in sorted((shots if shots.exists() else SCREENSHOTS).glob(names)):
        committed = SCREENSHOTS / shot.name
        assert committed.exists(), f"new screenshot {shot.name}: refresh with STOA_SCREENSHOTS=1"
        assert png_size(shot) == png_size(committed), shot.name
