"""Translate a validated filter tree into a Qdrant ``models.Filter``.

Every operator Qdrant can express exactly becomes a payload condition (``MatchValue``,
``MatchAny``, ``Range``, ``DatetimeRange``, ``IsEmptyCondition``, ``HasIdCondition``, nested
``must`` / ``should`` / ``must_not``). What it cannot express exactly - ``like`` globs, ordering
of strings, empty operand lists, keys that cannot be quoted, operands of a type the payload cannot
hold - is never dropped: :func:`translate` returns it as a *residual* that the backend evaluates
client-side with :func:`multivector.schema.filter_match.matches` over a natively prefiltered candidate
set. The semantics follow :mod:`multivector.schema.filter_match` (the embedded store):

- array values match when any element matches; ``not_equal`` / ``contains_none`` match missing
  values (``must_not``);
- numbers compare by value (``Range(gte=v, lte=v)``, so ``1 == 1.0``), booleans only to booleans;
- ``is_none(True)`` is Qdrant's ``is_empty`` (missing, null or ``[]``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from qdrant_client import models

from multivector.backends.qdrant.payload import point_id, property_key
from multivector.schema.config import CollectionConfig, DataType
from multivector.schema.query import ID_TARGET, FilterGroup, FilterLeaf, FilterNode, FilterOperator

__all__ = ["TranslatedFilter", "translate"]

Condition = Any  # a qdrant_client models.Condition (FieldCondition, Filter, HasIdCondition, ...)


class TranslatedFilter(NamedTuple):
    """``native`` selects a superset (exactly the result when ``residual`` is None)."""

    native: models.Filter | None
    residual: FilterNode | None


class _Inexpressible(Exception):
    """Raised when a node has no exact Qdrant translation."""


def translate(node: FilterNode | None, config: CollectionConfig) -> TranslatedFilter:
    """Split ``node`` into a native Qdrant filter and a residual evaluated client-side."""
    if node is None:
        return TranslatedFilter(None, None)
    try:
        return TranslatedFilter(_as_filter(_condition(node, config)), None)
    except _Inexpressible:
        pass
    if isinstance(node, FilterGroup) and node.operator is FilterOperator.AND:
        native: list[Condition] = []
        rest: list[FilterNode] = []
        for child in node.filters:
            try:
                native.append(_condition(child, config))
            except _Inexpressible:
                rest.append(child)
        residual = rest[0] if len(rest) == 1 else FilterGroup(FilterOperator.AND, tuple(rest))
        return TranslatedFilter(models.Filter(must=native) if native else None, residual)
    return TranslatedFilter(None, node)


def _as_filter(cond: Condition) -> models.Filter:
    return cond if isinstance(cond, models.Filter) else models.Filter(must=[cond])


def _condition(node: FilterNode, config: CollectionConfig) -> Condition:
    if isinstance(node, FilterGroup):
        children = [_condition(c, config) for c in node.filters]
        if node.operator is FilterOperator.AND:
            return models.Filter(must=children)
        if node.operator is FilterOperator.OR:
            return models.Filter(should=children)
        return models.Filter(must_not=children)
    if node.target == ID_TARGET:
        return _id_condition(node)
    return _leaf_condition(node, config)


def _ids(values: Sequence[Any]) -> list[str]:
    if not values or not all(isinstance(v, str) for v in values):
        raise _Inexpressible  # the embedded store compares ids as strings only
    return [point_id(v) for v in values]


def _id_condition(leaf: FilterLeaf) -> Condition:
    op = leaf.operator
    if op is FilterOperator.EQUAL:
        return models.HasIdCondition(has_id=_ids([leaf.value]))  # type: ignore[arg-type]
    if op is FilterOperator.NOT_EQUAL:
        return models.Filter(
            must_not=[models.HasIdCondition(has_id=_ids([leaf.value]))]  # type: ignore[arg-type]
        )
    if op is FilterOperator.CONTAINS_ANY:
        return models.HasIdCondition(has_id=_ids(leaf.value))  # type: ignore[arg-type]
    if op is FilterOperator.CONTAINS_NONE:
        return models.Filter(
            must_not=[models.HasIdCondition(has_id=_ids(leaf.value))]  # type: ignore[arg-type]
        )
    raise _Inexpressible


def _equal(key: str, element: DataType, value: Any) -> Condition:
    if isinstance(value, bool):
        if element not in (DataType.BOOL, DataType.OBJECT):
            raise _Inexpressible
        return models.FieldCondition(key=key, match=models.MatchValue(value=value))
    if isinstance(value, (int, float)):
        if element not in (DataType.INT, DataType.NUMBER, DataType.OBJECT):
            raise _Inexpressible
        return models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))
    if isinstance(value, _dt.datetime) and element is DataType.DATE:
        return models.FieldCondition(key=key, range=models.DatetimeRange(gte=value, lte=value))
    if isinstance(value, str) and element in (DataType.TEXT, DataType.UUID, DataType.OBJECT):
        return models.FieldCondition(key=key, match=models.MatchValue(value=value))
    raise _Inexpressible


def _ordered(key: str, element: DataType, op: FilterOperator, value: Any) -> Condition:
    bounds = {
        FilterOperator.LESS_THAN: "lt",
        FilterOperator.LESS_OR_EQUAL: "lte",
        FilterOperator.GREATER_THAN: "gt",
        FilterOperator.GREATER_OR_EQUAL: "gte",
    }
    arg = {bounds[op]: value}
    if isinstance(value, _dt.datetime) and element is DataType.DATE:
        return models.FieldCondition(key=key, range=models.DatetimeRange(**arg))
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and element in (DataType.INT, DataType.NUMBER, DataType.OBJECT)
    ):
        return models.FieldCondition(key=key, range=models.Range(**arg))
    raise _Inexpressible  # string ordering, dates inside OBJECT values, ...


def _leaf_condition(leaf: FilterLeaf, config: CollectionConfig) -> Condition:
    prop = config.property(leaf.target)
    key = property_key(leaf.target, leaf.path)
    if prop is None or key is None:
        raise _Inexpressible
    element = DataType.OBJECT if leaf.path else prop.data_type.element
    op = leaf.operator
    if op is FilterOperator.IS_NONE:
        empty = models.IsEmptyCondition(is_empty=models.PayloadField(key=key))
        return empty if leaf.value else models.Filter(must_not=[empty])
    if op is FilterOperator.EQUAL:
        return _equal(key, element, leaf.value)
    if op is FilterOperator.NOT_EQUAL:
        return models.Filter(must_not=[_equal(key, element, leaf.value)])
    if op in (
        FilterOperator.LESS_THAN,
        FilterOperator.LESS_OR_EQUAL,
        FilterOperator.GREATER_THAN,
        FilterOperator.GREATER_OR_EQUAL,
    ):
        return _ordered(key, element, op, leaf.value)
    values = list(leaf.value) if op is not FilterOperator.LIKE else []
    if op is FilterOperator.CONTAINS_ANY and values:
        return _any_of(key, element, values)
    if op is FilterOperator.CONTAINS_ALL and values:
        return models.Filter(must=[_equal(key, element, v) for v in values])
    if op is FilterOperator.CONTAINS_NONE and values:
        return models.Filter(must_not=[_any_of(key, element, values)])
    raise _Inexpressible  # like(), or an empty operand list


def _any_of(key: str, element: DataType, values: list[Any]) -> Condition:
    if element in (DataType.TEXT, DataType.UUID, DataType.OBJECT) and all(
        isinstance(v, str) for v in values
    ):
        return models.FieldCondition(key=key, match=models.MatchAny(any=values))
    return models.Filter(should=[_equal(key, element, v) for v in values])
