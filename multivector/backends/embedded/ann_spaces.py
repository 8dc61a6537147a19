"""The approximate indexes of one embedded collection's vector spaces (derived data).

Each space whose ``VectorIndexConfig.kind`` is not ``exact`` gets a
:class:`~multivector.backends.embedded.ann_index.CentroidIndex`, made lazily at the first search,
restored from a persisted state when the store had a current one, and remade when the arena was
rebuilt or the settings a trained model depends on changed (a change of search settings only,
such as ``nprobe``, keeps the trained index). Searches go through it (candidates, then exact
MaxSim); an exact space searches its arena directly.

Training never runs inside a search: :meth:`SpaceIndexes.train_detached` trains a fresh index
on a snapshot of the arena without the collection lock (the background maintenance thread calls
it), then, under the lock, encodes the slots appended meanwhile and swaps it in; the old index,
or exact search, serves until then.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence

from multivector._types import BoolArray, F32Array, I64Array
from multivector.backends.embedded.ann_index import CentroidIndex, make_ann_index
from multivector.backends.embedded.ann_params import PlaidParams, TrainReport
from multivector.backends.embedded.ann_state import (
    IndexState,
    catch_up_state,
    export_state,
    restore_state,
)
from multivector.backends.embedded.arena import TokenArena
from multivector.kernels import SearchResult
from multivector.schema.config import CollectionConfig, VectorIndexConfig

__all__ = ["SpaceIndexes"]

#: ``(config, arena, live mask or None)`` of a space, read under the collection lock; None when
#: the collection is gone or the space no longer exists.
TrainingSource = Callable[[str], "tuple[CollectionConfig, TokenArena, BoolArray | None] | None"]


class SpaceIndexes:
    """``{space: (index config, CentroidIndex)}`` kept in step with the arenas."""

    def __init__(self) -> None:
        self._indexes: dict[str, tuple[VectorIndexConfig, CentroidIndex]] = {}
        #: Persisted states not yet claimed by a space (installed by :meth:`restore`).
        self._restored: dict[str, IndexState] = {}
        #: Stale persisted states with the old slots of the unchanged objects (see restore).
        self._stale: dict[str, tuple[IndexState, I64Array]] = {}
        #: Whether a trained index changed since the last :meth:`restore` (persist it again).
        self.dirty = False

    def __len__(self) -> int:
        return len(self._indexes)

    def get(self, name: str) -> CentroidIndex | None:
        """The index of space ``name`` if one was made (never creates one)."""
        entry = self._indexes.get(name)
        return None if entry is None else entry[1]

    def reset(self) -> None:
        """Forget every index (they are rebuilt at the next search)."""
        self._indexes.clear()
        self._restored.clear()
        self._stale = {}

    def restore(
        self,
        states: Mapping[str, IndexState],
        stale: Mapping[str, tuple[IndexState, I64Array]] | None = None,
    ) -> None:
        """Forget every index, and keep ``states`` (persisted with the arenas they index) to be
        used, when they still fit, instead of training again; ``stale`` states (with the old
        slots of the unchanged objects leading the arena) are brought up to date instead.
        """
        self.reset()
        self._restored = dict(states)
        self._stale = dict(stale or {})
        self.dirty = False

    def index(self, config: CollectionConfig, name: str, arena: TokenArena) -> CentroidIndex | None:
        """The index of space ``name`` (None: exact), made fresh when missing or stale."""
        vec = config.vector(name)
        if vec is None or vec.index.kind == "exact":
            self._indexes.pop(name, None)
            return None
        entry = self._indexes.get(name)
        if entry is not None and entry[0] != vec.index and entry[1].n_slots == arena.n_slots:
            entry = self._retune(name, entry, vec.index)
        if entry is None or entry[0] != vec.index or entry[1].n_slots != arena.n_slots:
            index = self._from_restored(name, vec.index, arena)
            if index is None:
                index = make_ann_index(vec.index, n_slots=arena.n_slots)
            if index is None:
                return None
            entry = (vec.index, index)
            self._indexes[name] = entry
        return entry[1]

    def _retune(
        self,
        name: str,
        entry: tuple[VectorIndexConfig, CentroidIndex],
        config: VectorIndexConfig,
    ) -> tuple[VectorIndexConfig, CentroidIndex] | None:
        """Keep a trained index under new settings that only steer searches (None: remake)."""
        if config.kind != entry[0].kind or config.kind != "plaid":
            return None
        params = PlaidParams.from_params(config.params)
        if params.model_key() != entry[1].params.model_key():
            return None
        entry[1].params = params
        self._indexes[name] = (config, entry[1])
        return self._indexes[name]

    def _from_restored(
        self, name: str, config: VectorIndexConfig, arena: TokenArena
    ) -> CentroidIndex | None:
        state = self._restored.pop(name, None)
        stale = self._stale.pop(name, None)
        if config.kind != "plaid":
            return None
        params = PlaidParams.from_params(config.params)
        if state is not None:
            return restore_state(state, params, arena.offsets())
        if stale is None:
            return None
        index = catch_up_state(stale[0], stale[1], params, arena)
        self.dirty = self.dirty or index is not None
        return index

    def export(self) -> dict[str, IndexState]:
        """The persisted form of every trained index (for the store's cache)."""
        out = dict(self._restored)  # mapped states no search claimed yet: still in step
        for name, (_config, index) in self._indexes.items():
            state = export_state(index)
            if state is not None:
                out[name] = state
        return out

    def add(self, name: str, matrices: Sequence[F32Array | None]) -> None:
        """Encode newly appended slots against the existing centroids (never retrains)."""
        entry = self._indexes.get(name)
        if entry is not None:
            entry[1].add(matrices)
            self.dirty = self.dirty or entry[1].trained
        self._restored.pop(name, None)  # the arena moved past the persisted state
        self._stale.pop(name, None)

    def compact(self, keep: I64Array) -> None:
        """Follow the arenas' compaction (``keep``: surviving old slots, in order)."""
        for _, index in self._indexes.values():
            index.compact(keep)
            self.dirty = self.dirty or index.trained
        self._restored.clear()
        self._stale = {}

    def wants_training(
        self, config: CollectionConfig, name: str, arena: TokenArena, n_live: int
    ) -> str | None:
        """Why space ``name`` should be trained in the background now (None: it need not)."""
        index = self.index(config, name, arena)
        return None if index is None else index.wants_training(n_live)

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
                self.dirty = True
        return reports

    def train_detached(
        self, name: str, lock: threading.RLock, source: TrainingSource
    ) -> TrainReport | None:
        """Train space ``name`` off the lock and swap the result in (None: nothing to do, or
        the arena was compacted or reloaded meanwhile: the next search asks again).
        """
        with lock:
            got = source(name)
            if got is None:
                return None
            config, arena, alive = got
            n_live = arena.n_slots if alive is None else int(alive[: arena.n_slots].sum())
            old = self.index(config, name, arena)
            if old is None or old.wants_training(n_live) is None:
                return None
            packed = arena.packed()
            n = arena.n_slots
            alive_then = None if alive is None else alive[:n].copy()
            params = dataclasses.replace(old.params)
        fresh = CentroidIndex(params, n_slots=n)
        report = fresh.train(packed.tokens, packed.offsets, alive=alive_then, scales=packed.scales)
        with lock:
            got = source(name)
            entry = self._indexes.get(name)
            if got is None or got[1] is not arena or entry is None or entry[1] is not old:
                return None
            fresh.params = entry[1].params  # search settings changed meanwhile stay changed
            fresh.add(
                [arena.matrix(s) if arena.has_vector(s) else None for s in range(n, arena.n_slots)]
            )
            self._indexes[name] = (entry[0], fresh)
            self.dirty = True
        return report
