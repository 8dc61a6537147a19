"""Filter validation against a schema, and evaluation over the embedded store's columns.

``validate_filter`` runs at the public boundary for every backend: an unknown property or
operator, or an operand of the wrong type, is an error, never silently ignored.
``evaluate_filter`` turns a filter tree into a boolean mask over the embedded store's slots.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
import uuid as _uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from multivector._types import BoolArray
from multivector.config import CollectionConfig, DataType
from multivector.errors import FilterError, InvalidObjectError
from multivector.query import ID_TARGET, FilterGroup, FilterLeaf, FilterNode, FilterOperator
from multivector.stores.validation import parse_date

__all__ = ["FilterContext", "evaluate_filter", "matches", "validate_filter"]

_ORDERED = {
    FilterOperator.LESS_THAN,
    FilterOperator.LESS_OR_EQUAL,
    FilterOperator.GREATER_THAN,
    FilterOperator.GREATER_OR_EQUAL,
}
_ID_OPERATORS = {
    FilterOperator.EQUAL,
    FilterOperator.NOT_EQUAL,
    FilterOperator.CONTAINS_ANY,
    FilterOperator.CONTAINS_NONE,
    FilterOperator.LIKE,
}
_LEAF_OPERATORS = {
    op
    for op in FilterOperator
    if op not in (FilterOperator.AND, FilterOperator.OR, FilterOperator.NOT)
}


def _operands(leaf: FilterLeaf) -> list[Any]:
    if leaf.operator in (
        FilterOperator.CONTAINS_ANY,
        FilterOperator.CONTAINS_ALL,
        FilterOperator.CONTAINS_NONE,
    ):
        return list(leaf.value)
    if leaf.operator is FilterOperator.IS_NONE:
        return []
    return [leaf.value]


def _check_operand(leaf: FilterLeaf, element: DataType, value: object) -> Any:
    where = f"filter on {leaf.target!r} ({leaf.operator.value})"
    ok: bool
    if element is DataType.TEXT:
        ok = isinstance(value, str)
    elif element in (DataType.INT, DataType.NUMBER):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif element is DataType.BOOL:
        ok = isinstance(value, bool)
    elif element is DataType.DATE:
        try:
            return parse_date(value, where=where)
        except InvalidObjectError as exc:
            raise FilterError(str(exc)) from None
    elif element is DataType.UUID:
        try:
            return str(_uuid.UUID(str(value)))
        except ValueError:
            ok = False
    else:
        ok = True
    if not ok:
        raise FilterError(
            f"{where}: operand {value!r} ({type(value).__name__}) does not fit the property type "
            f"{element.value!r}"
        )
    return value


def validate_filter(node: FilterNode | None, config: CollectionConfig) -> FilterNode | None:
    """Check a filter tree against the schema and return it with operands normalised.

    Raises FilterError naming the unknown property, the unknown operator or the bad operand.
    """
    if node is None:
        return None
    return _validate_node(node, config)


def _validate_node(node: FilterNode, config: CollectionConfig) -> FilterNode:
    if isinstance(node, FilterGroup):
        if node.operator not in (FilterOperator.AND, FilterOperator.OR, FilterOperator.NOT):
            raise FilterError(
                f"unknown filter group operator {node.operator!r}; use AND, OR or NOT"
            )
        if node.operator is FilterOperator.NOT and len(node.filters) != 1:
            raise FilterError("NOT takes exactly one filter")
        children = tuple(_validate_node(child, config) for child in node.filters)
        return FilterGroup(node.operator, children)
    if not isinstance(node, FilterLeaf):
        raise FilterError(f"{node!r} is not a filter; build one with Filter.by_property(...)")
    if node.operator not in _LEAF_OPERATORS:
        raise FilterError(
            f"unknown filter operator {node.operator!r}; use one of {sorted(o.value for o in _LEAF_OPERATORS)}"
        )
    if node.target == ID_TARGET:
        if node.operator not in _ID_OPERATORS:
            raise FilterError(
                f"Filter.by_id() does not support {node.operator.value}; use equal, not_equal, "
                "contains_any, contains_none or like"
            )
        if node.operator is FilterOperator.LIKE:
            return node
        ids = tuple(str(v) if isinstance(v, _uuid.UUID) else v for v in _operands(node))
        for value in ids:
            if not isinstance(value, str):
                raise FilterError(
                    f"Filter.by_id(): {value!r} is not an id; pass str or uuid.UUID values"
                )
        if node.operator in (FilterOperator.CONTAINS_ANY, FilterOperator.CONTAINS_NONE):
            return FilterLeaf(node.target, node.operator, ids, node.path, node.case_sensitive)
        return FilterLeaf(node.target, node.operator, ids[0], node.path, node.case_sensitive)
    prop = config.property(node.target)
    if prop is None:
        known = sorted(p.name for p in config.properties)
        raise FilterError(
            f"filter on unknown property {node.target!r} of collection {config.name!r}; "
            f"known properties: {known}"
        )
    if node.path and prop.data_type is not DataType.OBJECT:
        raise FilterError(
            f"filter on {node.target!r} has path {list(node.path)!r} but the property is "
            f"{prop.data_type.value!r}; paths only reach into OBJECT properties"
        )
    element = prop.data_type.element
    if node.operator is FilterOperator.LIKE and element not in (
        DataType.TEXT,
        DataType.OBJECT,
        DataType.UUID,
    ):
        raise FilterError(
            f"like() needs a text property; {node.target!r} is {prop.data_type.value!r}"
        )
    if node.operator in _ORDERED and element in (DataType.BOOL, DataType.UUID):
        raise FilterError(
            f"{node.operator.value} is not defined for {prop.data_type.value!r} property {node.target!r}"
        )
    values = [_check_operand(node, element, v) for v in _operands(node)]
    if node.operator in (
        FilterOperator.CONTAINS_ANY,
        FilterOperator.CONTAINS_ALL,
        FilterOperator.CONTAINS_NONE,
    ):
        return FilterLeaf(node.target, node.operator, tuple(values), node.path, node.case_sensitive)
    if values:
        return FilterLeaf(node.target, node.operator, values[0], node.path, node.case_sensitive)
    return node


class FilterContext(Protocol):
    """What the evaluator needs from a store: slot count, liveness, ids and property values."""

    @property
    def n_slots(self) -> int:
        """Number of slots (live or not)."""
        ...

    def alive(self) -> BoolArray:
        """Bool mask of live slots, length ``n_slots``."""
        ...

    def uuid_at(self, slot: int) -> str | None:
        """The uuid living in ``slot``, or None."""
        ...

    def values(self, name: str) -> Sequence[Any]:
        """Values of property ``name`` by slot (None where missing), length ``n_slots``."""
        ...


@lru_cache(maxsize=256)
def _like_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(fnmatch.translate(pattern).replace("(?s:", "(?s:", 1), flags)


def _resolve(value: Any, path: tuple[str, ...]) -> Any:
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


def _leaf_predicate(leaf: FilterLeaf) -> Callable[[Any], bool]:
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
    value = uuid if node.target == ID_TARGET else _resolve(properties.get(node.target), node.path)
    return _leaf_predicate(node)(value)


def _evaluate_leaf(leaf: FilterLeaf, ctx: FilterContext, alive: BoolArray) -> BoolArray:
    slots = np.flatnonzero(alive).tolist()
    pred = _leaf_predicate(leaf)
    out = np.zeros(ctx.n_slots, dtype=np.bool_)
    if leaf.target == ID_TARGET:
        hits = [s for s in slots if pred(ctx.uuid_at(s))]
    else:
        column = ctx.values(leaf.target)
        path = leaf.path
        if path:
            hits = [s for s in slots if pred(_resolve(column[s], path))]
        else:
            hits = [s for s in slots if pred(column[s])]
    out[np.asarray(hits, dtype=np.int64)] = True
    return out


def evaluate_filter(node: FilterNode | None, ctx: FilterContext) -> BoolArray:
    """Boolean mask over slots: live and matching ``node`` (a validated filter)."""
    alive: BoolArray = np.array(ctx.alive(), dtype=np.bool_)
    if node is None:
        return alive
    result: BoolArray = _evaluate(node, ctx, alive)
    return result


def _evaluate(node: FilterNode, ctx: FilterContext, alive: BoolArray) -> BoolArray:
    if isinstance(node, FilterLeaf):
        return _evaluate_leaf(node, ctx, alive)
    if node.operator is FilterOperator.AND:
        mask: BoolArray = alive.copy()
        for child in node.filters:
            mask &= _evaluate(child, ctx, mask)
        return mask
    if node.operator is FilterOperator.OR:
        mask = np.zeros(alive.shape, dtype=np.bool_)
        for child in node.filters:
            mask |= _evaluate(child, ctx, alive & ~mask)
        return mask
    negated: BoolArray = alive & ~_evaluate(node.filters[0], ctx, alive)
    return negated
