"""Maximal marginal relevance over late-interaction matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from multivector._types import F32Array, F64Array

__all__ = ["mmr_select", "symmetric_maxsim"]


def symmetric_maxsim(a: F32Array, b: F32Array) -> float:
    """Document-document similarity: the mean of MaxSim(a, b)/|a| and MaxSim(b, a)/|b|.

    For L2-normalised token vectors this is a mean best cosine in [-1, 1].
    """
    if a.shape[0] == 0 or b.shape[0] == 0:
        return 0.0
    sims = a @ b.T
    return float(0.5 * (sims.max(axis=1).mean() + sims.max(axis=0).mean()))


def mmr_select(
    relevance: F64Array, docs: Sequence[F32Array], *, k: int, lambda_mult: float
) -> list[int]:
    """Greedy MMR: pick ``argmax(lambda * rel - (1 - lambda) * max similarity to the picked)``.

    ``relevance`` holds the query similarity of each candidate (same scale as the doc-doc
    similarity). Returns candidate positions in selection order.
    """
    n = len(docs)
    if n == 0 or k <= 0:
        return []
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = np.ones(n, dtype=np.bool_)
    while len(chosen) < min(k, n):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        score = lambda_mult * relevance - (1.0 - lambda_mult) * penalty
        score = np.where(available, score, -np.inf)
        pick = int(np.argmax(score))
        chosen.append(pick)
        available[pick] = False
        for j in np.flatnonzero(available).tolist():
            max_sim[j] = max(max_sim[j], symmetric_maxsim(docs[pick], docs[j]))
    return chosen
