"""The durable embedded store: ``multivector.connect(path)``.

A folder holds ``multivector.sqlite3`` (SQLite in WAL mode, the source of truth for every
collection, object, property and token matrix), ``write.lock`` (the single-writer lock) and
``cache/`` (memory-mapped arena files that make a reopen fast; derived data, rebuilt when stale).
Collections are served from memory by :class:`~multivector.backends.embedded.collection.EmbeddedCollection`,
which writes through :class:`~multivector.backends.durable.sqlite_storage.SqliteCollectionStorage` before
changing anything in memory. See ``docs/persistence.md``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multivector.backends.durable.checksums import CollectionRow, write_collection_row
from multivector.backends.durable.folder_cache import ArenaCache
from multivector.backends.durable.sqlite_db import LOCK_NAME, Database, WriterLock
from multivector.backends.durable.sqlite_schema import (
    DB_NAME,
    FORMAT_VERSION,
    Synchronous,
    check_format,
    connect_db,
    translate_errors,
)
from multivector.backends.durable.sqlite_storage import SqliteCollectionStorage, decode_config
from multivector.backends.durable.upgrade import upgrade
from multivector.backends.embedded.ann_index import check_index_configs
from multivector.backends.embedded.collection import EmbeddedCollection
from multivector.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    StorageError,
    StorageWarning,
)
from multivector.results import VerifyReport
from multivector.schema.config import CollectionConfig

__all__ = ["DurableClient", "open_durable_client"]


def open_durable_client(
    path: str | os.PathLike[str],
    *,
    read_only: bool = False,
    lock_timeout: float = 0.0,
    synchronous: Synchronous = "full",
    mmap_cache: bool = False,
    busy_timeout: float = 30.0,
) -> DurableClient:
    """Open (creating unless ``read_only``) the durable store in folder ``path``.

    ``lock_timeout``: seconds a first write waits for another writing client before raising
    :class:`~multivector.errors.StoreLockedError` (0: fail at once). ``synchronous="full"``
    (default) makes every acknowledged write survive power loss; ``"normal"`` survives process
    crashes only and writes faster. ``mmap_cache=False`` keeps no arena cache (smaller folder,
    slower reopen).
    """
    folder = _validate_folder(path)
    if synchronous not in ("full", "normal"):
        raise ConfigError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
    if not (lock_timeout >= 0 and busy_timeout >= 0):
        raise ConfigError(
            f"lock_timeout and busy_timeout must be >= 0 seconds, got {lock_timeout!r}, {busy_timeout!r}"
        )
    if not read_only:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the store folder {folder}: {exc}") from exc
    elif not folder.is_dir():
        raise StorageError(
            f"{folder} is not a store folder; open it without read_only to create one"
        )
    conn = connect_db(
        folder / DB_NAME,
        create=not read_only,
        synchronous=synchronous,
        busy_timeout=busy_timeout,
        read_only=read_only,
    )
    writer = WriterLock(folder / LOCK_NAME, timeout=lock_timeout)
    if not read_only:
        version = check_format(conn, folder / DB_NAME)
        if version < FORMAT_VERSION:  # upgrade in place, holding the write lock
            try:
                writer.acquire()
                upgrade(conn, folder / DB_NAME, version, FORMAT_VERSION)
            except BaseException:
                writer.release()
                conn.close()
                raise
    db = Database(conn, file=folder / DB_NAME, writer=writer, read_only=read_only)
    return DurableClient(folder, db, cache=ArenaCache(folder, tokens=mmap_cache))


def _validate_folder(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"connect(path=...) takes a folder path, got {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise ConfigError(
            f"invalid store path {text!r}: pass a non-empty folder path without NUL bytes"
        )
    folder = Path(text).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file; connect(path=...) takes a folder")
    return folder


class DurableClient:
    """Collections of one store folder (implements ``ClientBackend``)."""

    def __init__(self, folder: Path, db: Database, *, cache: ArenaCache) -> None:
        self._folder = folder
        self._db = db
        self._cache = cache
        self._open: dict[str, tuple[int, EmbeddedCollection, SqliteCollectionStorage]] = {}
        #: One in-memory collection per stored one, even when threads open it at once.
        self._attach_lock = threading.RLock()

    def _rows(self) -> dict[str, tuple[int, str]]:
        with self._db.reading() as conn:
            return {
                name: (int(cid), config)
                for cid, name, config in conn.execute("SELECT id, name, config FROM collections")
            }

    def create_collection(self, config: CollectionConfig) -> EmbeddedCollection:
        """Create an empty collection (one transaction)."""
        check_index_configs(config)
        text = json.dumps(config.to_dict(), sort_keys=True)
        try:
            with self._db.writing() as conn:
                cursor = conn.execute(
                    "INSERT INTO collections (name, config) VALUES (?, ?)", (config.name, text)
                )
                cid = int(cursor.lastrowid or 0)
                write_collection_row(conn, CollectionRow(id=cid, name=config.name, config=text))
        except StorageError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):  # created meanwhile elsewhere
                raise CollectionExistsError(
                    f"a collection named {config.name!r} was just created by another client; "
                    f"open it with client.collections.use({config.name!r})"
                ) from exc
            raise
        with self._attach_lock:
            return self._attach(config, cid)

    def _attach(self, config: CollectionConfig, cid: int) -> EmbeddedCollection:
        storage = SqliteCollectionStorage(self._db, cid, cache=self._cache)
        col = EmbeddedCollection(config, storage=storage)
        replaced = self._open.get(config.name)
        if replaced is not None:  # the stored collection was deleted and re-created
            replaced[1].drop()
        self._open[config.name] = (cid, col, storage)
        return col

    def open_collection(self, name: str) -> EmbeddedCollection:
        """Open an existing collection (loaded on first use, then kept in memory)."""
        with self._attach_lock:
            row = self._rows().get(name)
            if row is None:
                held = self._open.pop(name, None)
                if held is not None:
                    held[1].drop()
                raise CollectionNotFoundError(f"no collection named {name!r} in {self._folder}")
            cid, text = row
            held = self._open.get(name)
            if held is not None and held[0] == cid:
                return held[1]
            return self._attach(decode_config(text, where=str(self._db.file)), cid)

    def list_collections(self) -> dict[str, CollectionConfig]:
        """Every collection's configuration, by name (as committed, from any process)."""
        out: dict[str, CollectionConfig] = {}
        for name, (cid, text) in self._rows().items():
            held = self._open.get(name)
            if held is not None and held[0] == cid:
                out[name] = held[1].config
            else:
                out[name] = decode_config(text, where=str(self._db.file))
        return out

    def delete_collection(self, name: str) -> None:
        """Delete a collection and all its rows in one transaction, then its cache."""
        with self._db.writing() as conn:
            row = conn.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
            if row is None:
                return
            cid = int(row[0])
            for statement in (
                "DELETE FROM vectors WHERE collection_id = ?",
                "DELETE FROM objects WHERE collection_id = ?",
                "DELETE FROM deletions WHERE collection_id = ?",
                "DELETE FROM collections WHERE id = ?",
            ):
                conn.execute(statement, (cid,))
        held = self._open.pop(name, None)
        if held is not None:
            held[1].drop()
        self._cache.drop(cid)

    def backup(self, dest: str | Path) -> None:
        """Write a consistent copy of the store file into folder ``dest`` while reads go on.

        The copy is one read transaction of SQLite's online backup (writers in other processes
        are not blocked; the copy shows the last commit before it began). ``dest`` must not hold
        a store already. The arena cache is not copied; the copy rebuilds it on first open.
        """
        target_dir = _validate_folder(dest)
        if target_dir.resolve() == self._folder.resolve():
            raise ConfigError(
                f"backup destination {target_dir} is the store itself; pick another folder"
            )
        target = target_dir / DB_NAME
        if target.exists():
            raise ConfigError(f"{target} exists; back up into an empty or new folder")
        target_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".backup-", suffix=".tmp", dir=target_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            with translate_errors(self._db.file):
                source = sqlite3.connect(str(self._db.file), isolation_level=None)
                copy = sqlite3.connect(str(tmp), isolation_level=None)
                try:
                    source.backup(copy)
                    copy.execute("PRAGMA journal_mode = DELETE").fetchall()
                finally:
                    copy.close()
                    source.close()
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def close(self) -> None:
        """Refresh the arena cache of collections this writer changed, then release everything
        (the connection and the write lock are released even when a step before fails).
        """
        try:
            for _cid, col, _storage in self._open.values():
                col.stop_maintenance()  # background work ends before the connection does
            try:
                self._save_caches(self._cache)
            except OSError as exc:  # the cache is derived data: the next open rebuilds it
                warnings.warn(
                    f"could not refresh the cache of {self._folder} ({exc}); the next open "
                    "rebuilds it from the store file",
                    StorageWarning,
                    stacklevel=2,
                )
            if self._db.is_writer:
                self._db.vacuum()
        finally:
            for _cid, col, _storage in self._open.values():
                col.close()
            self._open.clear()
            self._db.close()

    def _save_caches(self, cache: ArenaCache) -> None:
        stale = [
            (cid, col, storage)
            for cid, col, storage in self._open.values()
            if not (storage.cache_hit and cache.is_current(cid, seq=storage.seq)) or col.index_dirty
        ]
        # Only the writer writes the cache; a reading client becomes it briefly when it is free.
        if not stale or not self._db.try_writer():
            return
        for _cid, col, storage in stale:
            # Snapshot, postings and sequence number under the collection's lock, so a write from
            # another thread during close() cannot slip between them and mis-stamp the cache.
            with col.lock:
                snap = col.export_snapshot()  # refreshes and compacts first: storage.seq is current
                postings = col.keyword_postings()
                seq = storage.seq
            storage.save_cache(snap, postings, seq=seq)

    def verify(self) -> VerifyReport:
        """Check the whole store: SQLite's integrity check, every row's checksum and every
        collection's row count (a full load from the store file), and every cache file's CRC.
        """
        report = VerifyReport(str(self._folder))
        try:
            with self._db.reading() as conn:
                result = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        except StorageError as exc:
            report.problems.append(str(exc))
            return report
        if result != ["ok"]:
            report.problems.extend(f"{self._db.file}: {line}" for line in result[:20])
        for name, (cid, _text) in sorted(self._rows().items()):
            try:
                snap = SqliteCollectionStorage(self._db, cid, cache=None).snapshot()
                report.objects[name] = len(snap.uuids)
            except StorageError as exc:
                report.problems.append(f"collection {name!r}: {exc}")
            report.problems.extend(self._cache.verify(cid))
        return report

    def describe(self) -> Mapping[str, Any]:
        """Backend name and folder."""
        return {"backend": "embedded", "path": str(self._folder), "writer": self._db.is_writer}
