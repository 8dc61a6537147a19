"""Compiled low-precision MaxSim drivers: bf16 over float arenas, int8 x int8 over int8 arenas.

The same document walk as :mod:`._maxsim_jit` (blocks of 8 rows, the rest in one overlapping
block of 8 or 4; one or two blocks of 4 for documents under 8 rows; work claimed in units of documents, see
:mod:`._sched`), with the micro-kernels of :mod:`._simd`:

- ``maxsim_bf16_claimed``: each block row is widened to float32 and rounded to bfloat16
  (round to nearest even) into a uint16 scratch; the query comes already rounded
  (``qt`` uint16 ``[n_chunks, n_steps, 16, 2]``, see :mod:`._layout`);
- ``maxsim_int8_claimed``: each block row's bytes are offset by 128 (unsigned, as ``vpdpbusd``
  takes them) into a uint8 scratch, with the row scales beside; the query rows are quantised
  per row (``qt`` int8 ``[n_chunks, n_steps, 16, 4]``, ``corr`` = 128 x each row's byte sum,
  ``qscale`` each row's scale), and a document's score is the sum over query rows of
  ``qscale x max_r (dot_r x dscale_r)``.

Kernels trust their inputs; :mod:`.maxsim` validates once. ``isa`` is :data:`._simd.NATIVE` or
:data:`._simd.PORTABLE`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numba import njit

from multivector.kernels._f16 import as_f32
from multivector.kernels._sched import claim
from multivector.kernels._simd import bf16_round, prefetch_row, tile_bf16, tile_int8

__all__ = ["maxsim_bf16_claimed", "maxsim_int8_claimed"]

Array = np.ndarray
_F = TypeVar("_F", bound=Callable[..., Any])
_NEG_INF = np.float32(-np.inf)
_ZERO = np.float32(0.0)
_ROWS = 8
#: Rows ahead of a bf16 block that its copy asks the cache for.
_AHEAD = 64
_LANES = 16


def _kernel(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``, typed so mypy keeps checking the kernels' Python signatures."""
    decorator: Callable[[_F], _F] = njit(**options)
    return decorator


@_kernel(nogil=True, cache=True)
def _load_bf16(tokens: Array, n_rows: int, stop: int, base: int, block: Array, width: int) -> None:
    """Write ``n_rows`` arena rows from ``base`` into ``block`` as bf16 bits (rows past ``stop``
    repeat the last one; dimensions past the arena's width are zero).
    """
    dim = tokens.shape[1]
    last = tokens.shape[0] - 1
    for j in range(n_rows):
        row = min(base + j, stop - 1)
        # measured: a single query over long documents is ~20% faster with the rows 64 ahead
        # asked for (the bf16 tiles take half the float32 cycles, so the stream must keep up)
        prefetch_row(tokens, min(base + _AHEAD + j, last))
        for k in range(dim):
            block[j, k] = bf16_round(as_f32(tokens[row, k]))
        for k in range(dim, width):
            block[j, k] = np.uint16(0)


@_kernel(nogil=True, cache=True)
def _load_int8(
    tokens: Array,
    scales: Array,
    n_rows: int,
    stop: int,
    base: int,
    block: Array,
    width: int,
    dscale: Array,
) -> None:
    """Write ``n_rows`` int8 arena rows from ``base`` into ``block`` as bytes + 128, their scales
    into ``dscale`` (rows past ``stop`` repeat the last one; padding bytes hold 128, i.e. 0).
    """
    dim = tokens.shape[1]
    for j in range(n_rows):
        row = min(base + j, stop - 1)
        dscale[j] = scales[row]
        for k in range(dim):
            block[j, k] = np.uint8(tokens[row, k]) ^ np.uint8(128)
        for k in range(dim, width):
            block[j, k] = np.uint8(128)


@_kernel(nogil=True, cache=True)
def _doc_best_bf16(
    qt: Array, tokens: Array, start: int, stop: int, block: Array, best: Array, isa: Array
) -> None:
    """Fill ``best[r]`` with the max over one non-empty document of the bf16 dot(query row r, row)."""
    n_chunks = qt.shape[0]
    n_steps = qt.shape[1]
    width = 2 * n_steps
    for i in range(n_chunks * _LANES):
        best[i] = _NEG_INF
    if stop - start < _ROWS:
        _load_bf16(tokens, 4, stop, start, block, width)
        for chunk in range(n_chunks):
            tile_bf16(qt, chunk, block, n_steps, best, 4, isa)
        if stop - start > 4:
            _load_bf16(tokens, 4, stop, stop - 4, block, width)
            for chunk in range(n_chunks):
                tile_bf16(qt, chunk, block, n_steps, best, 4, isa)
        return
    base = start
    while base + _ROWS <= stop:
        _load_bf16(tokens, _ROWS, stop, base, block, width)
        for chunk in range(n_chunks):
            tile_bf16(qt, chunk, block, n_steps, best, 8, isa)
        base += _ROWS
    if stop - base > 4:  # the rest, overlapping the previous block (max is idempotent)
        _load_bf16(tokens, _ROWS, stop, stop - _ROWS, block, width)
        for chunk in range(n_chunks):
            tile_bf16(qt, chunk, block, n_steps, best, 8, isa)
    elif stop > base:
        _load_bf16(tokens, 4, stop, stop - 4, block, width)
        for chunk in range(n_chunks):
            tile_bf16(qt, chunk, block, n_steps, best, 4, isa)


