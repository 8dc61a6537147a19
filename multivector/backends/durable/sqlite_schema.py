"""The SQLite file of a durable store: layout, format version, opening, error translation.

One file, ``multivector.sqlite3``, holds every collection of a folder (a ``collection_id`` column,
never a table or file named after a collection). SQL text is constant; every value (names,
uuids, properties, blobs) is a bound parameter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from multivector._version import __version__
from multivector.errors import StorageError, StorageFormatError, StoreLockedError

__all__ = [
    "DB_NAME",
    "FORMAT_VERSION",
    "Synchronous",
    "check_format",
    "connect_db",
    "translate_errors",
]

#: Bumped whenever the on-disk layout changes incompatibly; stores with a higher one are refused.
FORMAT_VERSION = 1
DB_NAME = "multivector.sqlite3"
_APPLICATION_ID = 0x4D564543  # "MVEC": marks the file as ours (PRAGMA application_id)

Synchronous = Literal["full", "normal"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS collections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        config TEXT NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        prune_seq INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS objects (
        collection_id INTEGER NOT NULL,
        uuid TEXT NOT NULL,
        seq INTEGER NOT NULL,
        properties TEXT NOT NULL,
        creation_time REAL,
        update_time REAL,
        PRIMARY KEY (collection_id, uuid))""",
    "CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (collection_id, seq)",
    """CREATE TABLE IF NOT EXISTS vectors (
        collection_id INTEGER NOT NULL,
        uuid TEXT NOT NULL,
        space TEXT NOT NULL,
        n_tokens INTEGER NOT NULL,
        dim INTEGER NOT NULL,
        dtype TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (collection_id, uuid, space))""",
    """CREATE TABLE IF NOT EXISTS deletions (
        collection_id INTEGER NOT NULL,
        uuid TEXT NOT NULL,
        seq INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS deletions_by_seq ON deletions (collection_id, seq)",
)


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Turn sqlite3 exceptions into the library's storage errors, naming ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        message = str(exc)
        lowered = message.lower()
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in lowered or "busy" in lowered):
            raise StoreLockedError(
                f"{path}: the database is locked by another connection ({message}); "
                "retry, or open with lock_timeout=seconds to wait longer"
            ) from exc
        if any(w in lowered for w in ("malformed", "not a database", "corrupt", "no such table")):
            raise StorageFormatError(
                f"{path} is damaged or not a multivector store ({message}); restore it from a "
                "backup made with client.backup(dest)"
            ) from exc
        raise StorageError(f"{path}: storage failed ({message})") from exc


def connect_db(
    path: Path, *, create: bool, synchronous: Synchronous, busy_timeout: float
) -> sqlite3.Connection:
    """Open (and when ``create``, initialise) the store file; checks its format version."""
    with translate_errors(path):
        fresh = not path.exists() or path.stat().st_size == 0
        if fresh and not create:
            raise StorageError(
                f"{path} does not exist; open the folder without read_only=True to create a store"
            )
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")  # an int, not input
            if fresh:
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StorageError(f"{path}: could not switch the database to WAL mode ({mode})")
            conn.execute("PRAGMA synchronous = " + ("FULL" if synchronous == "full" else "NORMAL"))
            if fresh:
                _initialise(conn)
            check_format(conn, path)
        except BaseException:
            conn.close()
            raise
        return conn


def _initialise(conn: sqlite3.Connection) -> None:

    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _DDL:
            conn.execute(statement)
        conn.executemany(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
            [("format_version", str(FORMAT_VERSION)), ("written_by", __version__)],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def check_format(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse files that are not ours or were written by a newer format version."""
    app_id = conn.execute("PRAGMA application_id").fetchone()
    if app_id is None or int(app_id[0]) != _APPLICATION_ID:
        raise StorageFormatError(
            f"{path} is an SQLite file but not a multivector store (application_id "
            f"{app_id[0] if app_id else None!r}); point connect() at a multivector folder"
        )
    rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    try:
        version = int(rows["format_version"])
    except (KeyError, ValueError):
        raise StorageFormatError(
            f"{path} has no valid format_version in its meta table; the file is damaged"
        ) from None
    if version > FORMAT_VERSION:
        raise StorageFormatError(
            f"{path} was written with store format version {version} (by multivector "
            f"{rows.get('written_by', '?')}); this multivector {__version__} reads format version "
            f"{FORMAT_VERSION} at most: upgrade multivector to {rows.get('written_by', 'a newer release')} "
            "or newer to open it"
        )
