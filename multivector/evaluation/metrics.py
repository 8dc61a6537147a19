"""Ranking metrics from their definitions, with binary relevance (a judged grade > 0 is relevant).

For a ranking ``r_1, r_2, ...`` cut at ``k`` and a set ``R`` of relevant ids:

- ``ndcg_at_k``: DCG / IDCG with DCG = sum over i <= k of [r_i in R] / log2(i + 1) and IDCG the
  DCG of an ideal ranking (min(|R|, k) relevant ids first).
- ``recall_at_k``: |{r_1..r_k} & R| / |R|.
- ``mrr_at_k``: 1 / i for the first i <= k with r_i in R, else 0 (averaged over queries: MRR).

A ranking may repeat an id (several chunks of one document): only its first occurrence counts,
so a document is never rewarded twice. A query with no relevant id has no defined score; callers
skip such queries (as trec_eval and BEIR do).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from multivector.errors import ConfigError

__all__ = [
    "Metrics",
    "dedupe",
    "mean_metrics",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
    "score_ranking",
]


@dataclass(frozen=True)
class Metrics:
    """Mean nDCG@k, recall@k and MRR@k over ``n_queries`` queries."""

    ndcg: float
    recall: float
    mrr: float
    n_queries: int


def dedupe(ranking: Sequence[str]) -> list[str]:
    """``ranking`` with repeated ids dropped (first occurrence kept)."""
    seen: set[str] = set()
    out: list[str] = []
    for doc in ranking:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out


def _check(relevant: Collection[str], k: int) -> None:
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if not relevant:
        raise ConfigError("the query has no relevant document; skip it instead of scoring it")


def ndcg_at_k(ranking: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-relevance nDCG@k with the log2(rank + 1) discount."""
    _check(relevant, k)
    top = dedupe(ranking)[:k]
    dcg = sum(1.0 / math.log2(i + 2) for i, doc in enumerate(top) if doc in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def recall_at_k(ranking: Sequence[str], relevant: Collection[str], k: int) -> float:
    """The share of relevant ids found in the top ``k``."""
    _check(relevant, k)
    top = dedupe(ranking)[:k]
    return sum(1 for doc in top if doc in relevant) / len(relevant)


def mrr_at_k(ranking: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Reciprocal rank of the first relevant id within the top ``k`` (0 when none is there)."""
    _check(relevant, k)
    for i, doc in enumerate(dedupe(ranking)[:k]):
        if doc in relevant:
            return 1.0 / (i + 1)
    return 0.0


def score_ranking(ranking: Sequence[str], relevant: Collection[str], k: int) -> Metrics:
    """All three metrics of one query's ranking (``n_queries`` 1)."""
    return Metrics(
        ndcg=ndcg_at_k(ranking, relevant, k),
        recall=recall_at_k(ranking, relevant, k),
        mrr=mrr_at_k(ranking, relevant, k),
        n_queries=1,
    )


def mean_metrics(items: Sequence[Metrics]) -> Metrics:
    """The per-query mean of ``items`` (each query weighs the same)."""
    if not items:
        raise ConfigError("no queries to average")
    n = sum(m.n_queries for m in items)
    return Metrics(
        ndcg=sum(m.ndcg * m.n_queries for m in items) / n,
        recall=sum(m.recall * m.n_queries for m in items) / n,
        mrr=sum(m.mrr * m.n_queries for m in items) / n,
        n_queries=n,
    )
