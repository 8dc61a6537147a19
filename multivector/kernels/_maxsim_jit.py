"""Compiled exact MaxSim over a packed token arena: the numba kernels behind :mod:`.maxsim`.

Layout: ``queries`` ``[R, d]`` float32 stacks the token rows of one or more queries, query ``j``
owning rows ``query_offsets[j]:query_offsets[j + 1]``; ``tokens`` ``[capacity, d]`` is the arena,
float32 or float16 bits as uint16 (see :mod:`._f16`); document ``i`` owns rows
``offsets[i]:offsets[i + 1]``. ``scores[j, i]`` = sum over query ``j``'s rows of the max over
document ``i``'s rows of the dot product, or -inf for an empty or masked-out document.

How it is fast (and why it looks the way it does):

- one pass over the arena serves every query of a batch: each document is read once, while all
  query rows (a few KiB, L1/L2 resident) are scored against it;
- a register-blocked micro-kernel scores 4 query rows against 4 document rows at once: 16
  accumulators vectorised over the embedding dimension, 8 loads per 16 fused multiply-adds;
- a document is walked in blocks of 4 rows; the last block overlaps the previous one instead of
  being padded (max is idempotent), so only documents shorter than 4 rows take the slow path;
- kernels index the full arrays with computed offsets and never slice: a view inside the
  ``prange`` body costs numba its no-alias knowledge and the loop its vectorisation;
- ``fastmath`` is limited to reassociation and contraction (needed to vectorise the dot products);
  ``nnan``/``ninf`` stay off because -inf is a real value here (the start of every max).

Kernels trust their inputs; :mod:`.maxsim` validates once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numba import njit, prange

from multivector.kernels._f16 import as_f32

__all__ = ["maxsim_parallel", "maxsim_serial"]

Array = np.ndarray
_F = TypeVar("_F", bound=Callable[..., Any])


def _kernel(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``, typed so mypy keeps checking the kernels' Python signatures."""
    decorator: Callable[[_F], _F] = njit(**options)
    return decorator


