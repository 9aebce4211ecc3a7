"""The browser's Opus decoder, WebCodecs' `AudioDecoder` configured as the web client's player configures it,
takes the one-byte stand-in frames the server sends at a turn's end (docs/protocol.md, `audio`: the speaker's
TOC byte with no frame data) as lost frames: each gives 20 ms of concealment that carries on the voice it
decoded, with no error, as libopus conceals the same stream."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Page

from mixer import FRAME_SAMPLES, Decoder
from tests.audio import encode_tone
from tests.conftest import ServerProcess
from tests.web.browser import served_page

A_HZ = 440.0

DECODE = """async (packets) => {
  const out = [];
  let error = null;
  const decoder = new AudioDecoder({
    output: (data) => {
      const pcm = new Float32Array(data.numberOfFrames);
      data.copyTo(pcm, { planeIndex: 0, format: "f32-planar" });
      out.push(Array.from(pcm));
      data.close();
    },
    error: (e) => { error = String(e); },
  });
  decoder.configure({ codec: "opus", sampleRate: 48000, numberOfChannels: 1 });
  packets.forEach((p, i) =>
    decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: i * 20000, data: new Uint8Array(p) })));
  await decoder.flush().catch((e) => { error = error || String(e); });
  return { out, error, state: decoder.state };
}"""


@pytest.fixture(scope="module")
def page(web_server: ServerProcess) -> Iterator[Page]:
    with served_page(f"http://127.0.0.1:{web_server.http_port}/") as page:
        yield page


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def share_at(x: np.ndarray, hz: float) -> float:
    """The share of `x`'s energy within 60 Hz of `hz`."""
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 48_000)
    return float(power[np.abs(freqs - hz) < 60].sum() / power.sum())


def test_the_browsers_decoder_conceals_stand_ins_as_libopus_conceals_the_stream(page: Page) -> None:
    packets = encode_tone(A_HZ, 0.4)
    stand_in = bytes([packets[-1][0] & 0xFC])  # the server's: the last packet's TOC, frame count code 0
    got = page.evaluate(DECODE, [list(p) for p in [*packets, stand_in, stand_in, stand_in]])
    assert got["error"] is None and got["state"] == "configured", got["error"]
    frames = [np.array(f) for f in got["out"]]
    assert [len(f) for f in frames] == [FRAME_SAMPLES] * (len(packets) + 3), "one 20 ms frame a chunk"

    tone, concealed = frames[len(packets) - 1], frames[len(packets)]
    # The voice carries on into the first stand-in: the tone, near its level (not silence, not a click).
    assert rms(concealed) > 0.3 * rms(tone), (rms(concealed), rms(tone))
    assert share_at(concealed, A_HZ) > 0.8, share_at(concealed, A_HZ)
    # What libopus makes of the same stream with those frames lost: the same concealment, within float rounding.
    decoder = Decoder()
    for p in packets:
        decoder.decode(p)
    reference = np.frombuffer(decoder.decode(None), dtype="<i2") / 32768.0
    assert np.max(np.abs(concealed - reference)) < 0.01, np.max(np.abs(concealed - reference))
