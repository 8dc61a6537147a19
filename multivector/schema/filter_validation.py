"""Filter validation against a schema.

``validate_filter`` runs at the public boundary for every backend: an unknown property or
operator, or an operand of the wrong type, is an error, never silently ignored. The validated tree
is what :mod:`multivector.schema.filter_match` and each backend's evaluation understand.
"""

from __future__ import annotations

import uuid as _uuid
from typing import Any

from multivector.errors import FilterError, InvalidObjectError
from multivector.schema.config import CollectionConfig, DataType
from multivector.schema.query import ID_TARGET, FilterGroup, FilterLeaf, FilterNode, FilterOperator
from multivector.schema.validation import normalize_id, parse_date

__all__ = ["validate_filter"]

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


#: Deepest nesting of filter groups (``all_of`` / ``any_of`` / ``not_``) a query may use.
MAX_FILTER_DEPTH = 64


def _validate_node(node: FilterNode, config: CollectionConfig, depth: int = 1) -> FilterNode:
    if isinstance(node, FilterGroup):
        if depth > MAX_FILTER_DEPTH:
            raise FilterError(
                f"the filter nests groups deeper than {MAX_FILTER_DEPTH} levels; flatten it "
                "(Filter.all_of / any_of take any number of filters)"
            )
        if node.operator not in (FilterOperator.AND, FilterOperator.OR, FilterOperator.NOT):
            raise FilterError(
                f"unknown filter group operator {node.operator!r}; use AND, OR or NOT"
            )
        if node.operator is FilterOperator.NOT and len(node.filters) != 1:
            raise FilterError("NOT takes exactly one filter")
        children = tuple(_validate_node(child, config, depth + 1) for child in node.filters)
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
        ids = tuple(
            str(v) if isinstance(v, _uuid.UUID) else normalize_id(v) if isinstance(v, str) else v
            for v in _operands(node)
        )
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
