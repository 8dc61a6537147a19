"""Array steps of the PLAID index (:mod:`.ann_index`): assigning and encoding a whole arena at
training, and the inverted-list candidate stage of a search.

Functions over arrays only (the index owns the state): float16, float32 or int8 arenas (int8
rows are dequantised block by block, never as a whole).
"""

from __future__ import annotations

import numpy as np

from multivector._types import BoolArray, F32Array, I64Array
from multivector.backends.embedded.ann_compressed import ResidualStore
from multivector.backends.embedded.arena import slot_rows
from multivector.kernels import SearchResult, maxsim_scores
from multivector.kernels.ann_centroid import centroid_scores, centroid_scores_at
from multivector.kernels.ann_kmeans import assign_centroids
from multivector.kernels.ann_probe import Probe, clamped_similarity, probe_scores
from multivector.kernels.ann_residual import fit_codec
from multivector.kernels.quantize import dequantize_int8
from multivector.kernels.topk import topk

__all__ = [
    "assign_all",
    "encode_all",
    "float_rows",
    "list_candidates",
    "narrow_candidates",
    "rerank_exact",
]

#: Score candidates on their codes on the thread pool above this many documents.
PARALLEL_RESIDUAL = 256

#: Rows converted per step when a whole arena is assigned or encoded.
BLOCK_ROWS = 65_536


def float_rows(tokens: np.ndarray, scales: F32Array | None, rows: I64Array) -> F32Array:
    """Arena ``rows`` as float32 (int8 rows times their scales)."""
    if scales is None:
        return np.asarray(tokens[rows], dtype=np.float32)
    return dequantize_int8(tokens[rows], scales[rows])


def _block(tokens: np.ndarray, scales: F32Array | None, lo: int, hi: int) -> np.ndarray:
    if scales is None:
        return tokens[lo:hi]
    return dequantize_int8(tokens[lo:hi], scales[lo:hi])


def assign_all(
    tokens: np.ndarray, offsets: I64Array, scales: F32Array | None, centroids: F32Array
) -> np.ndarray:
    """The nearest centroid of every arena row ``[0, offsets[-1])`` (int32)."""
    total = int(offsets[-1])
    if scales is None:
        return assign_centroids(tokens[:total], centroids)
    blocks = [
        assign_centroids(_block(tokens, scales, lo, min(total, lo + BLOCK_ROWS)), centroids)
        for lo in range(0, total, BLOCK_ROWS)
    ]
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int32)


def encode_all(
    tokens: np.ndarray,
    offsets: I64Array,
    scales: F32Array | None,
    token_codes: np.ndarray,
    centroids: F32Array,
    sample: tuple[F32Array, I64Array],
    nbits: int,
) -> ResidualStore:
    """Fit the residual codec on the training sample (its float rows and their arena row ids)
    and encode every arena row against ``centroids[token_codes]``.
    """
    rows, picked = sample
    residual = rows - centroids[token_codes[picked]]
    energy = float(np.einsum("ij,ij->", residual, residual)) / max(1, residual.shape[0])
    store = ResidualStore(fit_codec(residual, nbits), int(centroids.shape[0]), train_energy=energy)
    total = int(offsets[-1])
    store.reserve(total, int(offsets.shape[0]) - 1)
    for lo in range(0, total, BLOCK_ROWS):
        hi = min(total, lo + BLOCK_ROWS)
        store.encode_rows(lo, token_codes[lo:hi], _block(tokens, scales, lo, hi), centroids)
    store.set_offsets(np.ascontiguousarray(offsets - offsets[0], dtype=np.int64))
    return store


def list_candidates(
    sim_rows: F32Array,
    probe: Probe,
    lists: tuple[np.ndarray, I64Array] | None,
    listed_slots: int,
    doc_codes: tuple[np.ndarray, I64Array],
    n: int,
    mask: BoolArray | None,
) -> I64Array:
    """Up to ``n`` slots (ascending) with the best inverted-list scores among ``mask``.

    Slots ``[0, listed_slots)`` are scored through the inverted ``lists``; the unlisted tail
    (appended since the lists were built) by a direct scan of its distinct centroid ids.
    """
    codes, offsets = doc_codes
    n_slots = int(offsets.shape[0]) - 1
    scores = np.full(n_slots, -np.inf, dtype=np.float32)
    if lists is not None and listed_slots:
        head_mask = None if mask is None else mask[:listed_slots]
        scores[:listed_slots] = probe_scores(lists[0], lists[1], probe, listed_slots, head_mask)
    if listed_slots < n_slots:
        tail = offsets[listed_slots:]
        scores[listed_slots:] = centroid_scores(
            clamped_similarity(sim_rows, probe),
            codes[int(tail[0]) :],
            tail - tail[0],
            None if mask is None else mask[listed_slots:],
        )
    eligible = np.flatnonzero(scores > -np.inf)
    if eligible.size > n:  # partition the eligible scores only: ties cut alike after a remap
        cut = eligible.size - n
        eligible = np.sort(eligible[np.argpartition(scores[eligible], cut)[cut:]])
    return eligible.astype(np.int64)


def narrow_candidates(
    query: F32Array,
    sim_rows: F32Array,
    slots: I64Array,
    doc_codes: tuple[np.ndarray, I64Array],
    store: ResidualStore,
    centroids: F32Array,
    n_decode: int,
    n_rerank: int,
) -> I64Array:
    """The best ``n_rerank`` of candidate ``slots``: the best ``n_decode`` by centroid
    interaction over every centroid id of each candidate, then by MaxSim on their decoded codes.
    """
    sim_t = np.ascontiguousarray(sim_rows.T)
    if slots.size > n_decode:
        ci = centroid_scores_at(sim_t, *doc_codes, slots)
        slots = slots[np.argpartition(-ci, n_decode - 1)[:n_decode]]
    approx = store.score(query, centroids, slots, parallel=slots.size > PARALLEL_RESIDUAL)
    if slots.size > n_rerank:
        slots = slots[np.argpartition(-approx, n_rerank - 1)[:n_rerank]]
    return slots


def rerank_exact(
    query: np.ndarray,
    tokens: np.ndarray,
    offsets: I64Array,
    slots: I64Array,
    k: int,
    scales: F32Array | None,
    *,
    parallel: bool,
) -> SearchResult:
    """Exact MaxSim top-``k`` among ``slots`` only: their rows are gathered (from a memory map:
    only their pages are read) into a small arena for the exact kernel, instead of masking a
    pass over every slot. Ties go to the lower slot, as in a masked search.
    """
    chosen = np.sort(np.asarray(slots, dtype=np.int64))
    rows, sub_offsets = slot_rows(offsets, chosen)
    sub_scales = None if scales is None else np.ascontiguousarray(scales[rows])
    scores = maxsim_scores(
        query, np.ascontiguousarray(tokens[rows]), sub_offsets, parallel=parallel, scales=sub_scales
    )
    best = topk(scores, k)
    return SearchResult(chosen[best.indices], best.scores)