@_kernel(nogil=True, cache=True)
def _doc_best_int8(
    qt: Array,
    corr: Array,
    tokens: Array,
    scales: Array,
    start: int,
    stop: int,
    block: Array,
    dscale: Array,
    best: Array,
    isa: Array,
) -> None:
    """Fill ``best[r]`` with the max over one non-empty document of the int8 dot x row scale."""
    n_chunks = qt.shape[0]
    n_steps = qt.shape[1]
    width = 4 * n_steps
    for i in range(n_chunks * _LANES):
        best[i] = _NEG_INF
    if stop - start < _ROWS:
        _load_int8(tokens, scales, 4, stop, start, block, width, dscale)
        for chunk in range(n_chunks):
            tile_int8(qt, chunk, block, n_steps, best, corr, dscale, 4, isa)
        if stop - start > 4:
            _load_int8(tokens, scales, 4, stop, stop - 4, block, width, dscale)
            for chunk in range(n_chunks):
                tile_int8(qt, chunk, block, n_steps, best, corr, dscale, 4, isa)
        return
    base = start
    while base + _ROWS <= stop:
        _load_int8(tokens, scales, _ROWS, stop, base, block, width, dscale)
        for chunk in range(n_chunks):
            tile_int8(qt, chunk, block, n_steps, best, corr, dscale, 8, isa)
        base += _ROWS
    if stop - base > 4:  # the rest, overlapping the previous block (max is idempotent)
        _load_int8(tokens, scales, _ROWS, stop, stop - _ROWS, block, width, dscale)
        for chunk in range(n_chunks):
            tile_int8(qt, chunk, block, n_steps, best, corr, dscale, 8, isa)
    elif stop > base:
        _load_int8(tokens, scales, 4, stop, stop - 4, block, width, dscale)
        for chunk in range(n_chunks):
            tile_int8(qt, chunk, block, n_steps, best, corr, dscale, 4, isa)


@_kernel(nogil=True, cache=True)
def maxsim_bf16_claimed(
    qt: Array,
    lane_starts: Array,
    lengths: Array,
    tokens: Array,
    offsets: Array,
    mask: Array,
    use_mask: bool,
    counter: Array,
    chunk: int,
    out: Array,
    isa: Array,
) -> None:
    """``out[j, i]``: the bf16 MaxSim of query ``j`` and document ``i``, work claimed from ``counter``."""
    n_queries = lengths.shape[0]
    n_docs = offsets.shape[0] - 1
    block = np.empty((_ROWS, 2 * qt.shape[1]), dtype=np.uint16)
    best = np.empty(qt.shape[0] * _LANES, dtype=np.float32)
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
            _doc_best_bf16(qt, tokens, start, stop, block, best, isa)
            for j in range(n_queries):
                total = _ZERO
                for lane in range(lane_starts[j], lane_starts[j] + lengths[j]):
                    total += best[lane]
                out[j, doc] = total


@_kernel(nogil=True, cache=True)
def maxsim_int8_claimed(
    qt: Array,
    corr: Array,
    qscale: Array,
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
    isa: Array,
) -> None:
    """``out[j, i]``: the int8 x int8 MaxSim of query ``j`` and document ``i`` (see the module)."""
    n_queries = lengths.shape[0]
    n_docs = offsets.shape[0] - 1
    block = np.empty((_ROWS, 4 * qt.shape[1]), dtype=np.uint8)
    dscale = np.empty(_ROWS, dtype=np.float32)
    best = np.empty(qt.shape[0] * _LANES, dtype=np.float32)
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
            _doc_best_int8(qt, corr, tokens, scales, start, stop, block, dscale, best, isa)
            for j in range(n_queries):
                total = _ZERO
                for lane in range(lane_starts[j], lane_starts[j] + lengths[j]):
                    total += best[lane] * qscale[lane]
                out[j, doc] = total
