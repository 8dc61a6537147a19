"""Inverted-list candidate scoring (PLAID / XTR style) over centroid ids.

For every query row ``r`` only its ``nprobe`` most similar centroids are *probed*; a document's
approximate score is

    sum over r of ( max sim[c, r] over the document's codes c probed for r, else fallback[r] )

where ``fallback[r]`` is the similarity of the first centroid *not* probed for ``r`` (an upper
bound of what an unprobed code could add: XTR's missing-similarity imputation). This equals
:func:`~.ann_centroid.centroid_scores` over a similarity matrix whose unprobed entries are clamped
to ``fallback`` (see :func:`clamped_similarity`), but it only touches the documents listed under
probed centroids: ``q * nprobe`` inverted lists instead of the whole collection.

Arrays only; the kernels trust their inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numba import njit

from multivector._types import F32Array, I64Array

__all__ = [
    "Probe",
    "clamped_similarity",
    "inverted_lists",
    "probe_centroids",
    "probe_scores",
    "query_similarity",
]

_F = TypeVar("_F", bound=Callable[..., Any])
_NEG_INF = np.float32(-np.inf)


def _kernel(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``, typed so mypy keeps checking the kernels' Python signatures."""
    decorator: Callable[[_F], _F] = njit(**options)
    return decorator


class Probe(NamedTuple):
    """The probed centroids of one query.

    ``ids`` int32 ``[q, p]`` and ``sims`` float32 ``[q, p]``: for each query row its ``p`` most
    similar centroids, most similar first; ``fallback`` float32 ``[q]``: the similarity of the
    next centroid (the best unprobed one), or the lowest similarity when every centroid is probed.
    """

    ids: np.ndarray
    sims: F32Array
    fallback: F32Array


@_kernel(fastmath={"reassoc", "contract", "nsz", "arcp"}, nogil=True, cache=True)
def _similarity_jit(query: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    out = np.empty((query.shape[0], centroids.shape[0]), dtype=np.float32)
    for c in range(centroids.shape[0]):
        for r in range(query.shape[0]):
            acc = np.float32(0.0)
            for k in range(query.shape[1]):
                acc += query[r, k] * centroids[c, k]
            out[r, c] = acc
    return out


def query_similarity(query: F32Array, centroids: F32Array) -> F32Array:
    """``query @ centroids.T`` (float32 ``[q, k]``) without BLAS.

    A query is small: a BLAS call this size is dominated by waking BLAS threads, which on a busy
    machine costs tens of milliseconds; this serial compiled loop takes about one. Both inputs must
    be C-contiguous float32 of the same width.
    """
    out: F32Array = _similarity_jit(query, centroids)
    return out


def probe_centroids(sim_rows: F32Array, nprobe: int) -> Probe:
    """Pick each query row's ``nprobe`` best centroids from ``sim_rows`` ``[q, k]``.

    ``sim_rows[r, c]`` is the dot product of query row ``r`` and centroid ``c``; equal
    similarities may be probed in any order.
    """
    rows = np.ascontiguousarray(sim_rows, dtype=np.float32)
    k = rows.shape[1]
    p = max(1, min(nprobe, k))
    if p < k:
        part = np.argpartition(-rows, p, axis=1)[:, : p + 1]
        part_sims = np.take_along_axis(rows, part, axis=1)
        order = np.argsort(-part_sims, axis=1, kind="stable")
        ranked = np.take_along_axis(part, order, axis=1)
        ids = ranked[:, :p]
        # the (p+1)-th best: the largest similarity outside the probed set
        fallback = np.take_along_axis(part_sims, order[:, p : p + 1], axis=1)[:, 0]
    else:
        ids = np.argsort(-rows, axis=1, kind="stable")
        fallback = rows.min(axis=1)
    sims = np.take_along_axis(rows, ids, axis=1)
    return Probe(
        np.ascontiguousarray(ids, dtype=np.int32),
        np.ascontiguousarray(sims, dtype=np.float32),
        np.ascontiguousarray(fallback, dtype=np.float32),
    )


def clamped_similarity(sim_rows: F32Array, probe: Probe) -> F32Array:
    """The ``[k, q]`` matrix for :func:`~.ann_centroid.centroid_scores` that gives the same scores
    as :func:`probe_scores`: ``sim_rows.T`` with every unprobed entry replaced by its fallback.
    """
    out = np.empty((sim_rows.shape[1], sim_rows.shape[0]), dtype=np.float32)
    out[:] = probe.fallback[None, :]
    for r in range(sim_rows.shape[0]):
        out[probe.ids[r], r] = sim_rows[r, probe.ids[r]]
    return out


def inverted_lists(
    codes: np.ndarray, offsets: I64Array, n_centroids: int
) -> tuple[np.ndarray, I64Array]:
    """Centroid -> documents lists from per-document distinct codes.

    Returns ``docs`` int32 and ``list_offsets`` int64 ``[n_centroids + 1]``: centroid ``c`` lists
    ``docs[list_offsets[c]:list_offsets[c + 1]]`` in increasing document order.
    """
    lengths = np.diff(offsets)
    doc_of = np.repeat(np.arange(lengths.shape[0], dtype=np.int32), lengths)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=n_centroids).astype(np.int64)
    list_offsets = np.zeros(n_centroids + 1, dtype=np.int64)
    np.cumsum(counts, out=list_offsets[1:])
    return np.ascontiguousarray(doc_of[order]), list_offsets


@_kernel(nogil=True, cache=True)
def _probe_scores_jit(
    docs: np.ndarray,
    list_offsets: np.ndarray,
    ids: np.ndarray,
    sims: np.ndarray,
    fallback: np.ndarray,
    mask: np.ndarray,
    use_mask: bool,
    n_docs: int,
) -> np.ndarray:
    gain = np.zeros(n_docs, dtype=np.float32)
    stamp = np.full(n_docs, -1, dtype=np.int32)
    base = np.float32(0.0)
    for r in range(ids.shape[0]):
        base += fallback[r]
        for j in range(ids.shape[1]):  # most similar first: the first hit of a document is its max
            c = ids[r, j]
            extra = sims[r, j] - fallback[r]
            for e in range(list_offsets[c], list_offsets[c + 1]):
                d = docs[e]
                if stamp[d] == r or (use_mask and not mask[d]):
                    continue
                stamp[d] = r
                gain[d] += extra
    out = np.empty(n_docs, dtype=np.float32)
    for d in range(n_docs):
        out[d] = base + gain[d] if stamp[d] >= 0 else _NEG_INF
    return out


_NO_MASK = np.ones(0, dtype=np.bool_)


def probe_scores(
    docs: np.ndarray,
    list_offsets: I64Array,
    probe: Probe,
    n_docs: int,
    mask: np.ndarray | None = None,
) -> F32Array:
    """Approximate scores float32 ``[n_docs]`` from the inverted lists.

    Documents listed under no probed centroid (or masked out) score -inf; the others score as in
    the module docstring. ``docs`` must hold ids ``< n_docs``; ``mask`` is None or bool ``[n_docs]``.
    """
    use_mask = mask is not None
    keep = mask if mask is not None else _NO_MASK
    out: F32Array = _probe_scores_jit(
        docs, list_offsets, probe.ids, probe.sims, probe.fallback, keep, use_mask, n_docs
    )
    return out
