"""The web client's `audioLevel` (web/js/mic.js, the `level` its `audio` messages carry), run in the real
browser: the same figure as the Python client's `stoa_protocol.audio_level` for the same samples, silence and
full scale included."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Page
from stoa_protocol import audio_level

from tests.audio import tone_frames
from tests.conftest import ServerProcess
from tests.web.browser import served_page

RNG = np.random.default_rng(7)
FRAMES = {
    "silence": np.zeros(960, dtype="<i2"),
    "full-scale": np.resize(np.array([32767, -32767], dtype="<i2"), 960),
    "tone": np.frombuffer(tone_frames(440.0, 0.02)[0], dtype="<i2"),
    "quiet-tone": np.frombuffer(tone_frames(440.0, 0.02, amplitude=0.003)[0], dtype="<i2"),
    "noise": RNG.integers(-2000, 2000, 960).astype("<i2"),
    "one-sample": np.eye(1, 960, 5, dtype="<i2")[0],
}


@pytest.fixture(scope="module")
def page(web_server: ServerProcess) -> Iterator[Page]:
    with served_page(f"http://127.0.0.1:{web_server.http_port}/") as page:
        page.evaluate("async () => { window.mic = await import('/js/mic.js'); }")
        yield page


@pytest.mark.parametrize("name", list(FRAMES))
def test_the_page_measures_a_packets_level_as_the_python_client_does(page: Page, name: str) -> None:
    samples = FRAMES[name]
    in_page = page.evaluate("(s) => mic.audioLevel(Float32Array.from(s, (x) => x / 32768))", samples.tolist())
    assert in_page == audio_level(samples.tobytes())
