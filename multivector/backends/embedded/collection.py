"""The embedded backend: in-process collections over token arenas, BM25 indexes and filters.

Each object lives in a *slot* (an append-only row id). Replacing an object tombstones its old
slot and appends a new one, so every index (arenas, BM25, property columns) changes together;
:meth:`EmbeddedCollection.compact` drops dead slots from all of them at once. An optional
:class:`CollectionStorage` makes the collection durable: every change is written there first, in
one transaction, and applied in memory only after it committed. Every operation starts by polling
the storage for changes other processes committed (a cheap check when nothing changed), so readers
in other processes follow a writer.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from multivector._types import BoolArray, F32Array, I64Array
from multivector.backends.embedded.ann_spaces import SpaceIndexes
from multivector.backends.embedded.arena import TokenArena, arenas_from_packed
from multivector.backends.embedded.bm25 import BM25Index
from multivector.backends.embedded.bm25_postings import BulkPostings
from multivector.backends.embedded.checkpoint import Checkpoints
from multivector.backends.embedded.maintenance import Maintenance
from multivector.backends.embedded.reads import EmbeddedReads
from multivector.backends.embedded.storage import CollectionStorage, Snapshot
from multivector.backends.protocol import ObjectRecord, StoredObject
from multivector.errors import CollectionNotFoundError, ConfigError
from multivector.schema.config import CollectionConfig, Tokenization
from multivector.text.stopwords import Stopwords
from multivector.text.tokenize import tokenize_value

__all__ = ["CollectionStorage", "EmbeddedCollection"]

#: Compact automatically once this fraction of slots is dead (and at least _MIN_DEAD slots).
AUTO_COMPACT_RATIO = 0.5
_MIN_DEAD = 1024


class EmbeddedCollection(Checkpoints, EmbeddedReads):
    """One collection held in memory (optionally backed by durable storage)."""

    def __init__(
        self, config: CollectionConfig, *, storage: CollectionStorage | None = None
    ) -> None:
        self._lock = threading.RLock()
        self._config = config
        self._storage = storage
        self._uuids: list[str | None] = []
        self._slot_of: dict[str, int] = {}
        self._props: list[dict[str, Any] | None] = []
        self._times: list[tuple[float, float]] = []
        self._alive: BoolArray = np.zeros(0, dtype=np.bool_)
        self._n_dead = 0
        self._columns: dict[str, list[Any]] = {}
        self._arenas: dict[str, TokenArena] = {}
        self._bm25: dict[str, BM25Index] = {}
        self._ann = SpaceIndexes()  # approximate search (derived data)
        self._stopwords = Stopwords.from_config(config.inverted_index)
        #: Set when the collection was deleted (here or by another client): every call raises.
        self._dropped = False
        #: Set when memory may lag the storage (applying a committed write failed): reload.
        self._stale = False
        self._maintenance = Maintenance(config.name)
        self._closed = False
        self._sync_indexes()
        if storage is not None:
            self._install(storage.snapshot())

    @property
    def lock(self) -> threading.RLock:
        """The lock every read and write of this collection holds (for consistent snapshots)."""
        return self._lock

    # ----------------------------------------------------------------- config
    @property
    def config(self) -> CollectionConfig:
        """The collection's configuration."""
        with self._lock:
            self._refresh()
            return self._config

    @property
    def known_config(self) -> CollectionConfig:
        """The configuration as last seen (no refresh: what a query plan is validated against)."""
        return self._config

    def set_config(self, config: CollectionConfig) -> None:
        """Replace the configuration (persisted first when durable)."""
        with self.write_transaction():
            if self._storage is not None:
                self._storage.save_config(config)
            self._config = config
            self._sync_indexes()

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """Exclusive access from a write's first read to its commit: the collection lock (and,
        when durable, the folder's write lock), with this process up to date. Every write verb
        runs in one, so concurrent writes are serialisable; reads inside it are reentrant.
        """
        with self._lock:
            if self._storage is not None:
                self._storage.prepare_write()
            self._refresh()
            yield

    def drop(self) -> None:
        """Mark the collection deleted: every later call on it raises CollectionNotFoundError."""
        with self._lock:
            self._dropped = True
        self._maintenance.stop(run_pending=False)

    # ---------------------------------------------------------------- storage
    def _refresh(self) -> None:
        """Apply what other processes committed since the last look (caller holds the lock)."""
        if self._dropped:
            raise CollectionNotFoundError(
                f"collection {self._config.name!r} was deleted; open it again with "
                f"client.collections.use({self._config.name!r}) if it was re-created"
            )
        if self._closed:
            raise ConfigError(
                f"the client of collection {self._config.name!r} is closed; open a new one with "
                "multivector.connect(...)"
            )
        if self._storage is None:
            return
        if self._stale:
            self._install(self._storage.snapshot())
            self._stale = False
            return
        try:
            delta = self._storage.poll()
        except CollectionNotFoundError:
            self._dropped = True
            raise
        if delta is None:
            return
        try:
            if delta.reload is not None:
                self._install(delta.reload)
                return
            if delta.config is not None and delta.config != self._config:
                self._config = _keep_embedders(delta.config, self._config)
                self._sync_indexes()
            if delta.upserts or delta.deletes:
                self._apply(delta.upserts, delta.deletes)
        except BaseException:
            self._stale = True  # half applied: the next call reloads from the store file
            raise

    def _install(self, snap: Snapshot) -> None:
        """Replace the in-memory state by ``snap`` (arenas in place, BM25 cached or rebuilt)."""
        self._config = _keep_embedders(snap.config, self._config)
        self._stopwords = Stopwords.from_config(self._config.inverted_index)
        n = len(snap.uuids)
        self._uuids = list[str | None](snap.uuids)
        self._slot_of = {u: i for i, u in enumerate(snap.uuids)}
        self._props = list[dict[str, Any] | None](snap.properties)
        self._times = list(snap.times)
        self._alive = np.ones(n, dtype=np.bool_)
        self._n_dead = 0
        self._columns.clear()
        self._arenas = arenas_from_packed(self._config, snap.arenas)
        inv = self._config.inverted_index
        self._bm25 = {  # postings from the storage's cache; _sync_indexes builds the others
            name: BM25Index.from_bulk(cached.postings, k1=inv.k1, b=inv.bm25_b, scoring=inv.scoring)
            for name, cached in snap.keyword.items()
        }
        self._ann.restore(snap.indexes, snap.stale_indexes)  # checked; else caught up or trained
        self._sync_indexes()

    def keyword_postings(self) -> dict[str, BulkPostings]:
        """Each BM25 property's postings in bulk form, by slot (for the storage's cache)."""
        with self._lock:
            return {name: index.export() for name, index in self._bm25.items()}

    def export_snapshot(self) -> Snapshot:
        """The current state in packed form, dead slots dropped first (for the arena cache)."""
        with self._lock:
            self._refresh()
            if self._n_dead:
                self._compact_locked()
            return Snapshot(
                config=self._config,
                uuids=[u for u in self._uuids if u is not None],
                properties=[p for p in self._props if p is not None],
                times=list(self._times),
                arenas={name: arena.packed() for name, arena in self._arenas.items()},
                indexes=self._ann.export(),
            )

    def _sync_indexes(self) -> None:
        for vec in self._config.vectors:
            arena = self._arenas.get(vec.name)
            if arena is None:
                arena = TokenArena(dtype=vec.dtype, dimension=vec.dimension)
                arena.append([None] * len(self._uuids))
                self._arenas[vec.name] = arena
        inv = self._config.inverted_index
        for prop in self._config.properties:
            if prop.data_type.is_text and prop.index_searchable and prop.name not in self._bm25:
                index = BM25Index(k1=inv.k1, b=inv.bm25_b, scoring=inv.scoring)
                slots = np.flatnonzero(self._alive).tolist()
                tok = _tok(prop.tokenization)
                index.add_many(
                    slots,
                    [tokenize_value((self._props[s] or {}).get(prop.name), tok) for s in slots],
                )
                self._bm25[prop.name] = index

    # ------------------------------------------------------------------ writes
    def count(self) -> int:
        """Number of live objects."""
        with self._lock:
            self._refresh()
            return len(self._slot_of)

    def upsert(self, records: Sequence[ObjectRecord]) -> None:
        """Insert or replace records atomically (storage first, then memory)."""
        if not records:
            return
        # A repeated uuid: the last one wins, at its own position (as a later write would).
        records = list({rec.uuid: rec for rec in reversed(records)}.values())[::-1]
        with self.write_transaction():
            now = time.time()
            objects = []
            for rec in records:
                old = self._slot_of.get(rec.uuid)
                created = self._times[old][0] if old is not None else now
                objects.append(
                    StoredObject(
                        uuid=rec.uuid,
                        properties=dict(rec.properties),
                        vectors=dict(rec.vectors),
                        creation_time=created,
                        update_time=now,
                    )
                )
            kept = {rec.uuid: rec.kept for rec in records if rec.kept}
            self._commit(objects, [], kept)

    def delete(self, uuids: Sequence[str]) -> int:
        """Delete objects atomically; returns how many existed."""
        with self.write_transaction():
            present = list(dict.fromkeys(u for u in uuids if u in self._slot_of))
            if present:
                self._commit([], present, {})
            return len(present)

    def _commit(
        self,
        upserts: Sequence[StoredObject],
        deletes: Sequence[str],
        kept: Mapping[str, frozenset[str]],
    ) -> None:
        """Write to storage, then apply in memory. Should applying fail after the commit, memory
        is marked stale and reloaded from storage at the next call, never left behind.
        """
        if self._storage is not None:
            self._storage.write(upserts=upserts, deletes=deletes, kept=kept)
        try:
            self._apply(upserts, deletes)
        except BaseException:
            if self._storage is not None:
                self._stale = True
            raise

    def _wants_compaction(self) -> bool:
        return self._n_dead >= _MIN_DEAD and self._n_dead > AUTO_COMPACT_RATIO * len(self._uuids)

    def _auto_compact(self) -> None:
        """The background compaction: in memory under the lock, then the storage's pages."""
        with self._lock:
            if self._dropped or not self._wants_compaction():
                return
            self._compact_locked()
        if self._storage is not None:
            self._storage.reclaim()

    def wait_for_maintenance(self) -> None:
        """Block until background maintenance (compaction) is done (for tests and benchmarks)."""
        self._maintenance.wait_idle()

    def stop_maintenance(self) -> None:
        """Stop background maintenance (a pending compaction is skipped: it only saves space)."""
        self._maintenance.stop(run_pending=False)

    def close(self) -> None:
        """The client closed: maintenance stops, and every later call on this collection raises."""
        self.stop_maintenance()
        with self._lock:
            self._closed = True

    def _kill(self, slot: int) -> None:
        # The uuid and properties stay in their (append-only) lists until compaction, so a read
        # view taken before this delete still finds them; liveness is the ``_alive`` mask alone.
        uuid = self._uuids[slot]
        if uuid is not None:
            del self._slot_of[uuid]
        self._alive[slot] = False
        self._n_dead += 1
        for index in self._bm25.values():
            index.remove(slot)

    def _grow_alive(self, n: int) -> None:
        if n > self._alive.shape[0]:
            grown = np.zeros(max(n, int(self._alive.shape[0] * 1.5) + 64), dtype=np.bool_)
            grown[: self._alive.shape[0]] = self._alive
            self._alive = grown

    def _apply(self, upserts: Sequence[StoredObject], deletes: Iterable[str]) -> None:
        """Apply in memory; many dead slots ask the maintenance worker for a compaction."""
        self._columns.clear()
        for uuid in deletes:
            slot = self._slot_of.get(uuid)
            if slot is not None:
                self._kill(slot)
        if upserts:
            self._grow_alive(len(self._uuids) + len(upserts))
            per_space: dict[str, list[F32Array | None]] = {name: [] for name in self._arenas}
            text_props = [p for p in self._config.properties if p.name in self._bm25]
            for obj in upserts:
                old = self._slot_of.get(obj.uuid)
                if old is not None:
                    self._kill(old)
                slot = len(self._uuids)
                self._uuids.append(obj.uuid)
                self._slot_of[obj.uuid] = slot
                self._props.append(obj.properties)
                self._times.append((obj.creation_time or 0.0, obj.update_time or 0.0))
                self._alive[slot] = True
                for name, matrices in per_space.items():
                    matrices.append(obj.vectors.get(name))
                for prop in text_props:
                    tokens = tokenize_value(obj.properties.get(prop.name), _tok(prop.tokenization))
                    self._bm25[prop.name].add(slot, tokens)
            for name, matrices in per_space.items():
                self._arenas[name].append(matrices)
                self._ann.add(name, matrices)
        if self._wants_compaction():
            self._maintenance.request("compact", self._auto_compact)

    def compact(self) -> None:
        """Drop dead slots from every index and renumber the live ones; a durable collection
        also gives the freed pages back to the file system and prunes its deletion log.
        """
        with self.write_transaction():
            self._compact_locked()
            if self._storage is not None:
                self._storage.compact(prune_log=True)

    def _compact_locked(self) -> None:
        keep: I64Array = np.flatnonzero(self.alive()).astype(np.int64)
        old_to_new = np.full(len(self._uuids), -1, dtype=np.int64)
        old_to_new[keep] = np.arange(len(keep), dtype=np.int64)
        self._arenas = {name: arena.compacted(keep) for name, arena in self._arenas.items()}
        self._ann.compact(keep)
        for index in self._bm25.values():
            index.remap(old_to_new)
        kept = keep.tolist()
        self._uuids = [self._uuids[s] for s in kept]
        self._props = [self._props[s] for s in kept]
        self._times = [self._times[s] for s in kept]
        self._slot_of = {u: i for i, u in enumerate(self._uuids) if u is not None}
        self._alive = np.ones(len(kept), dtype=np.bool_)
        self._n_dead = 0
        self._columns.clear()


def _keep_embedders(new: CollectionConfig, old: CollectionConfig) -> CollectionConfig:
    """``new`` with the embedder objects of ``old`` (storage keeps configuration, not objects)."""
    vectors = []
    for vec in new.vectors:
        prev = old.vector(vec.name)
        if vec.embedder is None and prev is not None and prev.embedder is not None:
            vec = dataclasses.replace(vec, embedder=prev.embedder)
        vectors.append(vec)
    return dataclasses.replace(new, vectors=tuple(vectors))


def _tok(tokenization: Tokenization | None) -> Tokenization:
    return tokenization or Tokenization.WORD
