"""Where a recording's files are in the data folder, and their removal. Paths come from the store's records
(`recordings/<recording_id>/part-<n>.opus`, relative to the data folder) and are checked to stay inside the
recordings folder before anything is read or deleted."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import trio

from gateway.replays._links import RECORDING_ID

RECORDINGS_DIR = "recordings"


def recordings_root(data_dir: Path) -> Path:
    return data_dir / RECORDINGS_DIR


def recording_dir(data_dir: Path, recording_id: str) -> Path:
    """The folder of one recording's parts; `ValueError` for an id the server would never issue."""
    if not RECORDING_ID.fullmatch(recording_id):
        raise ValueError(f"not a recording id: {recording_id!r}")
    return recordings_root(data_dir) / recording_id


def part_file(data_dir: Path, stored_path: str) -> Path | None:
    """The file of a part as the store names it, or None if the name would lead outside the recordings folder."""
    root = recordings_root(data_dir).resolve()
    path = (data_dir / stored_path).resolve()
    return path if path.is_relative_to(root) and path != root else None


async def remove_recording_files(data_dir: Path, recording_id: str, paths: Sequence[str] = ()) -> bool:
    """Delete the files the store names for the recording (`paths`, relative to the data folder), then its
    folder with anything left in it, in a worker thread. Files already gone are no error. False if nothing
    was there."""
    folder = recording_dir(data_dir, recording_id)
    files = [f for f in (part_file(data_dir, path) for path in paths) if f is not None]

    def remove() -> bool:
        found = False
        for f in files:
            try:
                f.unlink()
                found = True
            except FileNotFoundError:
                pass
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            found = True
        return found

    return await trio.to_thread.run_sync(remove)


async def recording_folders(data_dir: Path) -> list[tuple[str, float]]:
    """Every recording folder on disk with its last modification (unix s): what the sweeper checks for
    folders no record names any more (a delete cut off between the record and the files)."""
    root = recordings_root(data_dir)

    def scan() -> list[tuple[str, float]]:
        if not root.is_dir():
            return []
        found = []
        for entry in root.iterdir():
            if not (RECORDING_ID.fullmatch(entry.name) and entry.is_dir()):
                continue
            try:  # a folder deleted meanwhile (a host's delete) is simply not found
                newest = max([entry.stat().st_mtime, *(f.stat().st_mtime for f in entry.iterdir())])
            except FileNotFoundError:
                continue
            found.append((entry.name, newest))
        return found

    return await trio.to_thread.run_sync(scan)
