"""Array steps of the PLAID index (:mod:`.ann_index`): assigning and encoding a whole arena at
training, and the inverted-list candidate stage of a search.

Functions over arrays only (the index owns the state): float16, float32 or int8 arenas (int8
rows are dequantised block by block, never as a whole).
"""

from __future__ import annotations

import numpy as np

from multivector._types import BoolArray, F32Array, I64Array
from multivector.backends.embedded.ann_compressed import ResidualStore
from multivector.kernels.ann_centroid import centroid_scores
from multivector.kernels.ann_kmeans import assign_centroids
from multivector.kernels.ann_probe import Probe, clamped_similarity, probe_scores
from multivector.kernels.ann_residual import fit_codec
from multivector.kernels.quantize import dequantize_int8

__all__ = ["assign_all", "encode_all", "float_rows", "list_candidates"]

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
    if eligible.size > n:
        best = np.argpartition(-scores[eligible], n - 1)[:n]
        eligible = np.sort(eligible[best])
    return eligible.astype(np.int64)
