"""Exact late-interaction (ColBERT "MaxSim") scoring and search over a packed token arena.

``MaxSim(Q, D) = sum over query tokens q of max over document tokens t of dot(q, t)``, the max
starting from -inf (negative similarities are real), accumulated in float32.

Inputs (validated once here; the compiled kernels in :mod:`._maxsim_jit` trust them):

- ``query``: ``[q, d]`` matrix, ``q >= 1``, any real dtype; laid out once per call as float32
  (transposed, in groups of 16 rows: it is small).
  Finite values are the caller's job (the store rejects NaN / inf at insert and query time):
  a NaN in the query makes scores -inf (or NaN), which :func:`~.topk.topk` never returns.
- ``tokens``: the arena, C-contiguous ``[capacity, d]`` float32, float16 or int8, never copied
  (a read-only memory map works); only rows ``< offsets[-1]`` are read.
- ``scales``: keyword, required for (and only for) an int8 arena: float32 ``[capacity]``, row
  ``r`` holds the values ``tokens[r] * scales[r]`` (see :mod:`.quantize`).
- ``offsets``: int64 ``[N + 1]``, ``offsets[0] == 0``, non-decreasing; document ``i`` owns rows
  ``offsets[i]:offsets[i + 1]``. An empty document scores -inf and never matches.
- ``mask``: ``None`` or bool ``[N]``; ``False`` excludes a document (deleted / filtered out).

``precision``: ``"float32"`` (the default, exact), ``"bfloat16"`` (float arenas, ``vdpbf16ps``)
or ``"int8"`` (int8 arenas, the query quantised too, ``vpdpbusd``); see :data:`PRECISIONS` and
docs/performance.md. The two low-precision modes are approximate (top-10 agreement with float32
>= 0.99 on clustered token geometry) and fall back to portable code on CPUs without the
instructions.

``parallel=True`` (the default) spreads documents over ``numba.get_num_threads()`` threads (set
with ``numba.set_num_threads``): the caller's and a small pool of ours, claiming units of documents
dynamically (:mod:`._sched`), so a thread slowed by other work (OpenBLAS's spinning workers, other
processes) does not hold up the call. See docs/performance.md for running next to BLAS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from multivector._types import BoolArray, F32Array, I64Array
from multivector.errors import ConfigError, DimensionMismatchError, InvalidVectorError
from multivector.kernels._isa import BF16_ISA, INT8_ISA
from multivector.kernels._layout import bf16_queries, int8_queries
from multivector.kernels._maxsim_jit import LANES, maxsim_claimed
from multivector.kernels._maxsim_lowp import maxsim_bf16_claimed, maxsim_int8_claimed
from multivector.kernels._sched import new_counter, run_claimed
from multivector.kernels.topk import SearchResult, check_k, topk

__all__ = [
    "PRECISIONS",
    "maxsim_scores",
    "maxsim_scores_batch",
    "maxsim_search",
    "maxsim_search_batch",
]

#: ``precision=``: float32 arithmetic over the stored values (the default: exact for float arenas,
#: the dequantised values for int8); ``"bfloat16"`` (float arenas: query and tokens rounded to
#: bf16, products summed in float32, ``vdpbf16ps``); ``"int8"`` (int8 arenas: the query rows
#: quantised to int8 too, exact integer dot products, ``vpdpbusd``). The last two are approximate.
PRECISIONS = ("float32", "bfloat16", "int8")
_NO_MASK = np.ones(0, dtype=np.bool_)
_NO_SCALES = np.ones(0, dtype=np.float32)
#: Below this many multiply-adds (about 0.1 ms on one core) a call stays on the caller's thread.
_PARALLEL_WORK = 4_000_000
#: Documents per work unit at most, and units per thread at least (for dynamic balance).
_MAX_CHUNK = 64
_UNITS_PER_THREAD = 16


def maxsim_scores(
    query: np.ndarray,
    tokens: np.ndarray,
    offsets: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    parallel: bool = True,
    scales: np.ndarray | None = None,
    precision: str = "float32",
) -> F32Array:
    """Return the MaxSim score of ``query`` against every document: float32 ``[N]``.

    Excluded (``mask`` False) and empty documents score -inf. ``precision`` selects the
    arithmetic: ``"float32"`` (exact), ``"bfloat16"`` or ``"int8"`` (see the module docstring).

    Raises:
        InvalidVectorError: ``query`` is not a non-empty 2-D matrix.
        DimensionMismatchError: ``query``'s width differs from the arena's.
        ConfigError: ``tokens``, ``offsets`` or ``mask`` are malformed, or ``precision`` is
            unknown or does not fit the arena's dtype.

    """
    scores: F32Array = maxsim_scores_batch(
        [query], tokens, offsets, mask, parallel=parallel, scales=scales, precision=precision
    )[0]
    return scores


def maxsim_scores_batch(
    queries: Sequence[np.ndarray],
    tokens: np.ndarray,
    offsets: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    parallel: bool = True,
    scales: np.ndarray | None = None,
    precision: str = "float32",
) -> F32Array:
    """Score several queries in one pass over the arena: float32 ``[len(queries), N]``.

    Row ``j`` equals ``maxsim_scores(queries[j], ...)``. Raises like :func:`maxsim_scores`.
    """
    arena, bounds, keep, use_mask = _check_arena(tokens, offsets, mask)
    row_scales = _check_scales(tokens, scales)
    _check_precision(precision, tokens.dtype)
    qt, lane_starts, lengths = _stack_queries(queries, dim=arena.shape[1])
    if lengths.shape[0] == 0:
        return np.empty((0, bounds.shape[0] - 1), dtype=np.float32)
    n_docs = bounds.shape[0] - 1
    out: F32Array = np.empty((lengths.shape[0], n_docs), dtype=np.float32)
    work = int(bounds[-1]) * qt.shape[0] * qt.shape[2] * arena.shape[1]
    threads = numba.get_num_threads() if parallel and work >= _PARALLEL_WORK else 1
    chunk = max(1, min(_MAX_CHUNK, n_docs // (threads * _UNITS_PER_THREAD)))
    claimed = new_counter(), chunk, out
    if precision == "bfloat16":
        bf16 = bf16_queries(qt)
        args: tuple[Any, ...] = (bf16, lane_starts, lengths, arena, bounds, keep, use_mask)
        run_claimed(maxsim_bf16_claimed, (*args, *claimed, BF16_ISA), threads=threads)
    elif precision == "int8":
        q8 = int8_queries(qt)
        args = (*q8, lane_starts, lengths, arena, row_scales, bounds, keep, use_mask)
        run_claimed(maxsim_int8_claimed, (*args, *claimed, INT8_ISA), threads=threads)
    else:
        args = (qt, lane_starts, lengths, arena, row_scales, bounds, keep, use_mask)
        run_claimed(maxsim_claimed, (*args, *claimed), threads=threads)
    return out


def maxsim_search(
    query: np.ndarray,
    tokens: np.ndarray,
    offsets: np.ndarray,
    k: int,
    mask: np.ndarray | None = None,
    *,
    parallel: bool = True,
    scales: np.ndarray | None = None,
    precision: str = "float32",
) -> SearchResult:
    """Return the ``k`` documents with the highest MaxSim, best first (exact search).

    ``m = min(k, number of eligible documents)`` results; equal scores are ordered by lower index;
    excluded and empty documents are never returned.

    Raises:
        ConfigError: ``k`` is negative, or ``tokens`` / ``offsets`` / ``mask`` are malformed.
        InvalidVectorError: ``query`` is not a non-empty 2-D matrix of the arena's width.

    """
    found = maxsim_search_batch(
        [query], tokens, offsets, k, mask, parallel=parallel, scales=scales, precision=precision
    )
    return found[0]


def maxsim_search_batch(
    queries: Sequence[np.ndarray],
    tokens: np.ndarray,
    offsets: np.ndarray,
    k: int,
    mask: np.ndarray | None = None,
    *,
    parallel: bool = True,
    scales: np.ndarray | None = None,
    precision: str = "float32",
) -> list[SearchResult]:
    """Run :func:`maxsim_search` for several queries with one pass over the arena.

    Returns one :class:`~.topk.SearchResult` per query, in order (an empty list for no queries).
    """
    k = check_k(k)
    scores = maxsim_scores_batch(
        queries, tokens, offsets, mask, parallel=parallel, scales=scales, precision=precision
    )
    return [topk(row, k) for row in scores]


def _check_arena(
    tokens: Any, offsets: Any, mask: Any
) -> tuple[np.ndarray, I64Array, BoolArray, bool]:
    """Validate the arena, offsets and mask; return what the kernels take (the arena never copied)."""
    if not isinstance(tokens, np.ndarray) or tokens.ndim != 2:
        shape = getattr(tokens, "shape", None)
        raise ConfigError(f"tokens must be a 2-D numpy array [capacity, dim], got shape {shape}")
    if tokens.dtype == np.float16:
        arena = tokens.view(np.uint16) if tokens.flags.c_contiguous else tokens
    elif tokens.dtype in (np.float32, np.int8):
        arena = tokens
    else:
        raise ConfigError(
            f"tokens must be float32, float16 or int8 (with scales), got {tokens.dtype}; "
            "convert the arena"
        )
    if not arena.flags.c_contiguous:
        raise ConfigError("tokens must be C-contiguous; pass np.ascontiguousarray(tokens) once")
    if tokens.shape[1] == 0:
        raise ConfigError("tokens have width 0; a vector space needs dim >= 1")
    if not isinstance(offsets, np.ndarray) or offsets.dtype != np.int64 or offsets.ndim != 1:
        raise ConfigError(
            f"offsets must be a 1-D int64 array [n_docs + 1], got "
            f"{getattr(offsets, 'dtype', type(offsets).__name__)} "
            f"shape {getattr(offsets, 'shape', None)}"
        )
    if offsets.shape[0] == 0 or offsets[0] != 0:
        raise ConfigError("offsets must start with 0 (offsets[0] == 0, length n_docs + 1)")
    if offsets[-1] > tokens.shape[0]:
        raise ConfigError(f"offsets[-1] = {offsets[-1]} exceeds the arena's {tokens.shape[0]} rows")
    if offsets.shape[0] > 1 and bool(np.any(offsets[1:] < offsets[:-1])):
        raise ConfigError(
            "offsets must be non-decreasing (document i owns offsets[i]:offsets[i+1])"
        )
    n_docs = offsets.shape[0] - 1
    # numba compiles read-only arrays separately: copy the small index arrays rather than
    # compile (and cache) a variant for every read-only combination; the arena is never copied
    bounds = offsets if offsets.flags.writeable else offsets.copy()
    if mask is None:
        return arena, bounds, _NO_MASK, False
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (n_docs,):
        raise ConfigError(
            f"mask must be None or a bool array of shape ({n_docs},), got "
            f"{getattr(mask, 'dtype', type(mask).__name__)} shape {getattr(mask, 'shape', None)}"
        )
    return arena, bounds, mask if mask.flags.writeable else mask.copy(), True


def _check_precision(precision: Any, dtype: np.dtype[Any]) -> None:
    """``precision`` must be one of :data:`PRECISIONS` and fit the arena's dtype."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}"
        )
    if precision == "bfloat16" and dtype == np.int8:
        raise ConfigError(
            "precision='bfloat16' scores a float32 or float16 arena; for an int8 arena pass "
            "precision='int8' (or 'float32')"
        )
    if precision == "int8" and dtype != np.int8:
        raise ConfigError(
            f"precision='int8' scores an int8 arena (quantize_int8, dtype='int8' storage); the "
            f"tokens are {dtype}: pass precision='bfloat16' or 'float32'"
        )


