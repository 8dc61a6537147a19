"""Bootstrap intervals over queries: for one configuration's mean, and paired between two.

Queries are resampled with replacement (``n_resamples`` times, a fixed seed so reports are
reproducible); an interval is the percentile interval of the resampled means. A *paired*
interval resamples the same queries for both configurations and so measures the difference
query by query, which is what tells whether one configuration beats another on this set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from multivector._checks import check_int
from multivector.errors import ConfigError

__all__ = ["Comparison", "Interval", "bootstrap_mean", "compare", "paired_difference"]

#: Resamples per interval unless told otherwise.
DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """A mean and its bootstrap interval (``low``, ``high``) at ``confidence``."""

    mean: float
    low: float
    high: float
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        """Whether 0 lies outside the interval (a difference that this set resolves)."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def _means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(n_resamples, values.size))
    means: np.ndarray = values[idx].mean(axis=1)
    return means


def bootstrap_mean(
    values: Sequence[float],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """The mean of ``values`` (one per query) with its percentile bootstrap interval."""
    check_int("n_resamples", n_resamples, 1)
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be within (0, 1), e.g. 0.95; got {confidence!r}")
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError("bootstrap_mean needs a non-empty 1-D sequence of per-query values")
    means = _means(arr, n_resamples, seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(arr.mean()), float(low), float(high), confidence)


def paired_difference(
    a: Mapping[str, float],
    b: Mapping[str, float],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Mean of ``a[q] - b[q]`` over the queries both hold, with its paired bootstrap interval."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ConfigError("paired_difference: the two configurations share no query id")
    diffs = [a[q] - b[q] for q in shared]
    return bootstrap_mean(diffs, n_resamples=n_resamples, confidence=confidence, seed=seed)


@dataclass(frozen=True)
class Comparison:
    """``candidate`` minus ``reference`` in nDCG: overall (paired interval) and per group."""

    candidate: str
    reference: str
    overall: Interval
    groups: dict[str, float]
    wins: int
    losses: int

    def __str__(self) -> str:
        per_group = ", ".join(f"{g} {d:+.3f}" for g, d in self.groups.items())
        return (
            f"{self.candidate} - {self.reference}: nDCG {self.overall} "
            f"({self.wins} queries better, {self.losses} worse)"
            + (f"; per group {per_group}" if per_group else "")
        )


def compare(
    candidate: tuple[str, Mapping[str, float]],
    reference: tuple[str, Mapping[str, float]],
    query_groups: Mapping[str, str | None],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Compare two configurations' per-query nDCG (``(label, {query_id: ndcg})`` each)."""
    (c_label, c), (r_label, r) = candidate, reference
    overall = paired_difference(c, r, n_resamples=n_resamples, seed=seed)
    groups: dict[str, float] = {}
    for g in sorted({g for g in query_groups.values() if g is not None}):
        ids = [q for q, qg in query_groups.items() if qg == g and q in c and q in r]
        if ids:
            groups[g] = float(np.mean([c[q] - r[q] for q in ids]))
    shared = set(c) & set(r)
    wins = sum(1 for q in shared if c[q] > r[q])
    losses = sum(1 for q in shared if c[q] < r[q])
    return Comparison(c_label, r_label, overall, groups, wins, losses)
