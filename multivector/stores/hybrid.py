"""Weaviate's hybrid fusion over two ranked legs (vector: MaxSim, keyword: BM25).

The legs are unioned; the vector leg weighs ``alpha`` and the keyword leg ``1 - alpha``.
``relative_score`` min-max normalises each leg over its own candidate pool (all-equal scores
normalise to 1); ``ranked`` adds ``weight / (rank + 60)`` with ranks counted from 0. Ties break by
raw vector score, then raw keyword score, then uuid. Every fused hit keeps its explanation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from multivector._types import F32Array
from multivector.config import VectorConfig
from multivector.kernels.fusion import autocut, min_max_normalize, ranked_contributions
from multivector.query import BM25OperatorSpec, FilterNode, HybridFusion
from multivector.results import LegExplanation, ScoreExplanation
from multivector.stores.protocol import Hit

if TYPE_CHECKING:
    from multivector.stores.collection import Collection

__all__ = ["HYBRID_POOL", "FusedHit", "fuse_legs", "run_hybrid"]

VECTOR_LEG = "vector"
KEYWORD_LEG = "keyword"


@dataclass(frozen=True)
class FusedHit:
    """One fused result: its uuid, fused score and how each leg contributed."""

    uuid: str
    score: float
    explanation: ScoreExplanation

    def leg(self, name: str) -> LegExplanation | None:
        """The explanation of leg ``name`` ("vector" / "keyword"), if the hit came from it."""
        for leg in self.explanation.legs:
            if leg.leg == name:
                return leg
        return None


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
) -> list[FusedHit]:
    """Fuse the legs (each best-first; None = leg not run) into one best-first list."""
    parts = {
        VECTOR_LEG: _leg_parts(VECTOR_LEG, vector_hits or [], alpha, fusion),
        KEYWORD_LEG: _leg_parts(KEYWORD_LEG, keyword_hits or [], 1.0 - alpha, fusion),
    }
    uuids = list(dict.fromkeys([*parts[VECTOR_LEG], *parts[KEYWORD_LEG]]))
    fused: list[tuple[tuple[float, float, float, str], FusedHit]] = []
    for uuid in uuids:
        legs = tuple(p[uuid] for p in parts.values() if uuid in p)
        score = math.fsum(leg.contribution for leg in legs)
        vec = parts[VECTOR_LEG].get(uuid)
        kw = parts[KEYWORD_LEG].get(uuid)
        key = (
            -score,
            -(vec.raw_score if vec else -math.inf),
            -(kw.raw_score if kw else -math.inf),
            uuid,
        )
        fused.append((key, FusedHit(uuid, score, ScoreExplanation(fusion.value, legs))))
    fused.sort(key=lambda item: item[0])
    return [hit for _, hit in fused]


#: Each hybrid leg draws at least this many candidates (Weaviate's pool size).
HYBRID_POOL = 100


def run_hybrid(
    collection: Collection,
    query: str,
    vec: VectorConfig | None,
    matrix: F32Array | None,
    *,
    alpha: float,
    fusion: HybridFusion,
    limit: int,
    offset: int,
    filters: FilterNode | None,
    properties: Sequence[tuple[str, float]],
    max_vector_distance: float | None,
    auto_limit: int | None,
    bm25_operator: BM25OperatorSpec | None,
) -> list[FusedHit]:
    """Run both legs (each over a pool of ``max(100, limit + offset)``, ``filters`` already
    validated), fuse them, apply the vector distance cutoff and autocut, then page.
    """
    backend = collection.backend
    pool = max(HYBRID_POOL, limit + offset)
    vector_hits = None
    if alpha > 0 and vec is not None and matrix is not None:
        vector_hits = backend.vector_search(vec.name, matrix, limit=pool, filters=filters)
        if max_vector_distance is not None:
            vector_hits = [h for h in vector_hits if -h.score <= max_vector_distance]
    keyword_hits = None
    if alpha < 1:
        keyword_hits = backend.keyword_search(
            query,
            properties=properties,
            limit=pool,
            filters=filters,
            operator=bm25_operator or BM25OperatorSpec("or", 1),
        )
    fused = fuse_legs(vector_hits, keyword_hits, alpha=alpha, fusion=fusion)
    if max_vector_distance is not None and vec is not None and matrix is not None:
        fused = _within_distance(collection, fused, vec, matrix, max_vector_distance)
    keep = len(fused)
    if auto_limit is not None and fused:
        keep = int(autocut(np.asarray([h.score for h in fused], dtype=np.float64), auto_limit))
    return fused[:keep][offset : offset + limit]


def _within_distance(
    collection: Collection,
    fused: list[FusedHit],
    vec: VectorConfig,
    matrix: F32Array,
    cutoff: float,
) -> list[FusedHit]:
    """Drop keyword-only hits whose vector distance is beyond the cutoff (as Weaviate does)."""
    unknown = [h.uuid for h in fused if h.leg(VECTOR_LEG) is None]
    if not unknown:
        return fused
    scores = dict(zip(unknown, collection.backend.vector_scores(vec.name, matrix, unknown)))
    return [
        h
        for h in fused
        if h.uuid not in scores
        or (scores[h.uuid] is not None and -float(scores[h.uuid] or 0.0) <= cutoff)
    ]
