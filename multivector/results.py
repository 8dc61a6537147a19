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
    "TokenHighlight",
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
    """How a fused score was made; ``str()`` gives Weaviate-style text.

    ``alpha`` is the vector leg's weight used for this query (set by ``adaptive`` fusion, whose
    weight differs per query; each leg's ``weight`` says the same); ``details`` the inputs it was
    derived from (the requested alpha and the query features), as ``(name, value)`` pairs.
    """

    fusion: str
    legs: tuple[LegExplanation, ...] = ()
    alpha: float | None = None
    details: tuple[tuple[str, float], ...] = ()

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
        head = self.fusion
        if self.alpha is not None:
            inputs = "".join(f", {name}={value:.6g}" for name, value in self.details)
            head += f", alpha={self.alpha:.6g}{inputs}"
        return f"Hybrid ({head}): " + "; ".join(parts) if parts else f"Hybrid ({head})"


@dataclass(frozen=True)
class TokenHighlight:
    """The document token that matched one query token best (late interaction's argmax).

    ``query_token`` / ``doc_token`` are row indices of the query and document matrices and
    ``score`` their dot product (this query token's MaxSim term). ``start`` / ``end`` are
    character offsets (Python ``str`` indices, end exclusive) into the source text of the hit:
    the value of ``property`` (or its ``element``-th item for a text array); ``text`` is that
    span and ``query_text`` the query token's own span in the query. Offsets are None where the
    embedder gives no character map (a self-provided space) or the token is a marker such as
    ``[CLS]`` that covers no character.
    """

    query_token: int
    doc_token: int
    score: float
    start: int | None = None
    end: int | None = None
    text: str | None = None
    property: str | None = None
    element: int | None = None
    query_text: str | None = None


@dataclass
class MetadataReturn:
    """Per-hit metadata. ``distance`` is -MaxSim (Weaviate's multi-vector convention)."""

    distance: float | None = None
    score: float | None = None
    explain_score: ScoreExplanation | None = None
    creation_time: _dt.datetime | None = None
    last_update_time: _dt.datetime | None = None
    #: Only with ``MetadataQuery(highlights=True)``: one entry per query token, query order.
    highlights: list[TokenHighlight] | None = None


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
class VerifyReport:
    """What ``client.verify()`` checked: objects read per collection, and every problem found."""

    location: str
    objects: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.location}: {sum(self.objects.values())} objects in {len(self.objects)} collections"
        if self.ok:
            return head + ": ok"
        return (
            head
            + f": {len(self.problems)} problem(s)\n"
            + "\n".join(f"  - {p}" for p in self.problems)
        )


@dataclass(frozen=True)
class BatchFailure:
    """An object a batch rejected: its position in the batch, its uuid and why."""

    index: int
    uuid: str | None
    message: str
    original: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    error: BaseException | None = field(default=None, repr=False, compare=False)
