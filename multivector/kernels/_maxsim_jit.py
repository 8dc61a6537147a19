"""Compiled exact MaxSim over a packed token arena: the numba kernels behind :mod:`.maxsim`.

Layout: ``qt`` ``[n_groups, d, 16]`` float32 holds the rows of one or more queries, transposed
in zero-padded groups of 16 (query ``j`` owns lanes ``lane_starts[j] : lane_starts[j] +
lengths[j]``); ``tokens`` ``[capacity, d]`` is the arena, float32, float16 bits as uint16 (see
:mod:`._f16`) or int8 with the float32 per-row ``scales`` ``[capacity]`` (an empty array for the
float arenas; see :mod:`._widen`); document ``i`` owns rows ``offsets[i]:offsets[i + 1]``.
``scores[j, i]`` = sum over query ``j``'s rows of the max over document ``i``'s rows of the dot product, or -inf for an empty
or masked-out document.

How it is fast (and why it looks the way it does):

- the micro-kernel (:func:`._simd.tile_f32`, written in LLVM IR) vectorises over query tokens:
  16 query rows x 8 document rows = 8 zmm accumulators; per embedding dimension one vector load
  of the query lanes and 8 broadcast fused multiply-adds, no horizontal sums: the inner loop of
  a GEMM micro-kernel;
- a document is walked in blocks of 8 rows, copied (float16 widened, int8 times its row scale)
  into a small 2-D float32 scratch that stays in L1 (2-D so the copy loop's indices are known
  non-negative and it vectorises); the rest after the full blocks takes one block of 8 or of 4
  rows overlapping the previous one instead of being padded (max is idempotent), so a document
  of 8 rows or more computes at most 3 rows more than it has. A document shorter than 8 rows
  takes one or two 4-row blocks, overlapping or repeating its last row;
- one pass over the arena serves every query of a batch: each block is loaded once and scored
  against all query groups (L1/L2 resident);
- work is claimed in units of documents from an atomic counter (:mod:`._sched`): the same
  kernel runs on the caller's thread alone or on several threads at once;
- each accumulator is a plain sequential sum of FMAs, so results are deterministic and do not
  depend on the number of threads; no ``nnan``/``ninf``: -inf is a real value here (the start of
  every max).

Kernels trust their inputs; :mod:`.maxsim` validates once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numba import njit

from multivector.kernels._sched import claim
from multivector.kernels._simd import tile_f32
from multivector.kernels._widen import widen_row

__all__ = ["LANES", "maxsim_claimed"]

Array = np.ndarray
_F = TypeVar("_F", bound=Callable[..., Any])


def _kernel(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``, typed so mypy keeps checking the kernels' Python signatures."""
    decorator: Callable[[_F], _F] = njit(**options)
    return decorator


#: Only contraction into fused multiply-adds; no reassociation is needed (every accumulator is a
#: plain sequential sum) and ``nnan``/``ninf`` must stay off: -inf is the start of every max.
_FASTMATH = {"contract"}
_NEG_INF = np.float32(-np.inf)
_ZERO = np.float32(0.0)
#: Query rows per SIMD vector: the micro-kernel vectorises over query tokens.
LANES = 16
#: Document rows per micro-kernel block (``LANES * ROWS`` = 128 accumulators = 8 zmm registers).
ROWS = 8


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _load_block(
    tokens: Array, scales: Array, n_rows: int, stop: int, base: int, block: Array
) -> None:
    """Copy ``n_rows`` arena rows from ``base`` into ``block[:n_rows]`` as float32 (widening
    float16 bits, or int8 values times their row's scale).

    Rows at or past ``stop`` repeat the document's last row: duplicates leave every max unchanged.
    """
    for j in range(n_rows):
        widen_row(tokens, scales, min(base + j, stop - 1), block, j)


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def _doc_best(
    qt: Array, tokens: Array, scales: Array, start: int, stop: int, block: Array, best: Array
) -> None:
    """Fill ``best[r]`` with the max over one non-empty document of dot(query row r, doc row)."""
    n_chunks = qt.shape[0]
    dim = tokens.shape[1]
    for i in range(n_chunks * LANES):
        best[i] = _NEG_INF
    if stop - start < ROWS:  # short: one or two blocks of 4 (repeated or overlapping rows)
        _load_block(tokens, scales, 4, stop, start, block)
        for chunk in range(n_chunks):
            tile_f32(qt, chunk, block, dim, best, 4)
        if stop - start > 4:
            _load_block(tokens, scales, 4, stop, stop - 4, block)
            for chunk in range(n_chunks):
                tile_f32(qt, chunk, block, dim, best, 4)
        return
    base = start
    while base + ROWS <= stop:
        _load_block(tokens, scales, ROWS, stop, base, block)
        for chunk in range(n_chunks):
            tile_f32(qt, chunk, block, dim, best, 8)
        base += ROWS
    # the rest (1-7 rows) in one block overlapping the previous (max is idempotent): 4 rows
    # when it fits, so a document computes at most 3 rows more than it has
    if stop - base > 4:
        _load_block(tokens, scales, ROWS, stop, stop - ROWS, block)
        for chunk in range(n_chunks):
            tile_f32(qt, chunk, block, dim, best, 8)
    elif stop > base:
        _load_block(tokens, scales, 4, stop, stop - 4, block)
        for chunk in range(n_chunks):
            tile_f32(qt, chunk, block, dim, best, 4)


@_kernel(fastmath=_FASTMATH, nogil=True, cache=True)
def maxsim_claimed(
    qt: Array,
    lane_starts: Array,
    lengths: Array,
    tokens: Array,
    scales: Array,
    offsets: Array,
    mask: Array,
    use_mask: bool,
    counter: Array,
    chunk: int,
    out: Array,
) -> None:
    """Write ``out[j, i]``: the MaxSim of query ``j`` against document ``i``, for every document.

    Work is claimed from ``counter`` in units of ``chunk`` documents (see :mod:`._sched`), so
    several threads may run this on the same arguments at once; each unit is scored by exactly
    one of them, with the same arithmetic whoever it is.
    """
    n_queries = lengths.shape[0]
    n_docs = offsets.shape[0] - 1
    block = np.empty((ROWS, tokens.shape[1]), dtype=np.float32)
    best = np.empty(qt.shape[0] * LANES, dtype=np.float32)
    while True:
        lo = claim(counter) * chunk
        if lo >= n_docs:
            return
        for doc in range(lo, min(n_docs, lo + chunk)):
            start = offsets[doc]
            stop = offsets[doc + 1]
            if stop <= start or (use_mask and not mask[doc]):
                for j in range(n_queries):
                    out[j, doc] = _NEG_INF
                continue
            _doc_best(qt, tokens, scales, start, stop, block, best)
            for j in range(n_queries):
                total = _ZERO
                for lane in range(lane_starts[j], lane_starts[j] + lengths[j]):
                    total += best[lane]
                out[j, doc] = total
