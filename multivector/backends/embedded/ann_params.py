"""Settings and training report of the PLAID-style centroid index (:mod:`.ann_index`).

:class:`PlaidParams` is the validated form of ``Configure.VectorIndex.plaid(...)`` parameters
(``VectorIndexConfig.params``); :class:`TrainReport` is what one training run did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

from multivector._checks import check_int
from multivector.errors import ConfigError

__all__ = ["PlaidParams", "TrainReport"]


@dataclass(frozen=True)
class PlaidParams:
    """Settings of :class:`.ann_index.CentroidIndex` (docs/approximate-search.md explains each).

    ``n_centroids`` None picks a power of two near ``sqrt(tokens) / 2`` (16..2048) at training;
    ``nprobe`` centroids are probed per query token; ``n_candidates`` documents (at least
    ``2 * limit``) are reranked exactly; at most ``flat_search_cutoff`` matching objects means exact
    search; below ``min_train_docs`` live objects the index stays untrained (exact search);
    ``sample_tokens`` token vectors and ``n_iter`` Lloyd iterations train k-means;
    ``retrain_growth`` (0 = never) retrains at the next search once the collection has grown that
    many times its size at training; ``seed`` makes training deterministic.
    """

    n_centroids: int | None = None
    nprobe: int = 4
    n_candidates: int = 1024
    flat_search_cutoff: int = 4_096
    min_train_docs: int = 2_000
    sample_tokens: int = 131_072
    n_iter: int = 8
    retrain_growth: float = 8.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_centroids is not None:
            check_int("plaid index: n_centroids", self.n_centroids, 1)
        for name, low in (
            ("nprobe", 1),
            ("n_candidates", 1),
            ("flat_search_cutoff", 0),
            ("min_train_docs", 1),
            ("sample_tokens", 1),
            ("n_iter", 0),
            ("seed", 0),
        ):
            check_int(f"plaid index: {name}", getattr(self, name), low)
        growth = self.retrain_growth
        if (
            isinstance(growth, bool)
            or not isinstance(growth, (int, float))
            or not math.isfinite(growth)
            or not (growth == 0 or growth > 1)
        ):
            raise ConfigError(
                f"plaid index: retrain_growth must be 0 (never) or a number > 1, got {growth!r}"
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PlaidParams:
        """Validate a ``VectorIndexConfig.params`` mapping (an unknown key is an error)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(
                f"plaid index: unknown parameter(s) {unknown}; known: {sorted(known)}"
            )
        return cls(**dict(params))

    def to_params(self) -> dict[str, Any]:
        """Plain-JSON form (what ``VectorIndexConfig.params`` holds)."""
        return asdict(self)

    def centroids_for(self, n_tokens: int) -> int:
        """Centroids to train for ``n_tokens`` token vectors (never more than the tokens)."""
        if self.n_centroids is not None:
            return max(1, min(self.n_centroids, n_tokens))
        auto = int(2 ** round(math.log2(max(math.sqrt(max(n_tokens, 1)) / 2, 1.0))))
        return max(1, min(n_tokens, max(16, min(2048, auto))))


class TrainReport(NamedTuple):
    """What one training did: centroids, sampled and assigned token vectors, wall seconds."""

    n_centroids: int
    n_sampled: int
    n_assigned: int
    seconds: float
