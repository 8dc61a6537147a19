"""Query plans: every query verb's arguments, validated once into a frozen record.

The sync and async verbs of ``collection.query`` and the framework-free :class:`Retriever` build
the same plans with the functions below, so one bad argument raises one error whichever way it
came in. A plan that needs a query matrix is built first without it (``matrix=None``: arguments
are checked before any embedding is paid for) and bound with :meth:`~VectorPlan.bind` once the
query is embedded or the user's matrix validated. :mod:`multivector.retrieval.execute` runs plans.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from multivector._checks import check_int, check_number
from multivector._types import F32Array
from multivector.errors import ConfigError
from multivector.retrieval.arguments import hybrid_args, parse_properties, query_text
from multivector.schema.config import CollectionConfig, VectorConfig
from multivector.schema.filter_validation import validate_filter
from multivector.schema.query import BM25OperatorSpec, FilterNode, HybridFusion
from multivector.schema.targets import resolve_target
from multivector.schema.validation import validate_matrix
from multivector.text.query_features import QueryFeatures, query_features
from multivector.text.stopwords import Stopwords

__all__ = [
    "FetchPlan",
    "HybridPlan",
    "KeywordPlan",
    "Page",
    "Returns",
    "VectorPlan",
    "fetch_plan",
    "hybrid_plan",
    "keyword_plan",
    "vector_plan",
]

_OR = BM25OperatorSpec("or", 1)


@dataclass(frozen=True)
class Returns:
    """What each result carries: vectors (all, none, or the named spaces), properties, and
    late-interaction highlights (``MetadataQuery(highlights=True)``).
    """

    include_vector: bool | tuple[str, ...] = False
    properties: tuple[str, ...] | None = None
    highlights: bool = False

    @property
    def vectors(self) -> bool:
        """Whether any vector is returned."""
        return bool(self.include_vector)


@dataclass(frozen=True)
class Page:
    """``offset`` results skipped, at most ``limit`` kept, after an optional autocut."""

    limit: int
    offset: int = 0
    auto_limit: int | None = None

    @property
    def depth(self) -> int:
        """How many ranked hits the page needs."""
        return self.limit + self.offset


def _query_matrix(space: VectorConfig, value: Any) -> F32Array:
    if isinstance(value, Mapping):
        raise ConfigError("pass the query matrix itself and name its space with target_vector=...")
    return validate_matrix(value, where="query", dimension=space.dimension)


@dataclass(frozen=True, eq=False)
class VectorPlan:
    """``near_vector`` / ``near_text``: MaxSim in ``space``, ``distance`` a cutoff on -MaxSim."""

    space: VectorConfig
    page: Page
    filters: FilterNode | None
    distance: float | None
    returns: Returns
    matrix: F32Array | None = None
    text: str | None = None

    def bind(self, value: Any, text: str | None = None) -> VectorPlan:
        """The same plan with its query matrix, validated against the space's dimension (and
        the query text it was embedded from, for highlights).
        """
        return dataclasses.replace(self, matrix=_query_matrix(self.space, value), text=text)


@dataclass(frozen=True, eq=False)
class KeywordPlan:
    """``bm25``: BM25 over ``(property, boost)`` pairs with the term operator."""

    text: str
    properties: tuple[tuple[str, float], ...]
    operator: BM25OperatorSpec
    page: Page
    filters: FilterNode | None
    returns: Returns


@dataclass(frozen=True, eq=False)
class HybridPlan:
    """``hybrid``: both legs over a pool each, fused; ``space`` is None when no vector is needed."""

    text: str
    alpha: float
    fusion: HybridFusion
    space: VectorConfig | None
    properties: tuple[tuple[str, float], ...]
    operator: BM25OperatorSpec
    page: Page
    filters: FilterNode | None
    max_vector_distance: float | None
    returns: Returns
    matrix: F32Array | None = None
    features: QueryFeatures | None = None

    def bind(self, value: Any) -> HybridPlan:
        """The same plan with its query matrix (a no-op when the plan runs no vector leg)."""
        if self.space is None:
            return self
        return dataclasses.replace(self, matrix=_query_matrix(self.space, value))


@dataclass(frozen=True, eq=False)
class FetchPlan:
    """``fetch_objects``: objects in insertion order, filtered, paginated (``limit`` None: all)."""

    limit: int | None
    offset: int
    filters: FilterNode | None
    returns: Returns


def _returns(
    include_vector: bool | Sequence[str],
    properties: Sequence[str] | None,
    highlights: bool = False,
) -> Returns:
    include: bool | tuple[str, ...] = (
        include_vector
        if isinstance(include_vector, bool)
        else _names("include_vector", include_vector)
    )
    if not isinstance(highlights, bool):
        raise ConfigError(f"highlights must be True or False, got {highlights!r}")
    names = None if properties is None else _names("return_properties", properties)
    return Returns(include, names, highlights)


def _names(argument: str, value: object) -> tuple[str, ...]:
    """One name or a list of names (vector spaces, properties), else a ConfigError naming it."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{argument} must be a name or a list of names (str), got {value!r}")


