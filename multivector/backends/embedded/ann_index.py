"""Approximate candidate generation over arena slots, always followed by exact MaxSim reranking.

A PLAID-style centroid index (``Configure.VectorIndex.plaid(...)``): spherical k-means on a sample
of token vectors; every document keeps the distinct ids of its tokens' nearest centroids, and an
inverted list per centroid names the documents that use it. A query probes, for each of its
tokens, the ``nprobe`` most similar centroids, scores the listed documents by centroid interaction
(see :mod:`multivector.kernels.ann_probe`), and the best ``n_candidates`` are reranked with the
exact MaxSim kernel through a mask, so every returned score is exact.

With ``nbits`` set (the default, 2) every token is also kept compressed: its centroid id and its
residual's bucket codes (:mod:`.ann_compressed`). A query then runs three stages: the inverted
lists pick ``n_candidates`` documents, MaxSim on their decoded codes keeps the best ``n_rerank``,
and exact MaxSim over the stored rows scores those, so every returned score is still exact.

Incremental: new slots are encoded against the existing centroids at insert (no retraining);
deleted slots are excluded by the live mask; compaction remaps slots. Training is explicit
(:meth:`CentroidIndex.train`), never part of a search: :meth:`CentroidIndex.wants_training`
says when the owner should train one in the background (enough objects, growth, or drift) while
this one, or exact search, serves. Settings (:class:`PlaidParams`) and training report live in
:mod:`.ann_params`; the persisted form in :mod:`.ann_state`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from multivector._types import BoolArray, F32Array, I64Array
from multivector.backends.embedded.ann_compressed import ResidualStore
from multivector.backends.embedded.ann_doc_codes import DocCodes
from multivector.backends.embedded.ann_params import PlaidParams, TrainReport
from multivector.backends.embedded.ann_training import (
    assign_all,
    encode_all,
    float_rows,
    list_candidates,
    narrow_candidates,
    rerank_exact,
)
from multivector.errors import ConfigError
from multivector.kernels import SearchResult, maxsim_search
from multivector.kernels.ann_centroid import distinct_codes
from multivector.kernels.ann_kmeans import assign_centroids, kmeans, sample_rows
from multivector.kernels.ann_probe import probe_centroids, query_similarity
from multivector.schema.config import CollectionConfig, VectorIndexConfig

__all__ = [
    "AnnSearch",
    "CentroidIndex",
    "PlaidParams",
    "TrainReport",
    "check_index_configs",
    "make_ann_index",
]

#: Rerank (or search a filtered subset exactly) on numba's thread pool only above this many
#: documents: for fewer, waking the pool costs more than it saves on a busy machine (about 8 ms
#: at 200k slots under load, against 0.5 ms for a serial masked pass; benchmarks/scale.py).
PARALLEL_RERANK = 2048


class AnnSearch(NamedTuple):
    """One search: the exact-scored ``result``, whether candidates were approximate, how many."""

    result: SearchResult
    approximate: bool
    n_candidates: int


def make_ann_index(config: VectorIndexConfig, *, n_slots: int = 0) -> CentroidIndex | None:
    """The index a vector space's ``VectorIndexConfig`` asks for (None for ``exact``), untrained,
    over ``n_slots`` existing slots.

    Raises:
        ConfigError: an unknown ``kind`` or invalid parameters.

    """
    if config.kind == "exact":
        return None
    if config.kind == "plaid":
        return CentroidIndex(PlaidParams.from_params(config.params), n_slots=n_slots)
    raise ConfigError(
        f"unknown vector index kind {config.kind!r}; use Configure.VectorIndex.exact() or .plaid()"
    )


def check_index_configs(config: CollectionConfig) -> None:
    """Raise ConfigError now (at create) for a vector index kind or parameter this store rejects."""
    for vec in config.vectors:
        make_ann_index(vec.index)


class CentroidIndex:
    """Centroid ids per slot plus inverted lists; slots mirror the arena's."""

    def __init__(self, params: PlaidParams | None = None, *, n_slots: int = 0) -> None:
        self.params = params or PlaidParams()
        self._centroids: F32Array | None = None
        self._n_slots = n_slots
        self._trained_live = 0
        self._docs = DocCodes(0)
        #: Compressed tokens (``nbits`` set and trained), else None.
        self.residuals: ResidualStore | None = None

    # ------------------------------------------------------------------ state
    @property
    def trained(self) -> bool:
        """Whether centroids exist (else searches are exact)."""
        return self._centroids is not None

    @property
    def n_slots(self) -> int:
        """Slots known to the index (equal to the arena's)."""
        return self._n_slots

    @property
    def n_centroids(self) -> int:
        """Trained centroids (0 before training)."""
        return 0 if self._centroids is None else int(self._centroids.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held (the sum of :meth:`memory_parts`)."""
        return sum(self.memory_parts().values())

    def memory_parts(self) -> dict[str, int]:
        """Bytes held by part: centroids, each document's distinct centroid ids and their
        offsets, the inverted lists, and (compressed) per-token ids, residual codes, row
        offsets and the codec tables.
        """
        if self._centroids is None:
            return {}
        parts = {"centroids": self._centroids.nbytes, **self._docs.nbytes()}
        if self.residuals is not None:
            parts.update(self.residuals.parts())
        return parts

    # ------------------------------------------------------------ persisting
    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """Arrays (views) and scalars that rebuild this index (None while untrained); the
        inverted lists are brought to cover every slot first.
        """
        if self._centroids is None:
            return None
        self._docs.refresh(force=True)
        codes, offsets = self._docs.view()
        docs, list_offsets = self._docs.lists if self._docs.lists is not None else (None, None)
        arrays = {
            "centroids": self._centroids,
            "doc_codes": codes,
            "doc_code_offsets": offsets,
            "list_docs": docs,
            "list_offsets": list_offsets,
        }
        meta: dict[str, Any] = {
            "n_slots": self._n_slots,
            "trained_live": self._trained_live,
            "model_key": list(self.params.model_key()),
            "residual": None,
        }
        if self.residuals is not None:
            arrays.update(self.residuals.arrays())
            meta["residual"] = self.residuals.meta()
        return {k: v for k, v in arrays.items() if v is not None}, meta

    @classmethod
    def from_state(
        cls, params: PlaidParams, arrays: dict[str, np.ndarray], meta: dict[str, Any]
    ) -> CentroidIndex:
        """Inverse of :meth:`state` (arrays used in place: read-only maps are copied on the
        first change). The caller has checked the arrays against the arena they index.
        """
        index = cls(params, n_slots=int(meta["n_slots"]))
        index._centroids = np.ascontiguousarray(arrays["centroids"], dtype=np.float32)
        index._trained_live = int(meta["trained_live"])
        index._docs = DocCodes.from_arrays(
            index.n_centroids,
            arrays["doc_codes"],
            arrays["doc_code_offsets"],
            (arrays["list_docs"], arrays["list_offsets"]),
        )
        if meta.get("residual") is not None:
            index.residuals = ResidualStore.from_arrays(arrays, meta["residual"], index.n_centroids)
        return index

    # ------------------------------------------------------------------ build
    def train(
        self,
        tokens: np.ndarray,
        offsets: I64Array,
        *,
        alive: BoolArray | None = None,
        scales: F32Array | None = None,
    ) -> TrainReport:
        """Train k-means on a sample of the live slots' tokens, then assign every live slot.

        ``tokens`` / ``offsets`` are the arena's (float16, float32, or int8 with its per-row
        ``scales``; ``offsets`` ``[n + 1]``); ``alive`` None means every slot is live. Replaces
        any previous training.
        """
        start = time.perf_counter()
        n = int(offsets.shape[0]) - 1
        live = np.ones(n, dtype=np.bool_) if alive is None else np.asarray(alive[:n], dtype=bool)
        lengths = np.diff(offsets)
        row_live = np.repeat(live, lengths)
        rows = np.flatnonzero(row_live)
        self._n_slots = n
        self._docs = DocCodes(0)
        if rows.size == 0:
            self._centroids = None
            return TrainReport(0, 0, 0, time.perf_counter() - start)
        wanted = self.params.centroids_for(int(rows.size))
        n_sample = self.params.samples_for(wanted)
        pick = rows[sample_rows(rows.size, n_sample, seed=self.params.seed)]
        sample = float_rows(tokens, scales, pick)
        n_centroids = min(wanted, int(sample.shape[0]))
        self._centroids = kmeans(
            sample, n_centroids, n_iter=self.params.n_iter, seed=self.params.seed
        ).centroids
        token_codes = assign_all(tokens, offsets, scales, self._centroids)
        packed = distinct_codes(token_codes, offsets)
        keep = np.repeat(live, np.diff(packed.offsets))  # dead slots keep no codes
        new_offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.where(live, np.diff(packed.offsets), 0), out=new_offsets[1:])
        self._docs = DocCodes(n_centroids)
        self._docs.append(packed.codes[keep], new_offsets)
        self._docs.refresh()
        self._trained_live = int(live.sum())
        self.residuals = None
        if self.params.nbits is not None:
            self.residuals = encode_all(
                tokens,
                offsets,
                scales,
                token_codes,
                self._centroids,
                (sample, pick),
                self.params.nbits,
            )
        return TrainReport(
            n_centroids, int(sample.shape[0]), int(rows.size), time.perf_counter() - start
        )

    def add(self, matrices: Sequence[np.ndarray | None]) -> None:
        """Append one slot per matrix (None: no vector), encoded against the existing centroids."""
        if self._centroids is None:
            self._n_slots += len(matrices)
            return
        lengths = np.array([0 if m is None else m.shape[0] for m in matrices], dtype=np.int64)
        offsets = np.zeros(len(matrices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        present = [m for m in matrices if m is not None and m.shape[0]]
        dim = self._centroids.shape[1]
        rows = (
            np.concatenate(present, axis=0).astype(np.float32, copy=False)
            if present
            else np.zeros((0, dim), dtype=np.float32)
        )
        token_codes = assign_centroids(rows, self._centroids) if present else np.zeros(0, np.int32)
        packed = distinct_codes(token_codes, offsets)
        self._docs.append(packed.codes, packed.offsets)
        self._n_slots += len(matrices)
        if self.residuals is not None:
            self.residuals.append(token_codes, rows, self._centroids, lengths)

    def compact(self, keep: I64Array) -> None:
        """Keep only slots ``keep`` (in that order), renumbered ``0..len(keep)-1``."""
        if self._centroids is None:
            self._n_slots = len(keep)
            return
        self._n_slots = len(keep)
        self._docs = self._docs.compacted(keep)
        if self.residuals is not None:
            self.residuals = self.residuals.compacted(keep)

    # ----------------------------------------------------------------- search
    def wants_training(self, n_live: int) -> str | None:
        """Why the owner should train this index now (None: it need not): untrained with at
        least ``min_train_docs`` live objects, grown ``retrain_growth`` times since training,
        or drifted (tokens appended since training fit the centroids ``retrain_drift`` times
        worse than the training sample, once they are a tenth of the index).
        """
        p = self.params
        if self._centroids is None:
            return "untrained" if n_live >= p.min_train_docs else None
        if p.retrain_growth and n_live > p.retrain_growth * self._trained_live:
            return f"grown {n_live / max(1, self._trained_live):.1f}x since training"
        store = self.residuals
        if (
            store is not None
            and p.retrain_drift
            and store.added_rows * 10 >= store.n_rows
            and store.drift() > p.retrain_drift
        ):
            return f"drifted: residual energy {store.drift():.2f}x that at training"
        return None

    def candidates(self, query: np.ndarray, n: int, mask: BoolArray | None = None) -> I64Array:
        """Up to ``n`` slots with the best inverted-list scores (sorted ascending), among slots
        where ``mask`` is True; empty before training.
        """
        return self._candidates(np.ascontiguousarray(query, dtype=np.float32), n, mask)[0]

    def _candidates(self, q: F32Array, n: int, mask: BoolArray | None) -> tuple[I64Array, F32Array]:
        """:meth:`candidates` plus the query-by-centroid similarity ``[q, k]`` it computed."""
        if self._centroids is None or n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros((q.shape[0], 0), dtype=np.float32)
        self._docs.refresh()
        sim_rows = query_similarity(q, self._centroids)
        slots = list_candidates(
            sim_rows,
            probe_centroids(sim_rows, self.params.nprobe),
            self._docs.lists,
            self._docs.listed,
            self._docs.view(),
            n,
            None if mask is None else np.ascontiguousarray(mask[: self._n_slots]),
        )
        return slots, sim_rows

    def search(
        self,
        query: np.ndarray,
        tokens: np.ndarray,
        offsets: I64Array,
        *,
        k: int,
        mask: BoolArray | None,
        alive: BoolArray | None,
        scales: F32Array | None = None,
    ) -> AnnSearch:
        """Top-``k`` slots by exact MaxSim among candidates (or all slots, when exact is better).

        ``mask`` (None: every live slot) restricts results; ``alive`` marks live slots. Exact
        search is used while untrained, when at most ``flat_search_cutoff`` slots match, or when
        fewer than ``k`` candidates come back. ``scales`` are an int8 arena's per-row scales
        (None for float arenas). Never trains (see :meth:`wants_training`).
        """
        n = int(offsets.shape[0]) - 1
        if self._centroids is None:
            self._n_slots = n  # an untrained index holds nothing per slot
        n_live = n if alive is None else int(np.count_nonzero(alive[:n]))
        if self._n_slots != n:
            raise ConfigError(
                f"ann index out of sync: it holds {self._n_slots} slots, the arena {n}"
            )
        n_match = n_live if mask is None else int(np.count_nonzero(mask[:n]))
        if self._centroids is None or n_match <= self.params.flat_search_cutoff:
            return self._exact(
                query, tokens, offsets, k=k, mask=mask, n_match=n_match, scales=scales
            )
        q = np.ascontiguousarray(query, dtype=np.float32)
        want = max(self.params.n_candidates, 2 * k)
        slots, sim_rows = self._candidates(q, want, mask if mask is not None else alive)
        if slots.size < min(k, n_match):
            return self._exact(
                query, tokens, offsets, k=k, mask=mask, n_match=n_match, scales=scales
            )
        n_listed = int(slots.size)
        rerank = max(self.params.n_rerank, 2 * k)
        store = self.residuals
        if store is not None and slots.size > rerank:
            if store.n_slots != n:
                raise ConfigError(
                    f"ann index out of sync: its codes hold {store.n_slots} slots, the arena {n}"
                )
            n_decode = max(self.params.n_decode, rerank)
            slots = narrow_candidates(
                q, sim_rows, slots, self._docs.view(), store, self._centroids, n_decode, rerank
            )
        parallel = slots.size > PARALLEL_RERANK
        if slots.size * 8 < n:  # few: gather their rows rather than mask a pass over all slots
            result = rerank_exact(query, tokens, offsets, slots, k, scales, parallel=parallel)
        else:
            chosen = np.zeros(n, dtype=np.bool_)
            chosen[slots] = True
            result = maxsim_search(
                query, tokens, offsets, k, chosen, parallel=parallel, scales=scales
            )
        return AnnSearch(result, True, n_listed)

    @staticmethod
    def _exact(
        query: np.ndarray,
        tokens: np.ndarray,
        offsets: I64Array,
        *,
        k: int,
        mask: BoolArray | None,
        n_match: int,
        scales: F32Array | None = None,
    ) -> AnnSearch:
        """Exact search over the ``n_match`` slots ``mask`` allows (serial when they are few)."""
        parallel = n_match > PARALLEL_RERANK
        result = maxsim_search(query, tokens, offsets, k, mask, parallel=parallel, scales=scales)
        return AnnSearch(result, False, n_match)
