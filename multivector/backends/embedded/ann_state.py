"""The persisted form of a trained PLAID index, and the checks that decide whether to trust it.

An :class:`IndexState` is plain arrays plus JSON scalars (no pickle): centroids, each document's
distinct centroid ids and offsets, the inverted lists, and with compression every token's
centroid id, residual codes, row offsets and the codec's cut-offs and weights. The store's cache
writes it beside the arena it indexes, under the same change sequence number, and maps it back
on reopen (:mod:`multivector.backends.durable.folder_cache`).

:func:`restore_state` trusts nothing: a state is used only when its settings match the space's,
it covers exactly the arena's slots with the arena's token rows, and every array has the shape,
dtype and value range the search kernels rely on (they do not check). Otherwise it is dropped
and the index is trained again in the background.

:func:`catch_up_state` brings a *stale* state (the store changed after the cache was written,
for instance a crash before close) up to date instead of training again: the same checks on
the state against itself, then its unchanged objects are kept (as by compaction), must have the
arena's token counts, and the objects written since are encoded against its centroids.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from multivector._types import I64Array
from multivector.backends.embedded.ann_index import CentroidIndex
from multivector.backends.embedded.ann_params import PlaidParams
from multivector.backends.embedded.arena import TokenArena

__all__ = ["IndexState", "catch_up_state", "export_state", "restore_state", "state_problem"]


class IndexState(NamedTuple):
    """A trained index's arrays (by name) and scalars."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


def export_state(index: CentroidIndex) -> IndexState | None:
    """The persisted form of ``index`` (None while untrained)."""
    got = index.state()
    return None if got is None else IndexState(*got)


def restore_state(
    state: IndexState, params: PlaidParams, arena_offsets: I64Array
) -> CentroidIndex | None:
    """The index ``state`` describes, or None when it does not fit (see :func:`state_problem`)."""
    if state_problem(state, params, arena_offsets) is not None:
        return None
    return CentroidIndex.from_state(params, state.arrays, state.meta)


def _monotone(offsets: np.ndarray, length: int, total: int) -> bool:
    return bool(
        offsets.ndim == 1
        and offsets.dtype == np.int64
        and offsets.shape[0] == length
        and offsets[0] == 0
        and offsets[-1] == total
        and bool(np.all(offsets[1:] >= offsets[:-1]))
    )


def state_problem(state: IndexState, params: PlaidParams, arena_offsets: I64Array) -> str | None:
    """Why ``state`` cannot serve an arena with ``arena_offsets`` under ``params`` (None: it can)."""
    a, meta = state.arrays, state.meta
    try:
        if list(meta["model_key"]) != list(params.model_key()):
            return "it was trained with other settings"
        n = int(meta["n_slots"])
        if n != arena_offsets.shape[0] - 1:
            return f"it indexes {n} slots, the arena holds {arena_offsets.shape[0] - 1}"
        centroids = a["centroids"]
        if centroids.ndim != 2 or centroids.dtype != np.float32 or centroids.shape[0] < 1:
            return "its centroids are malformed"
        k = int(centroids.shape[0])
        codes, code_offsets = a["doc_codes"], a["doc_code_offsets"]
        if codes.dtype != np.int32 or not _monotone(code_offsets, n + 1, codes.shape[0]):
            return "its document codes are malformed"
        if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= k):
            return "its document codes name missing centroids"
        docs, list_offsets = a["list_docs"], a["list_offsets"]
        if docs.dtype != np.int32 or not _monotone(list_offsets, k + 1, docs.shape[0]):
            return "its inverted lists are malformed"
        if docs.shape[0] != codes.shape[0] or (docs.size and int(docs.max()) >= n):
            return "its inverted lists disagree with its codes"
        residual = meta.get("residual")
        if (residual is None) != (params.nbits is None):
            return "its compression differs from the settings"
        if residual is not None:
            return _residual_problem(a, residual, arena_offsets, k, int(centroids.shape[1]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"it is incomplete ({exc!r})"
    return None


def _residual_problem(
    a: dict[str, np.ndarray],
    residual: dict[str, Any],
    arena_offsets: I64Array,
    k: int,
    dim: int,
) -> str | None:
    nbits = int(residual["nbits"])
    rows = int(arena_offsets[-1])
    row_offsets = a["row_offsets"]
    if not (
        row_offsets.shape == arena_offsets.shape
        and row_offsets.dtype == np.int64
        and bool(np.array_equal(row_offsets, arena_offsets))
    ):
        return "its token rows are not the arena's"
    tok_codes, packed = a["tok_codes"], a["residuals"]
    bpt = -(-dim * nbits // 8)
    if tok_codes.shape != (rows,) or tok_codes.dtype not in (np.uint16, np.int32):
        return "its token codes are malformed"
    if packed.shape != (rows, bpt) or packed.dtype != np.uint8:
        return "its residual codes are malformed"
    levels = 1 << nbits
    if a["cutoffs"].shape != (dim, levels - 1) or a["weights"].shape != (dim, levels):
        return "its codec is malformed"
    if rows and (
        int(tok_codes.max()) >= k or (tok_codes.dtype == np.int32 and int(tok_codes.min()) < 0)
    ):
        return "its token codes name missing centroids"
    return None


def catch_up_state(
    state: IndexState, kept: I64Array, params: PlaidParams, arena: TokenArena
) -> CentroidIndex | None:
    """The index of a stale ``state`` brought up to date with ``arena`` (None: it cannot be).

    ``kept`` are the state's slots of the objects unchanged since it was written, in order;
    they are the arena's first ``len(kept)`` slots, and every later slot is encoded anew.
    """
    a = state.arrays
    own = a.get("row_offsets")
    if own is None or params.nbits is None:
        return None
    own = np.asarray(own)
    if state_problem(state, params, own) is not None:
        return None
    n_kept = int(kept.shape[0])
    offsets = arena.offsets()
    if n_kept > arena.n_slots or (n_kept and int(kept.max()) >= own.shape[0] - 1):
        return None
    if not np.array_equal(own[kept + 1] - own[kept], np.diff(offsets[: n_kept + 1])):
        return None  # an unchanged object must have the same token count
    index = CentroidIndex.from_state(params, a, state.meta)
    index.compact(kept)
    index.add(
        [arena.matrix(s) if arena.has_vector(s) else None for s in range(n_kept, arena.n_slots)]
    )
    if index.residuals is None or not np.array_equal(index.residuals.offsets(), offsets):
        return None
    return index
