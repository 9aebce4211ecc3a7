"""Ogg Opus files (RFC 7845 over the Ogg container of RFC 3533): `OggOpusWriter` records 48 kHz Opus packets as
a file any player reads (`opusinfo`, `opusdec`, browsers, VLC); `read_packets` gives back the audio packets of
such a file. Pure Python and small: pages of at most 255 segments, the Ogg CRC, granule positions counted from
each packet's own duration (its TOC byte, RFC 6716 section 3.1).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

SAMPLE_RATE = 48_000
PRE_SKIP = 312
"""Samples a decoder drops at the start: libopus' encoder look-ahead at 48 kHz (RFC 7845 section 4.2)."""
PACKETS_PER_PAGE = 50
"""One second of 20 ms packets per page: a page is on disk within a second of its audio."""
VENDOR = b"stoa"

_BOS, _EOS, _CONTINUED = 0x02, 0x04, 0x01


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, initial value 0."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[(crc >> 24) ^ byte]
    return crc


def packet_samples(packet: bytes) -> int:
    """Samples at 48 kHz in one Opus packet, from its TOC byte (and frame count byte); 0 if malformed."""
    if not packet:
        return 0
    config, code = packet[0] >> 3, packet[0] & 0x03
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        frame = (480, 960, 1920, 2880)[config & 3]
    elif config < 16:  # hybrid: 10, 20 ms
        frame = (480, 960)[config & 1]
    else:  # CELT: 2.5, 5, 10, 20 ms
        frame = (120, 240, 480, 960)[config & 3]
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    elif len(packet) < 2:
        return 0
    else:
        frames = packet[1] & 0x3F
    return frame * frames


def _page(header_type: int, granule: int, serial: int, sequence: int, packets: list[bytes]) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    if len(lacing) > 255:
        raise ValueError("too many segments for one Ogg page")
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, header_type, granule, serial, sequence, 0, len(lacing))
    page = bytearray(header + bytes(lacing) + b"".join(packets))
    struct.pack_into("<I", page, 22, ogg_crc(bytes(page)))
    return bytes(page)


class OggOpusWriter:
    """Writes one mono Opus stream to `out`. `write(packet)` per 20 ms packet, `close()` at the end (the last
    page carries the end-of-stream flag)."""

    def __init__(self, out: BinaryIO, *, serial: int = 0x5354_4F41, channels: int = 1) -> None:
        self._out = out
        self._serial = serial
        self._sequence = 0
        self._granule = PRE_SKIP
        self._pending: list[bytes] = []
        self._segments = 0
        head = struct.pack("<8sBBHIhB", b"OpusHead", 1, channels, PRE_SKIP, SAMPLE_RATE, 0, 0)
        tags = struct.pack("<8sI", b"OpusTags", len(VENDOR)) + VENDOR + struct.pack("<I", 0)
        self._emit(_BOS, 0, [head])
        self._emit(0, 0, [tags])
        self.closed = False

    def write(self, packet: bytes) -> None:
        """One Opus packet (1 to 1,275 bytes per frame, as the codec makes them)."""
        segments = len(packet) // 255 + 1
        if self._pending and (len(self._pending) >= PACKETS_PER_PAGE or self._segments + segments > 255):
            self._flush(0)
        self._pending.append(packet)
        self._segments += segments
        self._granule += packet_samples(packet)

    def close(self) -> None:
        """Write the last page (end of stream) and flush; the file is complete."""
        if not self.closed:
            self.closed = True
            self._flush(_EOS)
            self._out.flush()

    def _flush(self, flags: int) -> None:
        self._emit(flags, self._granule, self._pending)
        self._pending, self._segments = [], 0

    def _emit(self, header_type: int, granule: int, packets: list[bytes]) -> None:
        self._out.write(_page(header_type, granule, self._serial, self._sequence, packets))
        self._sequence += 1


def read_packets(data: bytes) -> Iterator[bytes]:
    """The audio packets of an Ogg Opus file's first stream (after OpusHead and OpusTags); `ValueError` if it
    is not one."""
    packets = _ogg_packets(data)
    head = next(packets, b"")
    if not head.startswith(b"OpusHead") or len(head) < 19:
        raise ValueError("not an Ogg Opus file (no OpusHead)")
    if not next(packets, b"").startswith(b"OpusTags"):
        raise ValueError("not an Ogg Opus file (no OpusTags)")
    yield from packets


def _ogg_packets(data: bytes) -> Iterator[bytes]:
    pos, partial, serial = 0, b"", None
    while pos < len(data):
        if data[pos : pos + 4] != b"OggS" or len(data) < pos + 27:
            raise ValueError(f"not an Ogg page at byte {pos}")
        header_type, page_serial, count = data[pos + 5], struct.unpack_from("<I", data, pos + 14)[0], data[pos + 26]
        lacing = data[pos + 27 : pos + 27 + count]
        body = pos + 27 + count
        if serial is None:
            serial = page_serial
        if page_serial == serial:
            if not header_type & _CONTINUED:
                partial = b""
            for size in lacing:
                partial += data[body : body + size]
                body += size
                if size < 255:
                    yield partial
                    partial = b""
        pos = pos + 27 + count + sum(lacing)
