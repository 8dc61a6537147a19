"""Hits with their objects -> the Weaviate-shaped ``QueryReturn`` (per verb: what metadata says).

``near_vector`` / ``near_text`` report ``distance = -MaxSim`` and ``score = MaxSim``; ``bm25`` the
BM25 score with a one-leg explanation; ``hybrid`` the fused score, the vector distance when the
vector leg found the object, and the fused explanation.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence

from multivector.backends.protocol import Hit, StoredObject
from multivector.errors import ConfigError
from multivector.results import (
    LegExplanation,
    MetadataReturn,
    Object,
    QueryReturn,
    ScoreExplanation,
    TokenHighlight,
)
from multivector.retrieval.fusion import KEYWORD_LEG, VECTOR_LEG
from multivector.retrieval.plan import Returns
from multivector.schema.query import MetadataQuery

__all__ = [
    "hybrid_metadata",
    "keyword_metadata",
    "query_return",
    "to_object",
    "vector_metadata",
    "wants_highlights",
]

Metadata = Callable[[int, Hit], MetadataReturn]


def _timestamp(value: float | None) -> _dt.datetime | None:
    return None if value is None else _dt.datetime.fromtimestamp(value, tz=_dt.timezone.utc)


def to_object(obj: StoredObject, md: MetadataReturn, returns: Returns, collection: str) -> Object:
    """One public result object (vectors and properties as ``returns`` asks)."""
    include = returns.include_vector
    names = None if isinstance(include, bool) else include
    vectors = {
        name: m.tolist()
        for name, m in obj.vectors.items()
        if include and (names is None or name in names)
    }
    props = (
        obj.properties
        if returns.properties is None
        else {k: v for k, v in obj.properties.items() if k in returns.properties}
    )
    md.creation_time = _timestamp(obj.creation_time)
    md.last_update_time = _timestamp(obj.update_time)
    return Object(
        uuid=obj.uuid, properties=props, metadata=md, vector=vectors, collection=collection
    )


def query_return(
    hits: Sequence[Hit], returns: Returns, collection: str, metadata: Metadata
) -> QueryReturn:
    """The hits that carry an object, in order, as public objects."""
    return QueryReturn(
        [
            to_object(h.obj, metadata(i, h), returns, collection)
            for i, h in enumerate(hits)
            if h.obj is not None
        ]
    )


def _highlights(hit: Hit) -> list[TokenHighlight] | None:
    return None if hit.highlights is None else list(hit.highlights)


def vector_metadata(_: int, hit: Hit) -> MetadataReturn:
    """MaxSim hit: ``distance`` is -MaxSim (Weaviate's multi-vector convention)."""
    return MetadataReturn(distance=-hit.score, score=hit.score, highlights=_highlights(hit))


def keyword_metadata(offset: int) -> Metadata:
    """BM25 hits ranked from ``offset``: the score and a one-leg explanation."""

    def metadata(i: int, hit: Hit) -> MetadataReturn:
        leg = LegExplanation(KEYWORD_LEG, hit.score, hit.score, 1.0, i + offset)
        return MetadataReturn(score=hit.score, explain_score=ScoreExplanation("bm25", (leg,)))

    return metadata


def hybrid_metadata(_: int, hit: Hit) -> MetadataReturn:
    """Fused hit: its fused score, its explanation, and its distance when the vector leg found it."""
    vec = hit.explanation.leg(VECTOR_LEG) if hit.explanation is not None else None
    return MetadataReturn(
        distance=-vec.raw_score if vec is not None else None,
        score=hit.score,
        explain_score=hit.explanation,
        highlights=_highlights(hit),
    )


def wants_highlights(return_metadata: object, verb: str) -> bool:
    """Whether ``return_metadata`` asks for highlights (a MetadataQuery, a list of field names
    such as ``["score", "highlights"]``, or None); ``verb`` without a vector leg rejects them.
    """
    if return_metadata is None:
        return False
    if isinstance(return_metadata, MetadataQuery):
        wanted = return_metadata.highlights
    elif isinstance(return_metadata, (list, tuple)) and all(
        isinstance(f, str) for f in return_metadata
    ):
        wanted = "highlights" in return_metadata
    else:
        raise ConfigError(
            f"return_metadata must be a MetadataQuery or a list of field names, got "
            f"{type(return_metadata).__name__}; e.g. MetadataQuery(highlights=True)"
        )
    if wanted and verb in ("bm25", "fetch_objects"):
        raise ConfigError(
            f"{verb}() has no query matrix, so it cannot return late-interaction highlights; "
            "use near_text(), near_vector() or hybrid() with MetadataQuery(highlights=True)"
        )
    return wanted
