"""Replays: what people do with recordings once made. Download links for the HTTP port (`_links.py`), where
the files are (`_files.py`), and the retention sweeper (`_retention.py`). The requests are
`gateway/handlers/recordings.py`, the download route `gateway/http/recordings.py`; docs/recording.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.replays._files import RECORDINGS_DIR, part_file, recording_dir, remove_recording_files
from gateway.replays._links import LINK_LIFETIME_S, RECORDING_ID, Link, LinkRefused, RecordingLinks, Scope
from gateway.replays._retention import DAY_S, RETENTION_DAYS, Retention, Swept

__all__ = [
    "DAY_S",
    "LINK_LIFETIME_S",
    "RECORDINGS_DIR",
    "RECORDING_ID",
    "RETENTION_DAYS",
    "Link",
    "LinkRefused",
    "RecordingLinks",
    "Replays",
    "Retention",
    "Scope",
    "Swept",
    "part_file",
    "recording_dir",
    "remove_recording_files",
]


@dataclass(frozen=True)
class Replays:
    """What the requests about recordings and the download route share: the data folder and the links."""

    data_dir: Path
    links: RecordingLinks
