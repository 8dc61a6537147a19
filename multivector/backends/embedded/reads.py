"""The read side of an embedded collection: lookups, filter masks, and searches over one snapshot.

:class:`EmbeddedReads` is the half of :class:`~multivector.backends.embedded.collection.EmbeddedCollection`
that only reads; the collection adds storage, writes and compaction. Every read holds the lock for
one refresh and reads nothing after releasing it but the captured :class:`EmbeddedReadView`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from multivector._types import BoolArray
from multivector.backends.embedded.ann_index import make_ann_index
from multivector.backends.embedded.ann_params import TrainReport
from multivector.backends.embedded.ann_spaces import SpaceIndexes
from multivector.backends.embedded.arena import TokenArena
from multivector.backends.embedded.bm25 import BM25Index
from multivector.backends.embedded.filter_mask import evaluate_filter
from multivector.backends.embedded.keyword_search import field_bm25_topk
from multivector.backends.embedded.maintenance import Maintenance
from multivector.backends.embedded.read_view import EmbeddedReadView
from multivector.backends.protocol import SearchRequest, StoredObject
from multivector.errors import CollectionNotFoundError, ConfigError
from multivector.schema.config import CollectionConfig, VectorIndexConfig
from multivector.schema.query import FilterNode
from multivector.text.stopwords import Stopwords

__all__ = ["EmbeddedReads"]


class EmbeddedReads:
    """Reads of the slot table (uuids, properties, timestamps, live mask) and its indexes."""

    _lock: threading.RLock
    _config: CollectionConfig
    _uuids: list[str | None]
    _slot_of: dict[str, int]
    _props: list[dict[str, Any] | None]
    _times: list[tuple[float, float]]
    _alive: BoolArray
    _n_dead: int
    _columns: dict[str, list[Any]]
    _arenas: dict[str, TokenArena]
    _bm25: dict[str, BM25Index]
    _ann: SpaceIndexes
    _stopwords: Stopwords
    _maintenance: Maintenance
    _dropped: bool
    _closed: bool
    #: Write the durable cache now (checkpoint.py; the collection mixes it in).
    checkpoint: Callable[[], bool]

    def _refresh(self) -> None:
        """Apply what other processes committed (the collection overrides this)."""

    # ------------------------------------------------------------ FilterContext
    @property
    def n_slots(self) -> int:
        """Number of slots, live or dead."""
        return len(self._uuids)

    def alive(self) -> BoolArray:
        """Mask of live slots."""
        return self._alive[: len(self._uuids)]

    def uuid_at(self, slot: int) -> str | None:
        """The uuid in ``slot`` (None when dead)."""
        return self._uuids[slot] if self._alive[slot] else None

    def values(self, name: str) -> Sequence[Any]:
        """Property values by slot, cached until the next write."""
        column = self._columns.get(name)
        if column is None:
            column = [
                p.get(name) if p is not None and live else None
                for p, live in zip(self._props, self._alive.tolist())
            ]
            self._columns[name] = column
        return column

    def numeric_column(self, name: str) -> tuple[np.ndarray, BoolArray] | None:
        """Property ``name`` as int64 (or float64 when any value is a float) plus a present
        mask, cached until the next write; None when a live value is not a plain number.
        """
        key = "#" + name
        cached = self._columns.get(key)
        if cached is None:
            column = self.values(name)
            kinds = {type(v) for v in column if v is not None}
            if not kinds <= {int, float}:
                self._columns[key] = [None]
                return None
            present = np.array([v is not None for v in column], dtype=np.bool_)
            dtype = np.float64 if float in kinds else np.int64
            try:
                values = np.array([0 if v is None else v for v in column], dtype=dtype)
            except OverflowError:  # an int beyond int64
                self._columns[key] = [None]
                return None
            cached = self._columns[key] = [(values, present)]
        entry = cached[0]
        return None if entry is None else entry

    # ------------------------------------------------------------------- reads
    def _stored(self, slot: int, include_vector: bool) -> StoredObject:
        uuid = self._uuids[slot]
        props = self._props[slot]
        if uuid is None or props is None:  # pragma: no cover - callers pass live slots only
            raise CollectionNotFoundError(f"slot {slot} is not live")
        vectors = (
            {n: a.matrix(slot) for n, a in self._arenas.items() if a.has_vector(slot)}
            if include_vector
            else {}
        )
        created, updated = self._times[slot]
        return StoredObject(uuid, copy.deepcopy(props), vectors, created, updated)

    def get(self, uuids: Sequence[str], *, include_vector: bool) -> list[StoredObject | None]:
        """Objects by uuid (None where missing), in order."""
        with self._lock:
            self._refresh()
            out: list[StoredObject | None] = []
            for uuid in uuids:
                slot = self._slot_of.get(uuid)
                out.append(None if slot is None else self._stored(slot, include_vector))
            return out

    def _mask(self, filters: FilterNode | None) -> BoolArray:
        return evaluate_filter(filters, self)

    def fetch(
        self,
        *,
        limit: int | None,
        offset: int,
        filters: FilterNode | None,
        include_vector: bool,
    ) -> list[StoredObject]:
        """Live matching objects in slot order, paginated."""
        with self._lock:
            self._refresh()
            slots = np.flatnonzero(self._mask(filters)).tolist()
            end = None if limit is None else offset + limit
            return [self._stored(s, include_vector) for s in slots[offset:end]]

    def match(self, filters: FilterNode | None) -> list[str]:
        """Uuids of every live object matching ``filters``."""
        with self._lock:
            self._refresh()
            return [
                u for s in np.flatnonzero(self._mask(filters)).tolist() if (u := self._uuids[s])
            ]

    def retrain_index(self, target_vector: str | None = None) -> dict[str, TrainReport]:
        """(Re)train the approximate index of one space (all approximate spaces when None)."""
        with self._lock:
            self._refresh()
            names = [target_vector] if target_vector is not None else list(self._arenas)
            for name in names:
                if name not in self._arenas:
                    raise ConfigError(f"unknown vector {name!r}")
            alive = self.alive() if self._n_dead else None
            reports = self._ann.retrain(self._config, self._arenas, names, alive=alive)
        if reports:
            self.checkpoint()  # durable: persist the trained index now, serve from the map
        return reports

    def _train_detached(self, name: str) -> None:
        """Background maintenance: train space ``name`` without holding the lock meanwhile."""

        def source(space: str) -> tuple[CollectionConfig, TokenArena, BoolArray | None] | None:
            if self._dropped or self._closed or space not in self._arenas:
                return None
            return self._config, self._arenas[space], self.alive() if self._n_dead else None

        if self._ann.train_detached(name, self._lock, source) is not None:
            self.checkpoint()

    def index_stats(self) -> dict[str, dict[str, Any]]:
        """Per approximate space: kind, whether trained, centroids, slots and bytes by part."""
        with self._lock:
            self._refresh()
            out: dict[str, dict[str, Any]] = {}
            for name, arena in self._arenas.items():
                index = self._ann.index(self._config, name, arena)
                if index is None:
                    continue
                store = index.residuals
                out[name] = {
                    "kind": "plaid",
                    "trained": index.trained,
                    "n_centroids": index.n_centroids,
                    "n_slots": index.n_slots,
                    "n_tokens": arena.n_tokens,
                    "nbits": None if store is None else store.codec.nbits,
                    "drift": None if store is None else store.drift(),
                    "bytes": index.memory_parts(),
                    "training_wanted": index.wants_training(len(self._slot_of)),
                }
            return out

    @staticmethod
    def check_index_config(config: VectorIndexConfig) -> None:
        """Raise ConfigError for an index config this store rejects (before anything changes)."""
        make_ann_index(config)

    @property
    def index_dirty(self) -> bool:
        """Whether a trained approximate index changed since it was last persisted."""
        return self._ann.dirty

    def wait_for_index(self) -> None:
        """Block until background maintenance (index training included) is idle."""
        self._maintenance.wait_idle()

    def nbytes(self) -> dict[str, int]:
        """Bytes of token storage per vector space."""
        with self._lock:
            self._refresh()
            return {name: arena.nbytes for name, arena in self._arenas.items()}

    def search(self, request: SearchRequest) -> EmbeddedReadView:
        """Run a search's legs over one snapshot: one lock and one refresh; the filter mask built
        once for both legs; the exact kernel on the captured arrays after the lock is released.
        """
        exact = False
        with self._lock:
            self._refresh()
            n = len(self._uuids)
            mask: BoolArray | None
            if request.filters is not None:
                mask = self._mask(request.filters)
            elif self._n_dead:
                mask = self.alive().copy()
            else:
                mask = None
            view = EmbeddedReadView(
                uuids=self._uuids,
                properties=self._props,
                times=self._times,
                arenas={name: arena.packed() for name, arena in self._arenas.items()},
                mask=mask,
                n_slots=n,
                vector=request.vector,
            )
            if request.keyword is not None:
                view.set_keyword_hits(self._keyword_hits(view, request, mask))
            if request.vector is not None:
                exact = self._vector_leg(view, request, mask)
        if exact:
            view.run_exact()
        return view

    def _keyword_hits(
        self, view: EmbeddedReadView, request: SearchRequest, mask: BoolArray | None
    ) -> list[Any]:
        query = request.keyword
        if query is None or query.limit <= 0 or not self._slot_of:
            return []
        ranked = field_bm25_topk(
            self._bm25,
            self._config,
            self._stopwords,
            query.text,
            properties=query.properties,
            n_slots=len(self._uuids),
            limit=query.limit,
            mask=mask if request.filters is not None else None,
            operator=query.operator,
        )
        return view.hits([s for s, _ in ranked], [v for _, v in ranked])[: query.limit]

    def _vector_leg(
        self, view: EmbeddedReadView, request: SearchRequest, mask: BoolArray | None
    ) -> bool:
        """Run an approximate leg now (its index changes in place); True: run exact later."""
        query = request.vector
        if query is None:
            return False
        arena = self._arenas.get(query.target)
        if arena is None:
            raise ConfigError(f"unknown vector {query.target!r}")
        if query.limit <= 0 or not self._slot_of or arena.dimension is None:
            view.set_vector_hits([])
            return False
        if self._ann.index(self._config, query.target, arena) is None:
            return True
        n_live = len(self._slot_of)
        if self._ann.wants_training(self._config, query.target, arena, n_live):
            name = query.target
            self._maintenance.request(f"train:{name}", lambda: self._train_detached(name))
        result = self._ann.search(
            self._config,
            query.target,
            arena,
            query.matrix,
            k=query.limit,
            mask=mask,
            alive=self.alive() if self._n_dead else None,
        )
        view.set_vector_hits(view.hits(result.indices.tolist(), result.scores.tolist()))
        return False
