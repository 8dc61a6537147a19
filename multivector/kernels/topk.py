"""Top-k selection over a score array, in linear time, with deterministic tie-breaking."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from multivector._types import F32Array, I64Array
from multivector.errors import ConfigError

__all__ = ["SearchResult", "topk"]


class SearchResult(NamedTuple):
    """The best documents of one search, best first.

    ``indices`` are document positions (int64), ``scores`` their scores (float32), both of length
    ``min(k, number of eligible documents)``; equal scores are ordered by lower index.
    """

    indices: I64Array
    scores: F32Array


def check_k(k: object) -> int:
    """Return ``k`` as an ``int`` if it is a non-negative integer, else raise ``ConfigError``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ConfigError(f"k must be a non-negative integer, got {k!r}")
    value = int(k)
    if value < 0:
        raise ConfigError(f"k must be a non-negative integer, got {value}; pass k >= 0")
    return int(value)


def topk(scores: np.ndarray, k: int) -> SearchResult:
    """Return the ``k`` highest scores of a 1-D array and their positions, best first.

    Runs in ``O(n + k log k)`` (a partition, then a sort of the winners only). Entries that are
    -inf (excluded or empty documents) or NaN are never returned, so fewer than ``k`` results come
    back when fewer are eligible. Equal scores are ordered by lower index, also at the cut:
    of several documents tied for the ``k``-th place, the lowest indices win.

    Raises:
        ConfigError: ``k`` is negative or not an integer, or ``scores`` is not 1-D.

    """
    k = check_k(k)
    values = np.asarray(scores)
    if values.ndim != 1:
        raise ConfigError(f"topk expects a 1-D score array, got shape {values.shape}")
    values = values.astype(np.float32, copy=False)
    eligible = np.flatnonzero(values > -np.inf)  # drops -inf and NaN
    if k == 0 or eligible.size == 0:
        return SearchResult(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
    candidates = values[eligible]
    if k < eligible.size:
        # the k-th largest value; everything strictly above it is in, ties at it by lowest index
        threshold = np.partition(candidates, eligible.size - k)[eligible.size - k]
        above = candidates > threshold
        n_tied = k - int(np.count_nonzero(above))
        tied = np.flatnonzero(candidates == threshold)[:n_tied]
        keep = np.concatenate((np.flatnonzero(above), tied))
        eligible = eligible[keep]
        candidates = candidates[keep]
    order = np.lexsort((eligible, -candidates))  # score descending, then index ascending
    return SearchResult(eligible[order].astype(np.int64, copy=False), candidates[order])
