"""PLAID-style centroid interaction: an approximate MaxSim computed from centroid ids alone.

Every token of a document is replaced by the id of its nearest centroid; a document keeps only
its *distinct* ids (``codes``, packed like the token arena: document ``i`` owns
``codes[code_offsets[i]:code_offsets[i + 1]]``). With ``sim[c, r]`` = dot(centroid ``c``, query
row ``r``), the approximate score of a document is

    sum over query rows r of max over the document's codes c of sim[c, r]

i.e. MaxSim with every token snapped to its centroid. It costs one ``[k, q]`` matrix product per
query plus ``q`` max operations per distinct code, so it ranks a whole collection in a few
milliseconds and picks the candidates that exact MaxSim then reranks.

Arrays only; the kernels trust their inputs (:mod:`multivector.backends.embedded.ann_index` validates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numba import njit, prange

from multivector._types import F32Array, I64Array

__all__ = ["PackedCodes", "centroid_scores", "centroid_scores_at", "distinct_codes"]

_F = TypeVar("_F", bound=Callable[..., Any])
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_NEG_INF = np.float32(-np.inf)
_CHUNK = 256


def _kernel(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``, typed so mypy keeps checking the kernels' Python signatures."""
    decorator: Callable[[_F], _F] = njit(**options)
    return decorator


class PackedCodes(NamedTuple):
    """Distinct centroid ids per document: ``codes`` int32 and ``offsets`` int64 ``[n + 1]``."""

    codes: np.ndarray
    offsets: I64Array


@_kernel(nogil=True, cache=True)
def _distinct_codes_jit(
    token_codes: np.ndarray, offsets: np.ndarray, out_codes: np.ndarray, out_offsets: np.ndarray
) -> int:
    """Write each document's sorted distinct codes; return how many codes were written."""
    pos = 0
    out_offsets[0] = 0
    for doc in range(offsets.shape[0] - 1):
        start = offsets[doc]
        stop = offsets[doc + 1]
        if stop > start:
            seg = np.sort(token_codes[start:stop])
            out_codes[pos] = seg[0]
            pos += 1
            for t in range(1, seg.shape[0]):
                if seg[t] != seg[t - 1]:
                    out_codes[pos] = seg[t]
                    pos += 1
        out_offsets[doc + 1] = pos
    return pos


def distinct_codes(token_codes: np.ndarray, offsets: I64Array) -> PackedCodes:
    """Collapse per-token centroid ids to each document's sorted distinct ids.

    ``token_codes`` int32 ``[T]`` is aligned with the token rows; ``offsets`` int64 ``[n + 1]``
    delimits documents (``offsets[0]`` may be > 0: only rows ``offsets[0]:offsets[-1]`` are read,
    relative to ``token_codes[0]`` = row ``offsets[0]``).
    """
    rel = np.ascontiguousarray(offsets - offsets[0], dtype=np.int64)
    codes = np.ascontiguousarray(token_codes, dtype=np.int32)
    out = np.empty(int(rel[-1]), dtype=np.int32)
    out_offsets = np.empty(rel.shape[0], dtype=np.int64)
    used = _distinct_codes_jit(codes, rel, out, out_offsets)
    return PackedCodes(out[:used].copy(), out_offsets)


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _score_range(
    sim: np.ndarray,
    codes: np.ndarray,
    offsets: np.ndarray,
    mask: np.ndarray,
    use_mask: bool,
    lo: int,
    hi: int,
    best: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[lo:hi]``: centroid-interaction scores of documents ``lo:hi``."""
    for doc in range(lo, hi):
        if use_mask and not mask[doc]:
            out[doc] = _NEG_INF
        else:
            out[doc] = _score_one(sim, codes, offsets[doc], offsets[doc + 1], best)


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _score_one(sim: np.ndarray, codes: np.ndarray, start: int, stop: int, best: np.ndarray) -> Any:
    """One document's centroid-interaction score from its codes ``start:stop`` (-inf: none)."""
    if stop <= start:
        return _NEG_INF
    n_rows = sim.shape[1]
    first = codes[start]
    for r in range(n_rows):
        best[r] = sim[first, r]
    for j in range(start + 1, stop):
        c = codes[j]
        for r in range(n_rows):
            best[r] = max(best[r], sim[c, r])
    total = np.float32(0.0)
    for r in range(n_rows):
        total += best[r]
    return total


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True, parallel=True)
def _scores_parallel(
    sim: np.ndarray, codes: np.ndarray, offsets: np.ndarray, mask: np.ndarray, use_mask: bool
) -> np.ndarray:
    n_docs = offsets.shape[0] - 1
    out = np.empty(n_docs, dtype=np.float32)
    n_chunks = (n_docs + _CHUNK - 1) // _CHUNK
    for chunk in prange(n_chunks):
        best = np.empty(sim.shape[1], dtype=np.float32)
        lo = chunk * _CHUNK
        hi = min(n_docs, lo + _CHUNK)
        _score_range(sim, codes, offsets, mask, use_mask, lo, hi, best, out)
    return out


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _scores_serial(
    sim: np.ndarray, codes: np.ndarray, offsets: np.ndarray, mask: np.ndarray, use_mask: bool
) -> np.ndarray:
    n_docs = offsets.shape[0] - 1
    out = np.empty(n_docs, dtype=np.float32)
    best = np.empty(sim.shape[1], dtype=np.float32)
    _score_range(sim, codes, offsets, mask, use_mask, 0, n_docs, best, out)
    return out


_NO_MASK = np.ones(0, dtype=np.bool_)


def centroid_scores(
    sim: F32Array,
    codes: np.ndarray,
    offsets: I64Array,
    mask: np.ndarray | None = None,
    *,
    parallel: bool = True,
) -> F32Array:
    """Centroid-interaction score of every document: float32 ``[n]``.

    ``sim`` is the C-contiguous float32 ``[k, q]`` matrix of centroid-by-query-row dot products,
    ``codes`` int32 centroid ids ``< k``, ``offsets`` int64 ``[n + 1]`` starting at 0, ``mask``
    None or bool ``[n]``. Documents without codes or masked out score -inf.
    """
    use_mask = mask is not None
    keep = mask if mask is not None else _NO_MASK
    kernel = _scores_parallel if parallel else _scores_serial
    out: F32Array = kernel(sim, codes, offsets, keep, use_mask)
    return out


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _scores_at_jit(
    sim: np.ndarray, codes: np.ndarray, offsets: np.ndarray, slots: np.ndarray
) -> np.ndarray:
    out = np.empty(slots.shape[0], dtype=np.float32)
    best = np.empty(sim.shape[1], dtype=np.float32)
    for i in range(slots.shape[0]):
        doc = slots[i]
        out[i] = _score_one(sim, codes, offsets[doc], offsets[doc + 1], best)
    return out


def centroid_scores_at(
    sim: F32Array, codes: np.ndarray, offsets: I64Array, slots: I64Array
) -> F32Array:
    """Centroid-interaction scores of documents ``slots`` only (float32 ``[len(slots)]``;
    arguments as for :func:`centroid_scores`, -inf for a document without codes).
    """
    out: F32Array = _scores_at_jit(sim, codes, offsets, np.ascontiguousarray(slots, np.int64))
    return out
