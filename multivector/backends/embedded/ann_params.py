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

    ``n_centroids`` None picks a power of two near ``2 * sqrt(tokens)`` (16..8192) at training;
    ``nprobe`` centroids are probed per query token; ``n_candidates`` documents (at least
    ``2 * limit``) are reranked exactly; at most ``flat_search_cutoff`` matching objects means exact
    search; below ``min_train_docs`` live objects the index stays untrained (exact search);
    ``sample_tokens`` token vectors (None: 32 per centroid, at least 131,072) and ``n_iter`` Lloyd
    iterations train k-means;
    ``retrain_growth`` (0 = never) asks for a background retraining once the collection has grown
    that many times its size at training; ``seed`` makes training deterministic.

    Compression: ``nbits`` (1, 2 or 4; None keeps centroid ids only, the 0.1 index) stores every
    token as its centroid id plus ``nbits``-bit residual codes, scores the candidates on those
    codes (after keeping the best ``n_decode`` of them by centroid interaction over all their
    centroid ids) and reranks only the best ``n_rerank`` (at least ``2 * limit``) with exact MaxSim over
    the stored rows. ``retrain_drift`` asks for a background retraining once tokens appended since
    training leave that many times the residual energy the training sample left (0 = never).
    """

    n_centroids: int | None = None
    nprobe: int = 8
    n_candidates: int = 2048
    flat_search_cutoff: int = 4_096
    min_train_docs: int = 2_000
    sample_tokens: int | None = None
    n_iter: int = 8
    retrain_growth: float = 8.0
    seed: int = 0
    nbits: int | None = 2
    n_decode: int = 512
    n_rerank: int = 128
    retrain_drift: float = 1.5

    def __post_init__(self) -> None:
        if self.n_centroids is not None:
            check_int("plaid index: n_centroids", self.n_centroids, 1)
        for name, low in (
            ("nprobe", 1),
            ("n_candidates", 1),
            ("flat_search_cutoff", 0),
            ("min_train_docs", 1),
            ("n_iter", 0),
            ("seed", 0),
        ):
            check_int(f"plaid index: {name}", getattr(self, name), low)
        check_int("plaid index: n_rerank", self.n_rerank, 1)
        if self.sample_tokens is not None:
            check_int("plaid index: sample_tokens", self.sample_tokens, 1)
        check_int("plaid index: n_decode", self.n_decode, 1)
        if self.nbits is not None and (isinstance(self.nbits, bool) or self.nbits not in (1, 2, 4)):
            raise ConfigError(
                f"plaid index: nbits must be 1, 2 or 4 (bits per residual dimension) or None "
                f"(centroid ids only), got {self.nbits!r}"
            )
        drift = self.retrain_drift
        if (
            isinstance(drift, bool)
            or not isinstance(drift, (int, float))
            or not math.isfinite(drift)
            or not (drift == 0 or drift > 1)
        ):
            raise ConfigError(
                f"plaid index: retrain_drift must be 0 (never) or a number > 1, got {drift!r}"
            )
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

    def model_key(self) -> tuple[Any, ...]:
        """The settings a trained model depends on: two params with the same key can share a
        trained index (the others only steer searches and when to retrain).
        """
        return (self.n_centroids, self.sample_tokens, self.n_iter, self.seed, self.nbits)

    def centroids_for(self, n_tokens: int) -> int:
        """Centroids to train for ``n_tokens`` token vectors (never more than the tokens)."""
        if self.n_centroids is not None:
            return max(1, min(self.n_centroids, n_tokens))
        auto = int(2 ** round(math.log2(max(2 * math.sqrt(max(n_tokens, 1)), 1.0))))
        return max(1, min(n_tokens, max(16, min(8192, auto))))

    def samples_for(self, n_centroids: int) -> int:
        """Token vectors k-means trains on for ``n_centroids`` centroids."""
        if self.sample_tokens is not None:
            return self.sample_tokens
        return max(131_072, 32 * n_centroids)


class TrainReport(NamedTuple):
    """What one training did: centroids, sampled and assigned token vectors, wall seconds."""

    n_centroids: int
    n_sampled: int
    n_assigned: int
    seconds: float
