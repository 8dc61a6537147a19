"""``SqliteCollectionStorage``: one collection's rows in the store file (the source of truth).

Every write is one transaction that also advances the collection's change sequence number
(``collections.last_seq``); each object row carries the ``seq`` of its last write and deletes are
logged with theirs, so another process catches up by reading what changed past the ``seq`` it
has seen. Token matrices are stored as raw little-endian float16/float32 bytes of the space's
dtype (int8 spaces as float16: the arena quantises on load); properties as JSON (DATE values as ISO 8601 strings, decoded back through the schema).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from multivector.backends.durable.checksums import (
    check_row,
    check_totals,
    object_crc,
    read_collection_row,
    vector_crc,
    write_collection_row,
)
from multivector.backends.durable.folder_cache import ArenaCache
from multivector.backends.durable.sqlite_db import Database
from multivector.backends.durable.sqlite_read import (
    DTYPES,
    STORED_DTYPES,
    date_properties,
    decode_properties,
    read_arenas,
)
from multivector.backends.durable.sqlite_write import write_changes
from multivector.backends.durable.storage_cache import (
    CacheSide,
    keyword_complete,
    usable_keyword,
)
from multivector.backends.embedded.storage import Snapshot, StorageDelta
from multivector.backends.protocol import StoredObject
from multivector.errors import StorageFormatError, StorageWarning
from multivector.schema.config import CollectionConfig

__all__ = ["SqliteCollectionStorage", "decode_config"]

_OBJECT_COLUMNS = "uuid, seq, properties, creation_time, update_time, crc"
_CHANGED_VECTORS = (
    "SELECT v.uuid, v.space, v.n_tokens, v.dim, v.dtype, v.data, v.crc FROM objects AS o "
    "JOIN vectors AS v ON v.collection_id = o.collection_id AND v.uuid = o.uuid "
    "WHERE o.collection_id = ? AND o.seq > ? ORDER BY o.seq"
)


def decode_config(text: str, *, where: str) -> CollectionConfig:
    """A configuration from its stored JSON; StorageFormatError when damaged."""
    try:
        return CollectionConfig.from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        raise StorageFormatError(f"{where}: damaged collection configuration ({exc})") from None


class SqliteCollectionStorage(CacheSide):
    """The durable side of one embedded collection (implements ``CollectionStorage``)."""

    def __init__(
        self, db: Database, collection_id: int, *, cache: ArenaCache | None = None
    ) -> None:
        self._db = db
        self._id = collection_id
        self._cache = cache
        self._seq = 0
        self._config_text = ""
        self._config: CollectionConfig | None = None
        self._data_version: int | None = None
        self._cache_tokens = cache is not None and cache.tokens
        #: Whether the last full load found everything in the cache (else it needs a rewrite).
        self.cache_hit = False
        #: Set by the background check of large cache files when one is damaged.
        self._cache_damage: str | None = None

    @property
    def collection_id(self) -> int:
        """The collection's row id (never reused, never derived from its name)."""
        return self._id

    @property
    def seq(self) -> int:
        """The change sequence number the in-memory state reflects."""
        return self._seq

    # ------------------------------------------------------------------ writes
    def prepare_write(self) -> None:
        """Take the folder's write lock (StoreLockedError when another client holds it)."""
        self._db.ensure_writer()

    def save_config(self, config: CollectionConfig) -> None:
        """Persist the configuration in its own transaction."""
        text = json.dumps(config.to_dict(), sort_keys=True)
        with self._db.writing() as conn:
            row = read_collection_row(conn, self._id, self._db.file)
            write_collection_row(conn, dataclasses.replace(row, config=text))
        self._config_text, self._config = text, config

    def write(
        self,
        *,
        upserts: Sequence[StoredObject],
        deletes: Sequence[str],
        kept: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """Apply upserts and deletes in one transaction; durable when it returns.

        ``kept`` names, per upserted uuid, the spaces whose stored rows stay as they are (an
        ``update`` that did not touch them: their float16 source rows are not rewritten from the
        int8 arena). Every row is written with its checksum, and the collection's counts and
        XORs follow, so a full load can tell a missing row from a present one.
        """
        kept = kept or {}
        latest = list({o.uuid: o for o in upserts}.values())  # a repeated uuid: the last wins
        deletes = list(dict.fromkeys(deletes))
        dtypes = {
            v.name: STORED_DTYPES[v.dtype] for v in (self._config.vectors if self._config else ())
        }
        with self._db.writing() as conn:
            seq = write_changes(
                conn,
                cid=self._id,
                file=self._db.file,
                upserts=latest,
                deletes=deletes,
                kept=kept,
                dtypes=dtypes,
            )
        self._seq = seq

    def reclaim(self) -> None:
        """Free pages and fold the WAL (background maintenance; only the writing client)."""
        if self._db.is_writer:
            self._db.vacuum(truncate=False)

    def compact(self, *, prune_log: bool) -> None:
        """Prune the deletion log (readers elsewhere then reload once) and free pages."""
        if prune_log:
            with self._db.writing() as conn:
                conn.execute("DELETE FROM deletions WHERE collection_id = ?", (self._id,))
                row = read_collection_row(conn, self._id, self._db.file)
                write_collection_row(conn, dataclasses.replace(row, prune_seq=row.last_seq))
        self._db.vacuum()

    # ------------------------------------------------------------------- reads
    def snapshot(self) -> Snapshot:
        """The whole collection, from the arena cache when it is current, else from the rows."""
        self._data_version = self._db.data_version()
        with self._db.reading(bulk=True) as conn:
            return self._snapshot(conn)

    def poll(self) -> StorageDelta | None:
        """What other connections committed since the last look (None: nothing)."""
        damage, self._cache_damage = self._cache_damage, None
        if damage is not None:  # the mapped cache failed its late CRC check: reload from SQLite
            warnings.warn(
                f"{damage}; reloading from {self._db.file} (the source of truth)",
                StorageWarning,
                stacklevel=2,
            )
            return StorageDelta(reload=self.snapshot())
        version = self._db.data_version()
        if version == self._data_version:
            return None
        # The version is recorded only once the change was read: a failed read (damage, an I/O
        # error) is tried again by the next call instead of being taken for "no change".
        with self._db.reading() as conn:
            row = read_collection_row(conn, self._id, self._db.file)
            if row.prune_seq <= self._seq:
                delta = self._delta(conn, last_seq=row.last_seq, config_text=row.config)
                self._data_version = version
                return delta
        # The deletion log was pruned past what we hold: reload it all (one bulk transaction).
        return StorageDelta(reload=self.snapshot())

    def _delta(
        self, conn: sqlite3.Connection, *, last_seq: int, config_text: str
    ) -> StorageDelta | None:
        delta = StorageDelta()
        config = self._config
        if config_text != self._config_text:
            config = delta.config = decode_config(config_text, where=str(self._db.file))
        if last_seq > self._seq and config is not None:  # config: set by the first snapshot
            rows = conn.execute(
                f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE collection_id = ? AND seq > ? "
                "ORDER BY seq",
                (self._id, self._seq),
            ).fetchall()
            vectors: dict[str, dict[str, npt.NDArray[np.float32]]] = {}
            for uuid, space, n, dim, dtype, data, crc in conn.execute(
                _CHANGED_VECTORS, (self._id, self._seq)
            ):
                self._check_vector(uuid, space, n, dim, dtype, data, crc)
                matrix = self._decode_matrix(uuid, n, dim, dtype, data)
                vectors.setdefault(uuid, {})[space] = matrix.astype(np.float32)
            for uuid, seq, text, c, u, crc in rows:
                self._check_object(uuid, seq, text, c, u, crc)
            delta.upserts = [
                StoredObject(
                    uuid, self._decode_props(uuid, text, config), vectors.get(uuid, {}), c, u
                )
                for uuid, _seq, text, c, u, _crc in rows
            ]
            changed = {o.uuid for o in delta.upserts}
            delta.deletes = [
                u
                for (u,) in conn.execute(
                    "SELECT uuid FROM deletions WHERE collection_id = ? AND seq > ? ORDER BY seq",
                    (self._id, self._seq),
                )
                if u not in changed
            ]
        # Everything was read and checked: only now does this storage move past it.
        self._seq = max(self._seq, last_seq)
        if delta.config is not None:
            self._config, self._config_text = delta.config, config_text
        if delta.config is None and not delta.upserts and not delta.deletes:
            return None
        return delta

    # ----------------------------------------------------------------- helpers
    def _check_object(
        self,
        uuid: str,
        seq: int,
        text: str,
        created: float | None,
        updated: float | None,
        crc: int | None,
    ) -> int:
        actual = object_crc(uuid, seq, text, created, updated)
        what = f"the row of object {uuid!r} (its properties, timestamps or sequence number)"
        check_row(crc, actual, what, self._db.file)
        return actual

    def _check_vector(
        self, uuid: str, space: str, n: int, dim: int, dtype: str, data: bytes, crc: int | None
    ) -> None:
        if not isinstance(data, bytes):
            raise StorageFormatError(
                f"{self._db.file}: the stored matrix of object {uuid!r} is damaged (not a blob)"
            )
        actual = vector_crc(uuid, space, n, dim, dtype, data)
        check_row(crc, actual, f"the matrix of object {uuid!r} in vector {space!r}", self._db.file)

    def _set_config_text(self, text: str) -> CollectionConfig:
        self._config = decode_config(text, where=str(self._db.file))
        self._config_text = text
        return self._config

    def _snapshot(self, conn: sqlite3.Connection) -> Snapshot:
        row = read_collection_row(conn, self._id, self._db.file)
        last_seq = row.last_seq
        if row.checksums and json.loads(row.config).get("name") != row.name:
            raise StorageFormatError(
                f"{self._db.file}: the row of collection {row.name!r} is damaged (its name and "
                "its configuration disagree)"
            )
        config = self._set_config_text(row.config)
        cached = self._cached_snapshot(row, config)
        if cached is not None:
            return cached
        dates, date_arrays = date_properties(config)
        file = self._db.file
        uuids: list[str] = []
        props: list[dict[str, Any]] = []
        times: list[tuple[float, float]] = []
        n_objects = objects_xor = 0
        seqs: list[int] = []
        for uuid, seq, text, created, updated, crc in conn.execute(
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE collection_id = ? ORDER BY seq",
            (self._id,),
        ):
            objects_xor ^= self._check_object(uuid, seq, text, created, updated, crc)
            n_objects += 1
            uuids.append(uuid)
            seqs.append(seq)
            props.append(
                decode_properties(uuid, text, date_props=dates, date_arrays=date_arrays, file=file)
            )
            times.append((created or 0.0, updated or 0.0))
        check_totals(row, "objects", n_objects, objects_xor, file)
        state = None
        if self._cache is not None:
            state = self._cache.load(
                self._id, seq=last_seq, uuids=uuids, tokens=self._cache.keeps_tokens_for(config)
            )
            if self._cache.last_problem is not None:
                warnings.warn(
                    f"{self._cache.last_problem}; rebuilding it from {file} (the source of truth)",
                    StorageWarning,
                    stacklevel=2,
                )
        if state is not None and state.unverified and self._cache is not None:
            self._verify_later(self._cache, state.unverified)
        arenas = state.arenas if state is not None else None
        keyword = usable_keyword(state.keyword if state is not None else {}, config)
        if self._cache is not None:
            self._cache_tokens = self._cache.keeps_tokens_for(config)
        self.cache_hit = (
            state is not None
            and (arenas is not None or not self._cache_tokens)
            and keyword_complete(config, keyword)
            and self._cache is not None
            and self._cache.has_objects(self._id)  # a cache of an older layout is rewritten
        )
        if arenas is None:
            arenas = read_arenas(
                conn, collection_id=self._id, uuids=uuids, config=config, file=file, row=row
            )
        self._seq = last_seq
        return Snapshot(
            config=config,
            uuids=uuids,
            properties=props,
            times=times,
            arenas=arenas,
            keyword=keyword,
            indexes=state.indexes if state is not None and state.arenas is not None else {},
            stale_indexes={} if state is not None else self._stale_indexes(uuids, seqs),
        )

    def _decode_matrix(
        self, uuid: str, n: int, dim: int, dtype: str, data: bytes
    ) -> npt.NDArray[np.floating]:
        dt = DTYPES.get(dtype)
        if dt is None or not isinstance(data, bytes) or len(data) != n * dim * dt.itemsize:
            raise StorageFormatError(
                f"{self._db.file}: the stored matrix of object {uuid!r} is damaged "
                f"(dtype {dtype!r}, {n}x{dim}, {len(data) if isinstance(data, bytes) else '?'} bytes)"
            )
        return np.frombuffer(data, dtype=dt).reshape(n, dim)

    def _decode_props(self, uuid: str, text: str, config: CollectionConfig) -> dict[str, Any]:
        dates, date_arrays = date_properties(config)
        return decode_properties(
            uuid, text, date_props=dates, date_arrays=date_arrays, file=self._db.file
        )