def _page(limit: int, offset: int, auto_limit: int | None) -> Page:
    check_int("limit", limit, 1)
    check_int("offset", offset, 0)
    if auto_limit is not None:
        check_int("auto_limit", auto_limit, 1)
    return Page(limit, offset, auto_limit)


def vector_plan(
    config: CollectionConfig,
    *,
    target_vector: str | None,
    limit: int,
    offset: int,
    filters: FilterNode | None,
    distance: float | None,
    auto_limit: int | None,
    include_vector: bool | Sequence[str],
    return_properties: Sequence[str] | None,
    highlights: bool = False,
) -> VectorPlan:
    """A ``near_vector`` / ``near_text`` plan, its matrix still to bind."""
    page = _page(limit, offset, auto_limit)
    return VectorPlan(
        space=resolve_target(config, target_vector),
        page=page,
        filters=validate_filter(filters, config),
        distance=None if distance is None else check_number("distance", distance),
        returns=_returns(include_vector, return_properties, highlights),
    )


def keyword_plan(
    config: CollectionConfig,
    query: object,
    *,
    query_properties: Sequence[str] | None,
    limit: int,
    offset: int,
    filters: FilterNode | None,
    operator: BM25OperatorSpec | None,
    auto_limit: int | None,
    include_vector: bool | Sequence[str],
    return_properties: Sequence[str] | None,
) -> KeywordPlan:
    """A ``bm25`` plan."""
    page = _page(limit, offset, auto_limit)
    if not isinstance(query, str):
        raise ConfigError(f"the keyword query must be a str, got {type(query).__name__}")
    return KeywordPlan(
        text=query,
        properties=tuple(parse_properties(query_properties, config)),
        operator=operator or _OR,
        page=page,
        filters=validate_filter(filters, config),
        returns=_returns(include_vector, return_properties),
    )


def hybrid_plan(
    config: CollectionConfig,
    query: object,
    *,
    alpha: object,
    target_vector: str | None,
    fusion_type: object,
    limit: int,
    offset: int,
    filters: FilterNode | None,
    query_properties: Sequence[str] | None,
    max_vector_distance: float | None,
    auto_limit: int | None,
    bm25_operator: BM25OperatorSpec | None,
    include_vector: bool | Sequence[str],
    return_properties: Sequence[str] | None,
    highlights: bool = False,
) -> HybridPlan:
    """A ``hybrid`` plan; its ``space`` (and so a matrix to bind) only when the vector leg runs
    (``alpha > 0``) or a vector distance cutoff applies (or highlights are asked for).
    ``adaptive`` fusion also gets the query's features here.
    """
    a, fusion = hybrid_args(alpha, fusion_type, limit, offset, auto_limit)
    needs_vector = a > 0 or max_vector_distance is not None or highlights is True
    text = query_text(query)
    features = None
    if fusion is HybridFusion.ADAPTIVE:
        features = query_features(text, Stopwords.from_config(config.inverted_index))
    return HybridPlan(
        text=text,
        alpha=a,
        fusion=fusion,
        space=resolve_target(config, target_vector) if needs_vector else None,
        properties=tuple(parse_properties(query_properties, config)),
        operator=bm25_operator or _OR,
        page=Page(limit, offset, auto_limit),
        filters=validate_filter(filters, config),
        max_vector_distance=(
            None
            if max_vector_distance is None
            else check_number("max_vector_distance", max_vector_distance)
        ),
        returns=_returns(include_vector, return_properties, highlights),
        features=features,
    )


def fetch_plan(
    config: CollectionConfig,
    *,
    limit: int | None,
    offset: int,
    filters: FilterNode | None,
    include_vector: bool | Sequence[str],
    return_properties: Sequence[str] | None,
) -> FetchPlan:
    """A ``fetch_objects`` plan."""
    if limit is not None:
        check_int("limit", limit, 0)
    check_int("offset", offset, 0)
    return FetchPlan(
        limit, offset, validate_filter(filters, config), _returns(include_vector, return_properties)
    )
