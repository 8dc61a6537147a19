"""Each leg's own score of a retrieved hit, on scales that hold across queries.

A hybrid hit's fused ``relative_score`` is normalised over that one query's candidates, so the
same document can score 1.0 for a poor query and 0.6 for a good one: it ranks, it does not
threshold. What does hold across queries is each leg's raw score:

- ``vector_similarity``: MaxSim divided by the number of query tokens, the mean best cosine per
  query token (in [-1, 1] for L2-normalised token vectors; 1 = every query token found exactly);
- ``keyword_score``: the BM25 score (unbounded; comparable within one collection).

:func:`leg_scores` reads them from a :class:`~multivector.retrieval.RetrievedHit` of any mode, for
integrations to hand to users who need absolute cut-offs.
"""

from __future__ import annotations

from dataclasses import dataclass

from multivector.retrieval.fusion import KEYWORD_LEG, VECTOR_LEG
from multivector.retrieval.retriever import RetrievedHit, RetrieverSettings, SearchMode

__all__ = ["LegScores", "leg_scores"]


@dataclass(frozen=True)
class LegScores:
    """A hit's vector and keyword scores; None when that leg did not score the hit."""

    vector_similarity: float | None = None
    keyword_score: float | None = None


def leg_scores(
    hit: RetrievedHit, settings: RetrieverSettings, n_query_tokens: int | None
) -> LegScores:
    """The leg scores of ``hit``, found with ``settings`` for a query of ``n_query_tokens``
    token vectors (None when no query matrix was used: keyword-only searches).
    """
    if settings.mode is SearchMode.KEYWORD:
        return LegScores(keyword_score=hit.score)
    if settings.mode is not SearchMode.HYBRID:
        return LegScores(vector_similarity=hit.similarity)
    explanation = hit.explanation
    if explanation is None:
        return LegScores()
    vector = explanation.leg(VECTOR_LEG)
    keyword = explanation.leg(KEYWORD_LEG)
    n_q = max(int(n_query_tokens or 1), 1)
    return LegScores(
        vector_similarity=None if vector is None else float(vector.raw_score) / n_q,
        keyword_score=None if keyword is None else float(keyword.raw_score),
    )
