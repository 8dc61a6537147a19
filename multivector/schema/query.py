"""Query-side vocabulary, shaped like ``weaviate.classes.query``.

``Filter`` builds a small immutable filter tree (``FilterLeaf`` / ``FilterGroup``) that each backend
translates; ``MetadataQuery``, ``HybridFusion`` and ``BM25Operator`` parametrise searches.
"""

from __future__ import annotations

import datetime as _dt
import uuid as _uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from multivector._types import StrEnum
from multivector.errors import ConfigError, FilterError

__all__ = [
    "BM25Operator",
    "BM25OperatorSpec",
    "Filter",
    "FilterGroup",
    "FilterLeaf",
    "FilterNode",
    "FilterOperator",
    "HybridFusion",
    "MetadataQuery",
]

#: The id pseudo-property that ``Filter.by_id()`` targets.
ID_TARGET = "_id"


class FilterOperator(StrEnum):
    """Leaf and group operators of the filter tree."""

    EQUAL = "Equal"
    NOT_EQUAL = "NotEqual"
    LESS_THAN = "LessThan"
    LESS_OR_EQUAL = "LessThanEqual"
    GREATER_THAN = "GreaterThan"
    GREATER_OR_EQUAL = "GreaterThanEqual"
    LIKE = "Like"
    CONTAINS_ANY = "ContainsAny"
    CONTAINS_ALL = "ContainsAll"
    CONTAINS_NONE = "ContainsNone"
    IS_NONE = "IsNull"
    AND = "And"
    OR = "Or"
    NOT = "Not"


_SCALAR_TYPES = (str, int, float, bool, _dt.datetime, _dt.date, _uuid.UUID)


class _FilterBase:
    def __and__(self, other: FilterNode) -> FilterGroup:
        return Filter.all_of([self, other])  # type: ignore[list-item]

    def __or__(self, other: FilterNode) -> FilterGroup:
        return Filter.any_of([self, other])  # type: ignore[list-item]

    def __invert__(self) -> FilterGroup:
        return Filter.not_(self)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=True)
class FilterLeaf(_FilterBase):
    """One comparison: ``target`` (a property name, or ``_id``), an optional ``path`` into an
    OBJECT property, an operator and its value.
    """

    target: str
    operator: FilterOperator
    value: Any
    path: tuple[str, ...] = ()
    case_sensitive: bool = True


@dataclass(frozen=True, eq=True)
class FilterGroup(_FilterBase):
    """``AND`` / ``OR`` over several filters, or ``NOT`` over exactly one."""

    operator: FilterOperator
    filters: tuple[FilterNode, ...]


FilterNode: TypeAlias = FilterLeaf | FilterGroup


def _check_scalar(op: str, value: object) -> None:
    if not isinstance(value, _SCALAR_TYPES):
        raise FilterError(
            f"{op}({value!r}): the value must be a str, int, float, bool, date or uuid, "
            f"not {type(value).__name__}"
        )


def _check_list(op: str, values: object) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise FilterError(f"{op}({values!r}): pass a list of values, e.g. {op}(['a', 'b'])")
    for v in values:
        _check_scalar(op, v)
    return tuple(values)


class _PropertyFilter:
    """Operators on one property (``Filter.by_property(name)``) or on the id (``Filter.by_id()``)."""

    def __init__(self, target: str, path: tuple[str, ...] = ()) -> None:
        self._target = target
        self._path = path

    def _leaf(self, op: FilterOperator, value: Any) -> FilterLeaf:
        return FilterLeaf(self._target, op, value, self._path)

    def equal(self, value: Any) -> FilterLeaf:
        """Value equals (for array properties: any element equals)."""
        _check_scalar("equal", value)
        return self._leaf(FilterOperator.EQUAL, value)

    def not_equal(self, value: Any) -> FilterLeaf:
        """Value differs (missing values match)."""
        _check_scalar("not_equal", value)
        return self._leaf(FilterOperator.NOT_EQUAL, value)

    def less_than(self, value: Any) -> FilterLeaf:
        """Value < operand."""
        _check_scalar("less_than", value)
        return self._leaf(FilterOperator.LESS_THAN, value)

    def less_or_equal(self, value: Any) -> FilterLeaf:
        """Value <= operand."""
        _check_scalar("less_or_equal", value)
        return self._leaf(FilterOperator.LESS_OR_EQUAL, value)

    def greater_than(self, value: Any) -> FilterLeaf:
        """Value > operand."""
        _check_scalar("greater_than", value)
        return self._leaf(FilterOperator.GREATER_THAN, value)

    def greater_or_equal(self, value: Any) -> FilterLeaf:
        """Value >= operand."""
        _check_scalar("greater_or_equal", value)
        return self._leaf(FilterOperator.GREATER_OR_EQUAL, value)

    def like(self, pattern: str, *, case_sensitive: bool = False) -> FilterLeaf:
        """Text matches a wildcard pattern: ``*`` any run of characters, ``?`` one character.

        The whole value must match (``*data*`` finds "data" anywhere); case-insensitive unless
        ``case_sensitive=True``. For array properties any element may match.
        """
        if not isinstance(pattern, str):
            raise FilterError(f"like({pattern!r}): the pattern must be a str such as 'data*'")
        return FilterLeaf(self._target, FilterOperator.LIKE, pattern, self._path, case_sensitive)

    def contains_any(self, values: Sequence[Any]) -> FilterLeaf:
        """The value (or any element of an array value) is one of ``values``."""
        return self._leaf(FilterOperator.CONTAINS_ANY, _check_list("contains_any", values))

    def contains_all(self, values: Sequence[Any]) -> FilterLeaf:
        """Every one of ``values`` is present in the (array) value."""
        return self._leaf(FilterOperator.CONTAINS_ALL, _check_list("contains_all", values))

    def contains_none(self, values: Sequence[Any]) -> FilterLeaf:
        """None of ``values`` is present (missing values match)."""
        return self._leaf(FilterOperator.CONTAINS_NONE, _check_list("contains_none", values))

    def is_none(self, value: bool = True) -> FilterLeaf:
        """``True``: the property is missing or null; ``False``: it has a value."""
        if not isinstance(value, bool):
            raise FilterError(f"is_none({value!r}): pass True or False")
        return self._leaf(FilterOperator.IS_NONE, value)


