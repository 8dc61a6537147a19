"""Hybrid-search fusion maths, shaped after Weaviate's: pure NumPy over score arrays.

These functions know nothing of ids or text; the caller maps objects to positions.

- :func:`min_max_normalize`: ``relative_score`` fusion scales each leg to ``[0, 1]``.
- :func:`ranked_contributions`: ``ranked`` fusion gives the result at 0-based rank ``r`` of a leg
  ``weight / (r + 60)``.
- :func:`adaptive_alpha`: the per-query alpha of ``adaptive`` fusion (a logistic model of two
  query features, fitted on the wiki-dev set; its constants are :data:`ADAPTIVE_MODEL`).
- :func:`autocut`: Weaviate's autocut, which keeps results up to the ``cut_off``-th jump.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from multivector._types import F64Array
from multivector.errors import ConfigError

__all__ = [
    "ADAPTIVE_MODEL",
    "RANKED_FUSION_K",
    "AdaptiveModel",
    "adaptive_alpha",
    "autocut",
    "min_max_normalize",
    "ranked_contributions",
]

#: The constant of reciprocal rank fusion (Weaviate and the RRF paper use 60).
RANKED_FUSION_K = 60


class AdaptiveModel(NamedTuple):
    """``alpha_q = sigmoid(logit(alpha) + intercept + terms * ln(1 + n_terms) + capitalised * c)``."""

    intercept: float
    terms: float
    capitalised: float


#: Fitted on wiki-dev (267 queries) by maximising mean nDCG@10 of relative_score fusion with
#: MiniLM token embeddings and Weaviate BM25 at alpha 0.75; 5-fold cross-validation (10
#: repetitions) in ``docs/evaluation.md``. Longer and capitalised queries lean to the vector leg.
ADAPTIVE_MODEL = AdaptiveModel(intercept=-2.13, terms=1.08, capitalised=0.94)


def adaptive_alpha(
    alpha: float, n_terms: int, capitalised: float, model: AdaptiveModel = ADAPTIVE_MODEL
) -> float:
    """The vector leg's weight for one query under ``adaptive`` fusion.

    ``alpha`` (in ``[0, 1]``) is the centre: ``logit(alpha)`` is shifted by the model's linear
    function of ``ln(1 + n_terms)`` (the query's BM25 terms, stopwords removed) and
    ``capitalised`` (the share of its words starting with a capital letter, in ``[0, 1]``).
    ``alpha`` 0 and 1 are returned unchanged (pure keyword, pure vector).
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ConfigError(f"adaptive_alpha: alpha must be a number within [0, 1], got {alpha!r}")
    if isinstance(n_terms, bool) or not isinstance(n_terms, (int, np.integer)) or n_terms < 0:
        raise ConfigError(f"adaptive_alpha: n_terms must be an int >= 0, got {n_terms!r}")
    if not 0.0 <= capitalised <= 1.0:
        raise ConfigError(
            f"adaptive_alpha: capitalised must be a share within [0, 1], got {capitalised!r}"
        )
    if alpha in (0, 1):
        return float(alpha)
    z = (
        math.log(alpha / (1.0 - alpha))
        + model.intercept
        + model.terms * math.log1p(int(n_terms))
        + model.capitalised * float(capitalised)
    )
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def min_max_normalize(scores: F64Array) -> F64Array:
    """``(s - min) / (max - min)`` as float64; all-equal scores (a single one included) give 1.0.

    An empty array gives an empty array. Scores must be finite.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise ConfigError(
            f"min_max_normalize: expected a 1-D score array, got shape {values.shape}"
        )
    if values.size == 0:
        empty: F64Array = values.copy()
        return empty
    if not np.all(np.isfinite(values)):
        raise ConfigError("min_max_normalize: scores must be finite (found NaN or inf)")
    low = values.min()
    high = values.max()
    if high == low:
        return np.ones_like(values)
    normalized: F64Array = (values - low) / (high - low)
    return normalized


def ranked_contributions(n: int, weight: float) -> F64Array:
    """``weight / (rank + 60)`` for ranks ``0 .. n - 1`` of one leg's results, sorted best first."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"ranked_contributions: n must be an int >= 0, got {n!r}")
    ranks = np.arange(int(n), dtype=np.float64)
    contributions: F64Array = float(weight) / (ranks + RANKED_FUSION_K)
    return contributions


def autocut(scores: F64Array, cut_off: int) -> int:
    """How many results to keep when cutting at the ``cut_off``-th jump of a sorted score curve.

    Weaviate's autocut: the scores (sorted best first) are normalised to ``[0, 1]`` between the first
    and the last one, ``y_i = (s_i - s_0) / (s_last - s_0)``, and compared with the straight line
    ``x_i = i / (n - 1)``; ``d_i = y_i - x_i``. Walking ``i = 1 .. n - 1``, a local maximum of ``d``
    (``d_i > d_{i-1}`` and ``d_i > d_{i+1}``; for the last point ``d_i > d_{i-1}`` and
    ``d_i > d_{i-2}``) is a jump; at the ``cut_off``-th jump the first ``i`` results are kept.
    Without enough jumps, or with fewer than two scores, or when the first and last score are equal,
    everything is kept. As in Weaviate the curve is computed in float32.
    """
    if isinstance(cut_off, bool) or not isinstance(cut_off, (int, np.integer)) or cut_off < 1:
        raise ConfigError(
            f"autocut: cut_off must be an int >= 1 (the number of jumps), got {cut_off!r}"
        )
    values = np.asarray(scores, dtype=np.float32)
    if values.ndim != 1:
        raise ConfigError(f"autocut: expected a 1-D score array, got shape {values.shape}")
    n = int(values.size)
    if n <= 1:
        return n
    span = values[-1] - values[0]
    if span == 0 or not np.isfinite(span):
        return n
    step = np.float32(1.0) / (np.float32(n) - np.float32(1.0))
    x = np.arange(n, dtype=np.float32) * step
    diff = (values - values[0]) / span - x
    jumps = 0
    for i in range(1, n):
        before = diff[i - 1]
        after = diff[i - 2] if i == n - 1 else diff[i + 1]
        if diff[i] > before and diff[i] > after:
            jumps += 1
            if jumps >= cut_off:
                return i
    return n
