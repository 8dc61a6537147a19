"""``SqliteCollectionStorage``: one collection's rows in the store file (the source of truth).

Every write is one transaction that also advances the collection's change sequence number
(``collections.last_seq``); each object row carries the ``seq`` of its last write and deletes are
logged with theirs, so another process catches up by reading what changed past the ``seq`` it
has seen. Token matrices are stored as raw little-endian float16/float32 bytes of the space's
dtype (int8 spaces as float16: the arena quantises on load); properties as JSON (DATE values as ISO 8601 strings, decoded back through the schema).
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from multivector.backends.durable.folder_cache import ArenaCache
from multivector.backends.durable.sqlite_db import Database
from multivector.backends.durable.sqlite_read import (
    DTYPES,
    STORED_DTYPES,
    date_properties,
    decode_properties,
    read_arenas,
)
from multivector.backends.embedded.storage import KeywordCache, Snapshot, StorageDelta
from multivector.backends.protocol import StoredObject
from multivector.errors import CollectionNotFoundError, StorageFormatError
from multivector.schema.config import CollectionConfig, Tokenization

__all__ = ["SqliteCollectionStorage", "decode_config"]

_OBJECT_COLUMNS = "uuid, seq, properties, creation_time, update_time"
_CHANGED_VECTORS = (
    "SELECT v.uuid, v.space, v.n_tokens, v.dim, v.dtype, v.data FROM objects AS o "
    "JOIN vectors AS v ON v.collection_id = o.collection_id AND v.uuid = o.uuid "
    "WHERE o.collection_id = ? AND o.seq > ? ORDER BY o.seq"
)


def decode_config(text: str, *, where: str) -> CollectionConfig:
    """A configuration from its stored JSON; StorageFormatError when damaged."""
    try:
        return CollectionConfig.from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        raise StorageFormatError(f"{where}: damaged collection configuration ({exc})") from None


def _usable_keyword(
    cached: dict[str, KeywordCache], config: CollectionConfig
) -> dict[str, KeywordCache]:
    """The cached BM25 postings still valid under ``config`` (searchable, same tokenization)."""
    out = {}
    for prop in config.properties:
        entry = cached.get(prop.name)
        if entry is not None and prop.data_type.is_text and prop.index_searchable:
            if entry.tokenization == (prop.tokenization or Tokenization.WORD).value:
                out[prop.name] = entry
    return out


def _encode_value(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} {value!r}")


class SqliteCollectionStorage:
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
            conn.execute("UPDATE collections SET config = ? WHERE id = ?", (text, self._id))
        self._config_text, self._config = text, config

    def write(self, *, upserts: Sequence[StoredObject], deletes: Sequence[str]) -> None:
        """Apply upserts and deletes in one transaction; durable when it returns."""
        dtypes = {
            v.name: STORED_DTYPES[v.dtype] for v in (self._config.vectors if self._config else ())
        }
        with self._db.writing() as conn:
            row = conn.execute(
                "SELECT last_seq FROM collections WHERE id = ?", (self._id,)
            ).fetchone()
            if row is None:
                raise CollectionNotFoundError(
                    f"collection #{self._id} was deleted by another client; reopen it"
                )
            seq = int(row[0])
            if deletes:
                keys = [(self._id, u) for u in deletes]
                conn.executemany("DELETE FROM objects WHERE collection_id = ? AND uuid = ?", keys)
                conn.executemany("DELETE FROM vectors WHERE collection_id = ? AND uuid = ?", keys)
                conn.executemany(
                    "INSERT INTO deletions (collection_id, uuid, seq) VALUES (?, ?, ?)",
                    [(self._id, u, seq + i + 1) for i, u in enumerate(deletes)],
                )
                seq += len(deletes)
            if upserts:
                keys = [(self._id, o.uuid) for o in upserts]
                conn.executemany("DELETE FROM vectors WHERE collection_id = ? AND uuid = ?", keys)
                conn.executemany(
                    "INSERT OR REPLACE INTO objects (collection_id, uuid, seq, properties, "
                    "creation_time, update_time) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            self._id,
                            o.uuid,
                            seq + i + 1,
                            json.dumps(o.properties, default=_encode_value),
                            o.creation_time,
                            o.update_time,
                        )
                        for i, o in enumerate(upserts)
                    ],
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors (collection_id, uuid, space, n_tokens, dim, "
                    "dtype, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (self._id, o.uuid, space, int(m.shape[0]), int(m.shape[1]), dt.name, blob)
                        for o in upserts
                        for space, m in o.vectors.items()
                        for dt in [dtypes.get(space, DTYPES["float32"])]
                        for blob in [np.ascontiguousarray(m, dtype=dt).tobytes()]
                    ],
                )
                seq += len(upserts)
            conn.execute("UPDATE collections SET last_seq = ? WHERE id = ?", (seq, self._id))
        self._seq = seq

    def compact(self, *, prune_log: bool) -> None:
        """Prune the deletion log (readers elsewhere then reload once) and free pages."""
        if prune_log:
            with self._db.writing() as conn:
                conn.execute("DELETE FROM deletions WHERE collection_id = ?", (self._id,))
                conn.execute(
                    "UPDATE collections SET prune_seq = last_seq WHERE id = ?", (self._id,)
                )
        self._db.vacuum()

    # ------------------------------------------------------------------- reads
    def load(self) -> Iterator[StoredObject]:
        """Every live object with its vectors, in write order."""
        snap = self.snapshot()
        for i, uuid in enumerate(snap.uuids):
            vectors = {}
            for name, packed in snap.arenas.items():
                start, end = int(packed.offsets[i]), int(packed.offsets[i + 1])
                if end > start:
                    vectors[name] = packed.rows(start, end)
            created, updated = snap.times[i]
            yield StoredObject(uuid, snap.properties[i], vectors, created, updated)

    def snapshot(self) -> Snapshot:
        """The whole collection, from the arena cache when it is current, else from the rows."""
        self._data_version = self._db.data_version()
        with self._db.reading(bulk=True) as conn:
            return self._snapshot(conn)

    def poll(self) -> StorageDelta | None:
        """What other connections committed since the last look (None: nothing)."""
        version = self._db.data_version()
        if version == self._data_version:
            return None
        self._data_version = version
        with self._db.reading() as conn:
            last_seq, config_text, prune_seq = self._collection_row(conn)
            if prune_seq <= self._seq:
                return self._delta(conn, last_seq=last_seq, config_text=config_text)
        # The deletion log was pruned past what we hold: reload it all (one bulk transaction).
        return StorageDelta(reload=self.snapshot())

    def _delta(
        self, conn: sqlite3.Connection, *, last_seq: int, config_text: str
    ) -> StorageDelta | None:
        delta = StorageDelta()
        if config_text != self._config_text:
            delta.config = self._set_config_text(config_text)
        if last_seq > self._seq:
            config = self._config
            assert config is not None  # set by the snapshot taken at construction
            rows = conn.execute(
                f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE collection_id = ? AND seq > ? "
                "ORDER BY seq",
                (self._id, self._seq),
            ).fetchall()
            vectors: dict[str, dict[str, npt.NDArray[np.float32]]] = {}
            for uuid, space, n, dim, dtype, data in conn.execute(
                _CHANGED_VECTORS, (self._id, self._seq)
            ):
                matrix = self._decode_matrix(uuid, n, dim, dtype, data)
                vectors.setdefault(uuid, {})[space] = matrix.astype(np.float32)
            delta.upserts = [
                StoredObject(
                    uuid, self._decode_props(uuid, text, config), vectors.get(uuid, {}), c, u
                )
                for uuid, _seq, text, c, u in rows
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
            self._seq = last_seq
        if delta.config is None and not delta.upserts and not delta.deletes:
            return None
        return delta

    # ----------------------------------------------------------------- helpers
    def _collection_row(self, conn: sqlite3.Connection) -> tuple[int, str, int]:
        row = conn.execute(
            "SELECT last_seq, config, prune_seq FROM collections WHERE id = ?", (self._id,)
        ).fetchone()
        if row is None:
            raise CollectionNotFoundError(
                f"this collection (#{self._id}) was deleted by another client"
            )
        return int(row[0]), str(row[1]), int(row[2])

    def _set_config_text(self, text: str) -> CollectionConfig:
        self._config = decode_config(text, where=str(self._db.file))
        self._config_text = text
        return self._config

    def _snapshot(self, conn: sqlite3.Connection) -> Snapshot:
        last_seq, config_text, _prune = self._collection_row(conn)
        config = self._set_config_text(config_text)
        dates, date_arrays = date_properties(config)
        file = self._db.file
        uuids: list[str] = []
        props: list[dict[str, Any]] = []
        times: list[tuple[float, float]] = []
        for uuid, _seq, text, created, updated in conn.execute(
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE collection_id = ? ORDER BY seq",
            (self._id,),
        ):
            uuids.append(uuid)
            props.append(
                decode_properties(uuid, text, date_props=dates, date_arrays=date_arrays, file=file)
            )
            times.append((created or 0.0, updated or 0.0))
        state = None
        if self._cache is not None:
            state = self._cache.load(self._id, seq=last_seq, uuids=uuids)
        arenas = state.arenas if state is not None else None
        keyword = _usable_keyword(state.keyword if state is not None else {}, config)
        searchable = {
            p.name for p in config.properties if p.data_type.is_text and p.index_searchable
        }
        self.cache_hit = (
            state is not None
            and (arenas is not None or not self._cache_tokens)
            and searchable <= keyword.keys()
        )
        if arenas is None:
            arenas = read_arenas(
                conn, collection_id=self._id, uuids=uuids, config=config, file=file
            )
        self._seq = last_seq
        return Snapshot(
            config=config,
            uuids=uuids,
            properties=props,
            times=times,
            arenas=arenas,
            keyword=keyword,
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