_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_NEG_INF = np.float32(-np.inf)
_ZERO = np.float32(0.0)
#: Documents per scheduling unit of the parallel loop (each unit owns one scratch buffer).
_CHUNK = 64
#: Document rows per micro-kernel block; shorter documents take :func:`_short_doc`.
_DOC_BLOCK = 4


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _block_4x4(queries: Array, tokens: Array, row: int, base: int, best: Array) -> None:
    """Raise ``best[row:row+4]`` to the max dot product with arena rows ``base:base+4``."""
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = _ZERO
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = _ZERO
    for k in range(queries.shape[1]):
        t0 = as_f32(tokens[base, k])
        t1 = as_f32(tokens[base + 1, k])
        t2 = as_f32(tokens[base + 2, k])
        t3 = as_f32(tokens[base + 3, k])
        x0 = queries[row, k]
        s00 += x0 * t0
        s01 += x0 * t1
        s02 += x0 * t2
        s03 += x0 * t3
        x1 = queries[row + 1, k]
        s10 += x1 * t0
        s11 += x1 * t1
        s12 += x1 * t2
        s13 += x1 * t3
        x2 = queries[row + 2, k]
        s20 += x2 * t0
        s21 += x2 * t1
        s22 += x2 * t2
        s23 += x2 * t3
        x3 = queries[row + 3, k]
        s30 += x3 * t0
        s31 += x3 * t1
        s32 += x3 * t2
        s33 += x3 * t3
    best[row] = max(best[row], max(max(s00, s01), max(s02, s03)))
    best[row + 1] = max(best[row + 1], max(max(s10, s11), max(s12, s13)))
    best[row + 2] = max(best[row + 2], max(max(s20, s21), max(s22, s23)))
    best[row + 3] = max(best[row + 3], max(max(s30, s31), max(s32, s33)))


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _block_1x4(queries: Array, tokens: Array, row: int, base: int, best: Array) -> None:
    """Raise ``best[row]`` to the max dot product with arena rows ``base:base+4``."""
    s0 = s1 = s2 = s3 = _ZERO
    for k in range(queries.shape[1]):
        x = queries[row, k]
        s0 += x * as_f32(tokens[base, k])
        s1 += x * as_f32(tokens[base + 1, k])
        s2 += x * as_f32(tokens[base + 2, k])
        s3 += x * as_f32(tokens[base + 3, k])
    best[row] = max(best[row], max(max(s0, s1), max(s2, s3)))


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _short_doc(queries: Array, tokens: Array, start: int, stop: int, best: Array) -> None:
    """``best[r]`` = max over arena rows ``start:stop`` of the dot product with query row ``r``."""
    for row in range(queries.shape[0]):
        top = _NEG_INF
        for t in range(start, stop):
            acc = _ZERO
            for k in range(queries.shape[1]):
                acc += queries[row, k] * as_f32(tokens[t, k])
            top = max(top, acc)
        best[row] = top


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _doc_best(queries: Array, tokens: Array, start: int, stop: int, best: Array) -> None:
    """Fill ``best[r]`` with the max dot product of query row ``r`` over one document (non-empty)."""
    n_rows = queries.shape[0]
    if stop - start < _DOC_BLOCK:
        _short_doc(queries, tokens, start, stop, best)
        return
    for row in range(n_rows):
        best[row] = _NEG_INF
    base = start
    while base < stop:
        if base + _DOC_BLOCK > stop:  # overlap the last block with the previous one
            base = stop - _DOC_BLOCK
        row = 0
        while row + 4 <= n_rows:
            _block_4x4(queries, tokens, row, base, best)
            row += 4
        while row < n_rows:
            _block_1x4(queries, tokens, row, base, best)
            row += 1
        base += _DOC_BLOCK


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _score_docs(
    queries: Array,
    query_offsets: Array,
    tokens: Array,
    offsets: Array,
    mask: Array,
    use_mask: bool,
    lo: int,
    hi: int,
    best: Array,
    out: Array,
) -> None:
    """Write ``out[:, lo:hi]``: the MaxSim of every query against documents ``lo:hi``."""
    n_queries = query_offsets.shape[0] - 1
    for doc in range(lo, hi):
        start = offsets[doc]
        stop = offsets[doc + 1]
        if stop <= start or (use_mask and not mask[doc]):
            for j in range(n_queries):
                out[j, doc] = _NEG_INF
            continue
        _doc_best(queries, tokens, start, stop, best)
        for j in range(n_queries):
            total = _ZERO
            for row in range(query_offsets[j], query_offsets[j + 1]):
                total += best[row]
            out[j, doc] = total


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True, parallel=True)
def maxsim_parallel(
    queries: Array, query_offsets: Array, tokens: Array, offsets: Array, mask: Array, use_mask: bool
) -> Array:
    """MaxSim scores ``[n_queries, n_docs]`` float32, documents spread over numba's threads."""
    n_docs = offsets.shape[0] - 1
    out = np.empty((query_offsets.shape[0] - 1, n_docs), dtype=np.float32)
    n_chunks = (n_docs + _CHUNK - 1) // _CHUNK
    for chunk in prange(n_chunks):
        best = np.empty(queries.shape[0], dtype=np.float32)
        lo = chunk * _CHUNK
        hi = min(n_docs, lo + _CHUNK)
        _score_docs(queries, query_offsets, tokens, offsets, mask, use_mask, lo, hi, best, out)
    return out


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def maxsim_serial(
    queries: Array, query_offsets: Array, tokens: Array, offsets: Array, mask: Array, use_mask: bool
) -> Array:
    """Same result as :func:`maxsim_parallel`, on the calling thread only."""
    n_docs = offsets.shape[0] - 1
    out = np.empty((query_offsets.shape[0] - 1, n_docs), dtype=np.float32)
    best = np.empty(queries.shape[0], dtype=np.float32)
    _score_docs(queries, query_offsets, tokens, offsets, mask, use_mask, 0, n_docs, best, out)
    return out
