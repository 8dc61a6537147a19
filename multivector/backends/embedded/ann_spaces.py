"""The approximate indexes of one embedded collection's vector spaces (derived data).

Each space whose ``VectorIndexConfig.kind`` is not ``exact`` gets a
:class:`~multivector.backends.embedded.ann_index.CentroidIndex`, made lazily at the first search and remade when
the configuration changes or the arena was rebuilt; searches go through it (candidates, then exact
MaxSim), and an exact space searches its arena directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from multivector._types import BoolArray, F32Array, I64Array
from multivector.backends.embedded.ann_index import CentroidIndex, make_ann_index
from multivector.backends.embedded.ann_params import TrainReport
from multivector.backends.embedded.arena import TokenArena
from multivector.kernels import SearchResult
from multivector.schema.config import CollectionConfig, VectorIndexConfig

__all__ = ["SpaceIndexes"]


class SpaceIndexes:
    """``{space: (index config, CentroidIndex)}`` kept in step with the arenas."""

    def __init__(self) -> None:
        self._indexes: dict[str, tuple[VectorIndexConfig, CentroidIndex]] = {}

    def __len__(self) -> int:
        return len(self._indexes)

    def get(self, name: str) -> CentroidIndex | None:
        """The index of space ``name`` if one was made (never creates one)."""
        entry = self._indexes.get(name)
        return None if entry is None else entry[1]

    def reset(self) -> None:
        """Forget every index (they are rebuilt at the next search)."""
        self._indexes.clear()

    def index(self, config: CollectionConfig, name: str, arena: TokenArena) -> CentroidIndex | None:
        """The index of space ``name`` (None: exact), made fresh when missing or stale."""
        vec = config.vector(name)
        if vec is None or vec.index.kind == "exact":
            self._indexes.pop(name, None)
            return None
        entry = self._indexes.get(name)
        if entry is None or entry[0] != vec.index or entry[1].n_slots != arena.n_slots:
            index = make_ann_index(vec.index, n_slots=arena.n_slots)
            if index is None:
                return None
            entry = (vec.index, index)
            self._indexes[name] = entry
        return entry[1]

    def add(self, name: str, matrices: Sequence[F32Array | None]) -> None:
        """Assign newly appended slots to the existing centroids (never retrains)."""
        entry = self._indexes.get(name)
        if entry is not None:
            entry[1].add(matrices)

    def compact(self, keep: I64Array) -> None:
        """Follow the arenas' compaction (``keep``: surviving old slots, in order)."""
        for _, index in self._indexes.values():
            index.compact(keep)

    def search(
        self,
        config: CollectionConfig,
        name: str,
        arena: TokenArena,
        query: F32Array,
        *,
        k: int,
        mask: BoolArray | None,
        alive: BoolArray | None,
    ) -> SearchResult:
        """Exact MaxSim top-``k``; with an approximate index, over its candidates only."""
        index = self.index(config, name, arena)
        if index is None:
            return arena.search(query, k=k, mask=mask)
        found = index.search(
            query,
            arena.tokens(),
            arena.offsets(),
            k=k,
            mask=mask,
            alive=alive,
            scales=arena.scales(),
        )
        return found.result

    def retrain(
        self,
        config: CollectionConfig,
        arenas: Mapping[str, TokenArena],
        names: Sequence[str],
        *,
        alive: BoolArray | None,
    ) -> dict[str, TrainReport]:
        """Train the indexes of ``names`` now; exact spaces are skipped."""
        reports: dict[str, TrainReport] = {}
        for name in names:
            arena = arenas[name]
            index = self.index(config, name, arena)
            if index is not None:
                reports[name] = index.train(
                    arena.tokens(), arena.offsets(), alive=alive, scales=arena.scales()
                )
        return reports
