"""What a validated filter means for one value: the predicate of every leaf operator.

The one definition of filter semantics (LIKE patterns, dates, arrays as "any element", paths into
OBJECT properties, ``None``): the embedded store applies it to its property columns, backends
without a native equivalent (Qdrant's residual filters) to one object at a time with :func:`matches`.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from multivector.schema.query import ID_TARGET, FilterGroup, FilterLeaf, FilterNode, FilterOperator

__all__ = ["leaf_predicate", "matches", "resolve_path"]


@lru_cache(maxsize=256)
def _like_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(fnmatch.translate(pattern).replace("(?s:", "(?s:", 1), flags)


def resolve_path(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return None
    return value


def _elements(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _norm(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    return value


def _compare(op: FilterOperator, left: Any, right: Any) -> bool:
    left, right = _norm(left), _norm(right)
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    try:
        if op is FilterOperator.EQUAL:
            return bool(left == right)
        if op is FilterOperator.LESS_THAN:
            return bool(left < right)
        if op is FilterOperator.LESS_OR_EQUAL:
            return bool(left <= right)
        if op is FilterOperator.GREATER_THAN:
            return bool(left > right)
        if op is FilterOperator.GREATER_OR_EQUAL:
            return bool(left >= right)
    except TypeError:
        return False
    return False


def leaf_predicate(leaf: FilterLeaf) -> Callable[[Any], bool]:
    op = leaf.operator
    if op is FilterOperator.IS_NONE:
        want_none = bool(leaf.value)
        return lambda v: (v is None or v == []) is want_none
    if op is FilterOperator.NOT_EQUAL:
        return lambda v: (
            not any(_compare(FilterOperator.EQUAL, e, leaf.value) for e in _elements(v))
        )
    if op is FilterOperator.LIKE:
        rx = _like_regex(leaf.value, leaf.case_sensitive)
        return lambda v: any(isinstance(e, str) and rx.match(e) is not None for e in _elements(v))
    if op is FilterOperator.CONTAINS_ANY:
        return lambda v: any(
            _compare(FilterOperator.EQUAL, e, x) for e in _elements(v) for x in leaf.value
        )
    if op is FilterOperator.CONTAINS_ALL:
        return lambda v: all(
            any(_compare(FilterOperator.EQUAL, e, x) for e in _elements(v)) for x in leaf.value
        )
    if op is FilterOperator.CONTAINS_NONE:
        return lambda v: (
            not any(_compare(FilterOperator.EQUAL, e, x) for e in _elements(v) for x in leaf.value)
        )
    return lambda v: any(_compare(op, e, leaf.value) for e in _elements(v))


def matches(node: FilterNode, uuid: str, properties: dict[str, Any]) -> bool:
    """Whether one object matches a validated filter (used by backends without native filters)."""
    if isinstance(node, FilterGroup):
        if node.operator is FilterOperator.AND:
            return all(matches(c, uuid, properties) for c in node.filters)
        if node.operator is FilterOperator.OR:
            return any(matches(c, uuid, properties) for c in node.filters)
        return not matches(node.filters[0], uuid, properties)
    value = (
        uuid if node.target == ID_TARGET else resolve_path(properties.get(node.target), node.path)
    )
    return leaf_predicate(node)(value)