class Filter:
    """Filter factory, as in ``weaviate.classes.query.Filter``.

    Filters select before scoring: a filtered search returns the exact top-k among matching
    objects. Unknown properties or operators raise :class:`~multivector.errors.FilterError`.
    """

    @staticmethod
    def by_property(name: str, path: Sequence[str] | str | None = None) -> _PropertyFilter:
        """Filter on property ``name``; ``path`` reaches a key inside an OBJECT property."""
        if not isinstance(name, str) or not name:
            raise FilterError(f"by_property({name!r}): the property name must be a non-empty str")
        if path is None:
            keys: tuple[str, ...] = ()
        elif isinstance(path, str):
            keys = (path,)
        else:
            keys = tuple(path)
        return _PropertyFilter(name, keys)

    @staticmethod
    def by_id() -> _PropertyFilter:
        """Filter on the object's uuid (``equal``, ``not_equal``, ``contains_any``, ``contains_none``)."""
        return _PropertyFilter(ID_TARGET)

    @staticmethod
    def all_of(filters: Sequence[FilterNode]) -> FilterGroup:
        """Every filter matches (AND)."""
        return FilterGroup(FilterOperator.AND, _check_nodes("all_of", filters))

    @staticmethod
    def any_of(filters: Sequence[FilterNode]) -> FilterGroup:
        """At least one filter matches (OR)."""
        return FilterGroup(FilterOperator.OR, _check_nodes("any_of", filters))

    @staticmethod
    def not_(filter_: FilterNode) -> FilterGroup:
        """The filter does not match (NOT)."""
        return FilterGroup(FilterOperator.NOT, _check_nodes("not_", [filter_]))


def _check_nodes(op: str, filters: Sequence[FilterNode]) -> tuple[FilterNode, ...]:
    nodes = tuple(filters)
    if not nodes:
        raise FilterError(f"Filter.{op}() needs at least one filter")
    for node in nodes:
        if not isinstance(node, (FilterLeaf, FilterGroup)):
            raise FilterError(
                f"Filter.{op}(): {node!r} is not a filter; build one with Filter.by_property(...)"
            )
    return nodes


class HybridFusion(StrEnum):
    """How hybrid search fuses its vector and keyword legs.

    ``RELATIVE_SCORE`` and ``RANKED`` are Weaviate's fusions, unchanged. ``ADAPTIVE`` is
    ``relative_score`` with the alpha adjusted per query from the query's length and
    capitalisation (``alpha`` sets the centre; 0 and 1 stay pure keyword / pure vector); see
    :func:`multivector.kernels.fusion.adaptive_alpha` and ``docs/evaluation.md``.
    """

    RELATIVE_SCORE = "relative_score"
    RANKED = "ranked"
    ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class BM25OperatorSpec:
    """``or`` with a minimum number of matching query terms, or ``and`` (every term must match)."""

    operator: str
    minimum_match: int = 1


class BM25Operator:
    """Factories for BM25 term operators, as in Weaviate."""

    @staticmethod
    def or_(minimum_match: int = 1) -> BM25OperatorSpec:
        """At least ``minimum_match`` distinct query terms must occur in a document."""
        if (
            isinstance(minimum_match, bool)
            or not isinstance(minimum_match, int)
            or minimum_match < 1
        ):
            raise ConfigError(f"BM25Operator.or_(minimum_match={minimum_match!r}): use an int >= 1")
        return BM25OperatorSpec("or", minimum_match)

    @staticmethod
    def and_() -> BM25OperatorSpec:
        """Every distinct query term must occur in a document."""
        return BM25OperatorSpec("and", 1)


@dataclass(frozen=True)
class MetadataQuery:
    """Which metadata to return with each hit (all of it is cheap here, so all is returned).

    ``highlights=True`` (``near_vector``, ``near_text``, ``hybrid``) adds, per hit, the document
    token that matched each query token best (late interaction's argmax), with its character
    span in the source text when the space's embedder knows its tokenizer; it costs a
    re-tokenisation of each returned hit, so it is off unless asked for.
    """

    distance: bool = True
    score: bool = True
    explain_score: bool = True
    creation_time: bool = False
    last_update_time: bool = False
    highlights: bool = False

    @classmethod
    def full(cls) -> MetadataQuery:
        """Every metadata field except ``highlights`` (which costs a re-tokenisation per hit)."""
        return cls(creation_time=True, last_update_time=True)