def _check_scales(tokens: np.ndarray, scales: Any) -> F32Array:
    """The per-row scales the kernels take: required for an int8 arena, refused otherwise."""
    if tokens.dtype != np.int8:
        if scales is not None:
            raise ConfigError(
                f"scales are only for an int8 arena; tokens are {tokens.dtype}, pass scales=None"
            )
        return _NO_SCALES
    if scales is None:
        raise ConfigError(
            "an int8 arena needs its per-row scales: pass scales= (float32 [capacity])"
        )
    if (
        not isinstance(scales, np.ndarray)
        or scales.dtype != np.float32
        or scales.ndim != 1
        or scales.shape[0] < tokens.shape[0]
        or not scales.flags.c_contiguous
    ):
        raise ConfigError(
            f"scales must be a C-contiguous float32 array with one entry per arena row "
            f"({tokens.shape[0]}), got {getattr(scales, 'dtype', type(scales).__name__)} "
            f"shape {getattr(scales, 'shape', None)}"
        )
    return scales


def _stack_queries(
    queries: Sequence[np.ndarray], *, dim: int
) -> tuple[F32Array, I64Array, I64Array]:
    """Lay the queries out for the kernels: transposed, in zero-padded groups of ``LANES`` rows.

    Returns ``qt`` float32 ``[n_groups, dim, LANES]`` (C-contiguous), and per query the first
    lane ``lane_starts[j]`` and row count ``lengths[j]`` (query ``j`` owns lanes
    ``lane_starts[j] : lane_starts[j] + lengths[j]``, each query starting a fresh group).
    """
    if isinstance(queries, np.ndarray):
        raise ConfigError("queries must be a sequence of matrices; wrap a single query in a list")
    matrices: list[np.ndarray] = []
    for j, query in enumerate(queries):
        matrix = np.asarray(query)
        where = f"query {j}" if len(queries) > 1 else "query"
        if matrix.ndim != 2 or matrix.shape[0] == 0:
            raise InvalidVectorError(
                f"{where} must be a non-empty 2-D matrix [n_tokens, {dim}], got shape "
                f"{matrix.shape}; reshape a single vector with v[None, :]"
            )
        if matrix.shape[1] != dim:
            raise DimensionMismatchError(
                f"{where} has width {matrix.shape[1]} but the arena's vectors have {dim} dimensions"
            )
        if not (
            np.issubdtype(matrix.dtype, np.floating) or np.issubdtype(matrix.dtype, np.integer)
        ):
            raise InvalidVectorError(f"{where} must hold numbers, got dtype {matrix.dtype}")
        matrices.append(matrix)
    lengths = np.array([m.shape[0] for m in matrices], dtype=np.int64)
    groups = (lengths + LANES - 1) // LANES
    group_starts = np.zeros(len(matrices) + 1, dtype=np.int64)
    np.cumsum(groups, out=group_starts[1:])
    qt = np.zeros((int(group_starts[-1]), dim, LANES), dtype=np.float32)
    for matrix, first, n_rows in zip(matrices, group_starts, lengths, strict=False):
        for g in range(int(n_rows + LANES - 1) // LANES):
            rows = matrix[g * LANES : (g + 1) * LANES]
            qt[first + g, :, : rows.shape[0]] = rows.T
    lane_starts: I64Array = group_starts[:-1] * LANES
    return qt, lane_starts, lengths
