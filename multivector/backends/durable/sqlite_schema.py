"""The SQLite file of a durable store: layout, format version, opening, error translation.

One file, ``multivector.sqlite3``, holds every collection of a folder (a ``collection_id`` column,
never a table or file named after a collection). SQL text is constant; every value (names,
uuids, properties, blobs) is a bound parameter.
"""

from __future__ import annotations

import os
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

#: Bumped whenever the on-disk layout changes; stores with a higher one are refused, stores
#: with a lower one are upgraded by their first writable open (format 2 added row checksums).
FORMAT_VERSION = 2
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
        prune_seq INTEGER NOT NULL DEFAULT 0,
        n_objects INTEGER,
        objects_xor INTEGER,
        n_vectors INTEGER,
        vectors_xor INTEGER,
        crc INTEGER)""",
    """CREATE TABLE IF NOT EXISTS objects (
        collection_id INTEGER NOT NULL,
        uuid TEXT NOT NULL,
        seq INTEGER NOT NULL,
        properties TEXT NOT NULL,
        creation_time REAL,
        update_time REAL,
        crc INTEGER,
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
        crc INTEGER,
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
    path: Path,
    *,
    create: bool,
    synchronous: Synchronous,
    busy_timeout: float,
    read_only: bool = False,
) -> sqlite3.Connection:
    """Open (and when ``create``, initialise) the store file; checks its format version.

    A new store is initialised in a temporary file and renamed into place, so a store file that
    exists is never empty: a 0-byte (or foreign) file is refused, not re-created. ``read_only``
    opens with ``mode=ro`` (never writing, not even the WAL mode switch), and on read-only media,
    where SQLite cannot create the WAL's shared-memory file, falls back to ``immutable=1``.
    """
    with translate_errors(path):
        if path.exists():
            if path.stat().st_size == 0:
                raise StorageFormatError(
                    f"{path} is empty (0 bytes): the store file was truncated or replaced; "
                    "restore it from a backup made with client.backup(dest), or remove it to "
                    "start an empty store"
                )
        elif not create:
            raise StorageError(
                f"{path} does not exist; open the folder without read_only=True to create a store"
            )
        else:
            _create_file(path, synchronous=synchronous)
        conn = _open(path, read_only=read_only, busy_timeout=busy_timeout)
        try:
            version = check_format(
                conn, path
            )  # before anything writes: a foreign file stays as it was
            if not read_only:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise StorageError(
                        f"{path}: could not switch the database to WAL mode ({mode})"
                    )
                conn.execute(
                    "PRAGMA synchronous = " + ("FULL" if synchronous == "full" else "NORMAL")
                )
            if version < FORMAT_VERSION and read_only:
                raise StorageFormatError(
                    f"{path} was written by an older multivector (store format {version}); open "
                    "it once without read_only=True to upgrade it in place, then read it"
                )
        except BaseException:
            conn.close()
            raise
        return conn


def _open(path: Path, *, read_only: bool, busy_timeout: float) -> sqlite3.Connection:
    if not read_only:
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout
        )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")  # an int, not input
        return conn
    uri = path.resolve().as_uri()
    try:
        return _connect_uri(uri + "?mode=ro", busy_timeout)
    except sqlite3.OperationalError as exc:
        if not _read_only_media(exc):
            raise
    # Read-only media: SQLite cannot create the WAL's -shm file; nothing can change the file.
    return _connect_uri(uri + "?mode=ro&immutable=1", busy_timeout)


def _connect_uri(uri: str, busy_timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(
        uri, uri=True, isolation_level=None, check_same_thread=False, timeout=busy_timeout
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")  # an int, not input
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _read_only_media(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` says the WAL's side files cannot be made (a read-only file system)."""
    text = str(exc).lower()
    return any(w in text for w in ("readonly", "read-only", "unable to open"))


def _create_file(path: Path, *, synchronous: Synchronous) -> None:
    """Initialise a new store in a temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(path.name + ".new")
    for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        leftover.unlink(missing_ok=True)
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        _initialise(conn)
    finally:
        conn.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


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
        if conn.in_transaction:  # SQLite may have rolled back already (full disk, I/O error)
            conn.execute("ROLLBACK")
        raise


def check_format(conn: sqlite3.Connection, path: Path) -> int:
    """The file's format version; refuses files that are not ours, or of a newer format."""
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
    if version < 1:
        raise StorageFormatError(
            f"{path} has format_version {version} in its meta table; the file is damaged"
        )
    return version
