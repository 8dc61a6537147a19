"""One query's snapshot of an embedded collection, read without the collection lock.

:meth:`EmbeddedCollection.search` takes the lock once: it refreshes from storage, builds the filter
mask, runs the keyword leg (the BM25 postings change in place) and an approximate vector leg (its
index changes in place), and captures what the rest of the query reads: the packed arenas (views
of rows that are never rewritten: growth allocates a new array, compaction builds new arenas), the
append-only uuid / property / timestamp lists (a delete only clears the live mask; compaction
builds new lists), and a copy of the mask. The exact MaxSim kernel then runs on those arrays
outside the lock, so queries in one process run side by side, and the objects of the hits come
from the same state the legs saw: a concurrent delete cannot shorten a result list.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from multivector._types import BoolArray, F32Array
from multivector.backends.embedded.storage import PackedArena
from multivector.backends.protocol import Hit, StoredObject, VectorQuery
from multivector.errors import DimensionMismatchError
from multivector.kernels import maxsim_scores, maxsim_search

__all__ = ["EmbeddedReadView", "ordered_hits"]


def ordered_hits(pairs: Sequence[tuple[str, float]]) -> list[Hit]:
    """Best first; equal scores by uuid, so results never depend on slot order."""
    return [Hit(u, s) for u, s in sorted(pairs, key=lambda p: (-p[1], p[0]))]


class EmbeddedReadView:
    """The legs' hits and the objects behind them, from one state of the collection."""

    def __init__(
        self,
        *,
        uuids: list[str | None],
        properties: list[dict[str, Any] | None],
        times: list[tuple[float, float]],
        arenas: dict[str, PackedArena],
        mask: BoolArray | None,
        n_slots: int,
        vector: VectorQuery | None,
    ) -> None:
        self._uuids = uuids
        self._props = properties
        self._times = times
        self._arenas = arenas
        self._mask = mask
        self._n_slots = n_slots
        self._vector = vector
        self._slots: dict[str, int] = {}
        self._vector_hits: list[Hit] | None = None
        self._keyword_hits: list[Hit] | None = None

    # ----------------------------------------------------------- filled by the collection
    def hits(self, slots: Sequence[int], scores: Sequence[float]) -> list[Hit]:
        """Hits for (slot, score) pairs, best first, remembering each hit's slot."""
        pairs = []
        for slot, score in zip(slots, scores):
            uuid = self._uuids[slot] or ""
            self._slots[uuid] = slot
            pairs.append((uuid, float(score)))
        return ordered_hits(pairs)

    def set_keyword_hits(self, hits: list[Hit]) -> None:
        self._keyword_hits = hits

    def set_vector_hits(self, hits: list[Hit]) -> None:
        self._vector_hits = hits

    def _packed(self, target: str) -> PackedArena | None:
        packed = self._arenas.get(target)
        if packed is None or packed.dimension is None:
            return None
        if self._vector is not None and self._vector.matrix.shape[1] != packed.dimension:
            raise DimensionMismatchError(
                f"the query matrix has {self._vector.matrix.shape[1]} columns but vector "
                f"{target!r} holds {packed.dimension}-dimensional tokens; embed the query with "
                "the model that made the documents"
            )
        return packed

    def run_exact(self) -> None:
        """The exact vector leg, on the captured arrays (called outside the collection lock)."""
        query = self._vector
        if query is None:
            return
        packed = self._packed(query.target)
        if packed is None or query.limit <= 0 or self._n_slots == 0:
            self._vector_hits = []
            return
        result = maxsim_search(
            query.matrix,
            packed.tokens,
            packed.offsets,
            query.limit,
            self._mask,
            scales=packed.scales,
        )
        self._vector_hits = self.hits(result.indices.tolist(), result.scores.tolist())

    # ------------------------------------------------------------------ ReadView
    @property
    def vector_hits(self) -> list[Hit] | None:
        """The vector leg's hits, best first (None: not asked for)."""
        return self._vector_hits

    @property
    def keyword_hits(self) -> list[Hit] | None:
        """The keyword leg's hits, best first (None: not asked for)."""
        return self._keyword_hits

    def vector_scores(self, uuids: Sequence[str]) -> list[float | None]:
        """Exact MaxSim of the query against the listed hits' objects (None: no vector)."""
        query = self._vector
        if query is None or not uuids:
            return [None] * len(uuids)
        packed = self._packed(query.target)
        slots = [self._slots.get(u) for u in uuids]
        listed = [s for s in slots if s is not None]
        if packed is None or not listed:
            return [None] * len(uuids)
        mask = np.zeros(self._n_slots, dtype=np.bool_)
        mask[listed] = True
        scores: F32Array = maxsim_scores(
            query.matrix, packed.tokens, packed.offsets, mask, scales=packed.scales
        )
        out: list[float | None] = []
        for s in slots:
            value = None if s is None else float(scores[s])
            out.append(value if value is not None and np.isfinite(value) else None)
        return out

    def objects(self, hits: Sequence[Hit], *, include_vector: bool) -> list[Hit]:
        """The hits with their objects, as they were when the legs ran."""
        out = []
        for hit in hits:
            slot = self._slots.get(hit.uuid)
            out.append(
                hit._replace(obj=None if slot is None else self.stored(slot, include_vector))
            )
        return out

    def stored(self, slot: int, include_vector: bool) -> StoredObject:
        """The object in ``slot`` (a live slot of this view)."""
        vectors: dict[str, F32Array] = {}
        if include_vector:
            for name, packed in self._arenas.items():
                start, end = int(packed.offsets[slot]), int(packed.offsets[slot + 1])
                if end > start:
                    vectors[name] = packed.rows(start, end)
        created, updated = self._times[slot]
        return StoredObject(
            self._uuids[slot] or "",
            copy.deepcopy(self._props[slot] or {}),
            vectors,
            created,
            updated,
        )
