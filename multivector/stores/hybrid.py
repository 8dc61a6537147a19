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

import numpy as np

from multivector.kernels.fusion import min_max_normalize, ranked_contributions
from multivector.query import HybridFusion
from multivector.results import LegExplanation, ScoreExplanation
from multivector.stores.protocol import Hit

__all__ = ["FusedHit", "fuse_legs"]

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
