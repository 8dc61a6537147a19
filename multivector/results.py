"""Result records returned by queries and batch imports (named, never bare tuples)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BatchFailure",
    "LegExplanation",
    "MetadataReturn",
    "Object",
    "QueryReturn",
    "ScoreExplanation",
]


@dataclass(frozen=True)
class LegExplanation:
    """One leg's part in a hybrid score: its raw score, normalised score, weight and rank."""

    leg: str
    raw_score: float
    normalized_score: float
    weight: float
    rank: int

    @property
    def contribution(self) -> float:
        """What this leg adds to the fused score."""
        return self.weight * self.normalized_score


@dataclass(frozen=True)
class ScoreExplanation:
    """How a fused score was made; ``str()`` gives Weaviate-style text."""

    fusion: str
    legs: tuple[LegExplanation, ...] = ()

    def leg(self, name: str) -> LegExplanation | None:
        """The part of leg ``name`` ("vector" / "keyword"), None when the hit did not come from it."""
        for leg in self.legs:
            if leg.leg == name:
                return leg
        return None

    def __str__(self) -> str:
        parts = [
            f"({leg.leg}) raw={leg.raw_score:.6g} normalized={leg.normalized_score:.6g} "
            f"weight={leg.weight:.6g} rank={leg.rank} contribution={leg.contribution:.6g}"
            for leg in self.legs
        ]
        return (
            f"Hybrid ({self.fusion}): " + "; ".join(parts) if parts else f"Hybrid ({self.fusion})"
        )


@dataclass
class MetadataReturn:
    """Per-hit metadata. ``distance`` is -MaxSim (Weaviate's multi-vector convention)."""

    distance: float | None = None
    score: float | None = None
    explain_score: ScoreExplanation | None = None
    creation_time: _dt.datetime | None = None
    last_update_time: _dt.datetime | None = None


@dataclass
class Object:
    """One stored object as a query returns it."""

    uuid: str
    properties: dict[str, Any]
    metadata: MetadataReturn = field(default_factory=MetadataReturn)
    vector: dict[str, list[list[float]]] = field(default_factory=dict)
    collection: str = ""


@dataclass
class QueryReturn:
    """The objects a query returned, best first."""

    objects: list[Object]

    def __len__(self) -> int:
        return len(self.objects)


@dataclass(frozen=True)
class BatchFailure:
    """An object a batch rejected: its position in the batch, its uuid and why."""

    index: int
    uuid: str | None
    message: str
    original: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    error: BaseException | None = field(default=None, repr=False, compare=False)
