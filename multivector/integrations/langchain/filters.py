"""The dict filter language of the LangChain integration, translated to :mod:`multivector.schema.query`.

A filter is a dict; each field key names a key of ``Document.metadata`` and each ``$``-key an
operator (the language Chroma, PGVector and the LangChain in-memory stores share)::

    {"source": "a.pdf"}                                  equality (shorthand for $eq)
    {"page": {"$gte": 2, "$lt": 10}}                     several operators on one key: all must hold
    {"source": "a.pdf", "page": 3}                       several keys: all must hold
    {"$or": [{"page": 1}, {"tags": {"$in": ["x"]}}]}     logical groups
    {"$not": {"draft": True}}

Comparison operators: ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$in``, ``$nin``,
``$contains`` (list metadata holds every given value), ``$like`` (wildcards ``*`` and ``?``,
case-insensitive) and ``$exists``. Logical operators: ``$and``, ``$or`` (lists of filters) and
``$not`` (one filter). An unknown operator raises :class:`~multivector.errors.FilterError`.
Every field key is located by the store's
:class:`~multivector.integrations.mapping.DocumentMapping`: ``metadata.<key>`` in a collection with
a ``metadata`` OBJECT property, else the property ``key`` itself (``{"docid": "doc2"}`` on the seed's
collection), or ``_metadata.<key>`` for keys that cannot be property names (``id``, ``page number``);
so any key works on every layout. Nested metadata is reached with a native filter
(``Filter.by_property("metadata", path=["author", "name"])``), also accepted and passed through.

Nothing here imports LangChain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from multivector.errors import FilterError
from multivector.integrations.mapping import DocumentMapping
from multivector.schema.query import Filter, FilterGroup, FilterLeaf, FilterNode, _PropertyFilter

__all__ = ["COMPARISON_OPERATORS", "LOGICAL_OPERATORS", "translate_filter"]

_Leaf = Callable[[_PropertyFilter, Any], FilterNode]
_Field = Callable[[str], _PropertyFilter]


def _eq(field: _PropertyFilter, value: Any) -> FilterNode:
    return field.is_none(True) if value is None else field.equal(value)


def _ne(field: _PropertyFilter, value: Any) -> FilterNode:
    return field.is_none(False) if value is None else field.not_equal(value)


def _exists(field: _PropertyFilter, value: Any) -> FilterNode:
    if not isinstance(value, bool):
        raise FilterError(f"$exists takes True or False, got {value!r}")
    return field.is_none(not value)


def _contains(field: _PropertyFilter, value: Any) -> FilterNode:
    values = value if isinstance(value, (list, tuple)) else [value]
    return field.contains_all(values)


def _list_operand(op: str, value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise FilterError(
            f"{op} takes a list of values, e.g. {{'{op}': ['a', 'b']}}; got {value!r}"
        )
    return value


#: ``$operator`` -> how it becomes a leaf of the filter tree.
COMPARISON_OPERATORS: dict[str, _Leaf] = {
    "$eq": _eq,
    "$ne": _ne,
    "$gt": lambda f, v: f.greater_than(v),
    "$gte": lambda f, v: f.greater_or_equal(v),
    "$lt": lambda f, v: f.less_than(v),
    "$lte": lambda f, v: f.less_or_equal(v),
    "$in": lambda f, v: f.contains_any(_list_operand("$in", v)),
    "$nin": lambda f, v: f.contains_none(_list_operand("$nin", v)),
    "$contains": _contains,
    "$like": lambda f, v: f.like(v),
    "$exists": _exists,
}
LOGICAL_OPERATORS = ("$and", "$or", "$not")


def translate_filter(
    filter_: Any,
    *,
    metadata_property: str = "metadata",
    mapping: DocumentMapping | None = None,
) -> FilterNode | None:
    """Translate a dict filter (or pass through a native ``Filter``) to the store's filter tree.

    Keys are located by ``mapping`` (default: nested metadata in OBJECT property
    ``metadata_property``). ``None`` and ``{}`` mean "no filter". Raises FilterError naming the
    bad key, operator or value.
    """
    if filter_ is None:
        return None
    if isinstance(filter_, (FilterLeaf, FilterGroup)):
        return filter_
    if not isinstance(filter_, Mapping):
        raise FilterError(
            f"filter must be a dict such as {{'source': 'a.pdf'}} or a multivector Filter, "
            f"got {type(filter_).__name__}"
        )
    if not filter_:
        return None
    where = mapping or DocumentMapping(metadata_key=metadata_property, nested=True)
    return _mapping(filter_, where.field)


def _combine(nodes: Sequence[FilterNode]) -> FilterNode:
    return nodes[0] if len(nodes) == 1 else Filter.all_of(nodes)


def _mapping(spec: Mapping[str, Any], prop: _Field) -> FilterNode:
    if not spec:
        raise FilterError("an empty filter {} cannot appear inside $and / $or / $not")
    nodes: list[FilterNode] = []
    for key, value in spec.items():
        if not isinstance(key, str):
            raise FilterError(f"filter keys must be strings, got {key!r}")
        if key.startswith("$"):
            nodes.append(_logical(key, value, prop))
        else:
            nodes.append(_field(key, value, prop))
    return _combine(nodes)


def _logical(op: str, value: Any, prop: _Field) -> FilterNode:
    if op == "$not":
        if isinstance(value, Mapping):
            return Filter.not_(_mapping(value, prop))
        if isinstance(value, (list, tuple)) and value:
            return Filter.not_(_combine([_sub(v, prop, op) for v in value]))
        raise FilterError(f"$not takes one filter dict, got {value!r}")
    if op in ("$and", "$or"):
        if not isinstance(value, (list, tuple)) or not value:
            raise FilterError(f"{op} takes a non-empty list of filter dicts, got {value!r}")
        children = [_sub(v, prop, op) for v in value]
        return Filter.all_of(children) if op == "$and" else Filter.any_of(children)
    raise FilterError(
        f"unknown filter operator {op!r} at the top of a filter; logical operators are "
        f"{list(LOGICAL_OPERATORS)}, and comparisons go under a metadata key: "
        "{'page': {'$gt': 2}}"
    )


def _sub(value: Any, prop: _Field, op: str) -> FilterNode:
    if not isinstance(value, Mapping):
        raise FilterError(f"{op}: every item must be a filter dict, got {value!r}")
    return _mapping(value, prop)


def _field(key: str, value: Any, prop: _Field) -> FilterNode:
    field = prop(key)
    if not isinstance(value, Mapping):
        return _apply("$eq", key, field, value)
    if not value:
        raise FilterError(f"filter on {key!r}: empty operator dict; write e.g. {{'$eq': 1}}")
    nodes = [_apply(op, key, field, operand) for op, operand in value.items()]
    return _combine(nodes)


def _apply(op: Any, key: str, field: _PropertyFilter, operand: Any) -> FilterNode:
    build = COMPARISON_OPERATORS.get(op) if isinstance(op, str) else None
    if build is None:
        raise FilterError(
            f"unknown filter operator {op!r} on metadata key {key!r}; use one of "
            f"{sorted(COMPARISON_OPERATORS)} (or {list(LOGICAL_OPERATORS)} at the top level)"
        )
    try:
        return build(field, operand)
    except FilterError as exc:
        raise FilterError(f"filter on metadata key {key!r} ({op}): {exc}") from None
