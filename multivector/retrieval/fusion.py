"""Weaviate's hybrid fusion over two ranked legs (vector: MaxSim, keyword: BM25).

The legs are unioned; the vector leg weighs ``alpha`` and the keyword leg ``1 - alpha``.
``relative_score`` min-max normalises each leg over its own candidate pool (all-equal scores
normalise to 1); ``ranked`` adds ``weight / (rank + 60)`` with ranks counted from 0. Ties break by
raw vector score, then raw keyword score, then uuid. Every fused hit keeps its explanation.

``adaptive`` is ``relative_score`` with a per-query vector weight
(:func:`~multivector.kernels.fusion.adaptive_alpha` of ``alpha`` and the query's
:class:`~multivector.text.query_features.QueryFeatures`); its explanation carries that weight
and the inputs it came from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from multivector.backends.protocol import Hit
from multivector.errors import ConfigError
from multivector.kernels.fusion import adaptive_alpha, min_max_normalize, ranked_contributions
from multivector.results import LegExplanation, ScoreExplanation
from multivector.schema.query import HybridFusion
from multivector.text.query_features import QueryFeatures

__all__ = ["HYBRID_POOL", "KEYWORD_LEG", "VECTOR_LEG", "fuse_legs"]

VECTOR_LEG = "vector"
KEYWORD_LEG = "keyword"

#: Each hybrid leg draws at least this many candidates (Weaviate's pool size).
HYBRID_POOL = 100


def _leg_parts(
    name: str, hits: Sequence[Hit], weight: float, fusion: HybridFusion
) -> dict[str, LegExplanation]:
    if not hits:
        return {}
    raw = np.asarray([h.score for h in hits], dtype=np.float64)
    if fusion is HybridFusion.RANKED:
        norm = ranked_contributions(len(hits), 1.0)
    else:
        norm = min_max_normalize(raw)
    return {
        h.uuid: LegExplanation(name, float(raw[i]), float(norm[i]), weight, i)
        for i, h in enumerate(hits)
    }


def fuse_legs(
    vector_hits: Sequence[Hit] | None,
    keyword_hits: Sequence[Hit] | None,
    *,
    alpha: float,
    fusion: HybridFusion,
    features: QueryFeatures | None = None,
) -> list[Hit]:
    """Fuse the legs (each best-first; None = leg not run) into one best-first list of hits
    whose ``explanation`` says how each leg contributed. ``adaptive`` needs the query's
    ``features``.
    """
    weight = alpha
    details: tuple[tuple[str, float], ...] = ()
    if fusion is HybridFusion.ADAPTIVE:
        if features is None:
            raise ConfigError(
                "adaptive fusion needs the query's features; pass "
                "features=query_features(text, stopwords)"
            )
        weight = adaptive_alpha(alpha, features.n_terms, features.capitalised)
        details = (
            ("requested_alpha", alpha),
            ("query_terms", float(features.n_terms)),
            ("capitalised", features.capitalised),
        )
    vector = _leg_parts(VECTOR_LEG, vector_hits or [], weight, fusion)
    keyword = _leg_parts(KEYWORD_LEG, keyword_hits or [], 1.0 - weight, fusion)
    explained = weight if fusion is HybridFusion.ADAPTIVE else None
    fused: list[tuple[tuple[float, float, float, str], Hit]] = []
    for uuid in dict.fromkeys([*vector, *keyword]):
        vec = vector.get(uuid)
        kw = keyword.get(uuid)
        legs = tuple(leg for leg in (vec, kw) if leg is not None)
        score = math.fsum(leg.contribution for leg in legs)
        key = (
            -score,
            -(vec.raw_score if vec else -math.inf),
            -(kw.raw_score if kw else -math.inf),
            uuid,
        )
        explanation = ScoreExplanation(fusion.value, legs, explained, details)
        fused.append((key, Hit(uuid, score, explanation)))
    fused.sort(key=lambda item: item[0])
    return [hit for _, hit in fused]
