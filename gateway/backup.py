"""`stoa backup DEST` and `stoa restore SRC`: the data folder's database copied with SQLite's online backup API.

Backup: safe while a server runs and writes. The copy is made in one step of the backup API (`pages=-1`),
which reads the whole database inside one read transaction: in WAL mode that is one consistent snapshot (every
commit before it, none after), and the server's writers are not blocked meanwhile. The copy goes to
`DEST.partial`, is checked (`PRAGMA integrity_check`), synced, then renamed to DEST: a DEST that exists is whole.

Restore: refused while a server holds the data folder (its flock, gateway/datalock.py), since the server would
go on with the old data in memory. The source is checked (integrity, a schema this Stoa knows) before anything
is replaced; the lock is held for the whole copy, so no server can start on a half-restored folder.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from gateway.datalock import lock_data_folder
from store import SCHEMA_VERSION

DATABASE_FILE = "stoa.db"


class BackupError(Exception):
    """What went wrong, in one line for people."""


def backup(data: Path, dest: Path) -> int:
    """Copy `data`'s database to `dest` (a file, created or replaced); return its schema version."""
    source_path = data / DATABASE_FILE
    if not source_path.exists():
        raise BackupError(f"{source_path}: no database here")
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path)  # read-write: a WAL database's reader may need to create its -shm
    try:
        source.execute("PRAGMA busy_timeout = 5000")
        target = sqlite3.connect(partial)
        try:
            source.backup(target, pages=-1)
            version = _check(target, str(dest))
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            target.close()
    finally:
        source.close()
    os.chmod(partial, 0o600)  # it holds password hashes and the token secret
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    partial.replace(dest)
    return version


def restore(src: Path, data: Path) -> int:
    """Replace `data`'s database with the backup `src`; return its schema version.

    Error handling: `FolderBusy` (gateway/datalock.py) while a server uses `data`; `BackupError` for a source
    that is missing, damaged, or from a newer Stoa."""
    if not src.is_file():
        raise BackupError(f"{src}: no such file")
    with lock_data_folder(data):
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            version = _check(source, str(src))
            target_path = data / DATABASE_FILE
            if not target_path.exists():
                os.close(os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            target = sqlite3.connect(target_path)
            try:
                source.backup(target, pages=-1)  # through SQLite: its WAL and locks stay coherent
            finally:
                target.close()
        finally:
            source.close()
    return version


def _check(conn: sqlite3.Connection, name: str) -> int:
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{name}: not a Stoa database ({e})") from e
    if result != "ok":
        raise BackupError(f"{name}: damaged ({result})")
    if version > SCHEMA_VERSION:
        raise BackupError(f"{name}: schema {version} is newer than this Stoa's ({SCHEMA_VERSION})")
    if version == 0:
        raise BackupError(f"{name}: not a Stoa database (no schema)")
    return version
