"""LlamaIndex queries -> multivector searches: ``MetadataFilters`` and ``VectorStoreQuery``.

Every :class:`~llama_index.core.vector_stores.types.FilterOperator` and every
:class:`~llama_index.core.vector_stores.types.FilterCondition` (AND / OR / NOT, nested to any
depth) is translated; an operator or operand this module cannot honour raises
:class:`~multivector.errors.FilterError`, it is never dropped. A filter on key ``k`` looks where the
collection's :class:`~multivector.integrations.mapping.DocumentMapping` keeps ``k``: ``metadata.k``
(nested layout), the property ``k`` (flat layout: ``MetadataFilter(key="docid", ...)`` on the seed's
collection) or ``_metadata.k`` (keys that cannot be property names), whatever ``k`` looks like
(``"page number"``, ``"id"``, ``"_private"``). A key no object holds matches as a missing value.

Semantics follow LlamaIndex's reference store (``SimpleVectorStore``), with array values treated
element-wise as in Weaviate and Qdrant:

======================  ============================================================
``==`` ``!=``           equal / not equal (an array value: any element / no element);
                        a missing key matches ``!=`` only
``>`` ``<`` ``>=`` ``<=``  ordered comparison; a missing key never matches
``in`` / ``nin``        the value is one of / none of the operand list (missing: ``nin``)
``any`` / ``all``       the (array) value holds any / all of the operand list
``contains``            the (array) value holds the operand (a string value: equality;
                        use ``text_match`` for substrings)
``text_match``          the string value contains the operand, case-sensitive
``text_match_insensitive``  the same, ignoring case
``is_empty``            the key is missing, null, ``""`` or ``[]`` (the operand is ignored)
NOT                     none of the filters match (as in ``SimpleVectorStore``)
======================  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from multivector.errors import ConfigError, FilterError
from multivector.integrations.mapping import REF_DOC_KEY, DocumentMapping, settle
from multivector.retrieval import SearchMode
from multivector.schema.config import CollectionConfig
from multivector.schema.query import Filter, FilterNode, _PropertyFilter

__all__ = [
    "QUERY_OPTIONS",
    "SearchCall",
    "all_of",
    "escape_like",
    "id_filters",
    "plan_query",
    "search_mode",
    "translate_filters",
]


def escape_like(text: str) -> str:
    """Escape ``*``, ``?`` and ``[`` so a ``like`` pattern matches them literally."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


def all_of(nodes: Sequence[FilterNode | None]) -> FilterNode | None:
    """AND of the given filters, skipping None (None when nothing is left)."""
    present = [n for n in nodes if n is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return Filter.all_of(present)


def _scalar(f: MetadataFilter) -> Any:
    value = f.value
    if value is None:
        raise FilterError(
            f"metadata filter on {f.key!r} ({f.operator.value}) has no value; use "
            "FilterOperator.IS_EMPTY to select missing or empty values"
        )
    if isinstance(value, list):
        raise FilterError(
            f"metadata filter on {f.key!r}: operator {f.operator.value!r} takes one value, not the "
            f"list {value!r}; use FilterOperator.IN / ANY / ALL for lists"
        )
    return value


def _list(f: MetadataFilter) -> list[Any]:
    if not isinstance(f.value, list):
        raise FilterError(
            f"metadata filter on {f.key!r}: operator {f.operator.value!r} takes a list of values, "
            f"got {f.value!r}; write value=[{f.value!r}]"
        )
    return list(f.value)


def _text(f: MetadataFilter) -> str:
    value = _scalar(f)
    if not isinstance(value, str):
        raise FilterError(
            f"metadata filter on {f.key!r}: operator {f.operator.value!r} needs a str operand, "
            f"got {value!r}"
        )
    return value


def _leaf(f: MetadataFilter, target: _PropertyFilter) -> FilterNode:
    op = f.operator
    if op is FilterOperator.EQ:
        return target.equal(_scalar(f))
    if op is FilterOperator.NE:
        return target.not_equal(_scalar(f))
    if op is FilterOperator.GT:
        return target.greater_than(_scalar(f))
    if op is FilterOperator.LT:
        return target.less_than(_scalar(f))
    if op is FilterOperator.GTE:
        return target.greater_or_equal(_scalar(f))
    if op is FilterOperator.LTE:
        return target.less_or_equal(_scalar(f))
    if op in (FilterOperator.IN, FilterOperator.ANY):
        return target.contains_any(_list(f))
    if op is FilterOperator.NIN:
        return target.contains_none(_list(f))
    if op is FilterOperator.ALL:
        return target.contains_all(_list(f))
    if op is FilterOperator.CONTAINS:
        return target.contains_any([_scalar(f)])
    if op is FilterOperator.TEXT_MATCH:
        return target.like(f"*{escape_like(_text(f))}*", case_sensitive=True)
    if op is FilterOperator.TEXT_MATCH_INSENSITIVE:
        return target.like(f"*{escape_like(_text(f))}*", case_sensitive=False)
    if op is FilterOperator.IS_EMPTY:
        return Filter.any_of([target.is_none(True), target.equal("")])
    raise FilterError(
        f"metadata filter on {f.key!r}: operator {op!r} is not supported by multivector; "
        "upgrade multivector or express the condition with the operators listed in its docs"
    )


def translate_filters(
    filters: MetadataFilters | None,
    *,
    field: str = "metadata",
    mapping: DocumentMapping | None = None,
) -> FilterNode | None:
    """Translate LlamaIndex metadata filters into one filter tree, each key located by
    ``mapping`` (default: nested in OBJECT property ``field``).

    None or an empty ``MetadataFilters`` gives None (no restriction).
    """
    where = mapping or DocumentMapping(metadata_key=field, nested=True)
    if filters is None:
        return None
    if not isinstance(filters, MetadataFilters):
        raise FilterError(
            f"filters must be a llama_index MetadataFilters, got {type(filters).__name__}"
        )
    children: list[FilterNode] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            nested = translate_filters(item, mapping=where)
            if nested is not None:
                children.append(nested)
        elif isinstance(item, MetadataFilter):
            children.append(_leaf(item, where.field(item.key)))
        else:
            raise FilterError(f"unexpected entry {item!r} in MetadataFilters.filters")
    if not children:
        return None
    condition = filters.condition or FilterCondition.AND
    if condition is FilterCondition.AND:
        return children[0] if len(children) == 1 else Filter.all_of(children)
    if condition is FilterCondition.OR:
        return children[0] if len(children) == 1 else Filter.any_of(children)
    if condition is FilterCondition.NOT:
        inner = children[0] if len(children) == 1 else Filter.any_of(children)
        return Filter.not_(inner)
    raise FilterError(f"unknown filter condition {condition!r}; use AND, OR or NOT")


# ------------------------------------------------------------------------- queries
_MODES = {
    VectorStoreQueryMode.DEFAULT: SearchMode.VECTOR,
    VectorStoreQueryMode.HYBRID: SearchMode.HYBRID,
    VectorStoreQueryMode.SPARSE: SearchMode.KEYWORD,
    VectorStoreQueryMode.TEXT_SEARCH: SearchMode.KEYWORD,
    VectorStoreQueryMode.MMR: SearchMode.MMR,
}
#: Keyword arguments ``MultiVectorStore.query(q, **kwargs)`` understands.
QUERY_OPTIONS = frozenset(
    {
        "query_matrix",
        "fusion_type",
        "fetch_k",
        "mmr_prefetch_k",
        "mmr_prefetch_factor",
        "highlights",
        "group_by",
        "max_per_group",
    }
)


@dataclass(frozen=True)
class SearchCall:
    """One retriever call: the query text, an optional query matrix and the setting overrides."""

    text: str
    matrix: Any
    overrides: dict[str, Any]


def search_mode(mode: str | VectorStoreQueryMode | SearchMode) -> SearchMode:
    """Our search mode for a LlamaIndex mode (``"default"``, ``"hybrid"``, ...) or one of ours."""
    if isinstance(mode, SearchMode):
        return mode
    value = str(getattr(mode, "value", mode))
    for ours in SearchMode:
        if value == ours.value:
            return ours
    try:
        return _MODES[VectorStoreQueryMode(value)]
    except (ValueError, KeyError):
        supported = sorted({m.value for m in _MODES} | {m.value for m in SearchMode})
        raise ConfigError(
            f"query mode {value!r} is not supported by MultiVectorStore; use one of {supported}"
        ) from None


def id_filters(
    *, doc_ids: Sequence[str] | None, node_ids: Sequence[str] | None
) -> FilterNode | None:
    """Restrict to these source documents and / or node ids (None or ``[]``: no restriction)."""
    return all_of(
        [
            Filter.by_property(REF_DOC_KEY).contains_any(list(doc_ids)) if doc_ids else None,
            Filter.by_id().contains_any(list(node_ids)) if node_ids else None,
        ]
    )


def plan_query(
    query: VectorStoreQuery,
    options: Mapping[str, Any],
    *,
    mapping: DocumentMapping | None = None,
    config: CollectionConfig | None = None,
) -> SearchCall:
    """Translate a ``VectorStoreQuery`` (and the store's query kwargs) into one retriever call,
    filters located by ``mapping`` and settled against ``config`` (see
    :func:`~multivector.integrations.mapping.settle`).

    ``query_embedding`` (LlamaIndex's single vector) is ignored: the store embeds ``query_str``
    with its multi-vector embedder, or uses ``query_matrix`` when given.
    """
    unknown = set(options) - QUERY_OPTIONS
    if unknown:
        raise ConfigError(
            f"MultiVectorStore.query(): unknown keyword arguments {sorted(unknown)}; "
            f"supported: {sorted(QUERY_OPTIONS)}"
        )
    if query.output_fields is not None or query.embedding_field is not None:
        raise ConfigError(
            "VectorStoreQuery.output_fields / embedding_field are not supported by "
            "MultiVectorStore: whole nodes are always returned; leave them None"
        )
    mode = search_mode(query.mode)
    matrix = options.get("query_matrix")
    if query.query_str is None and matrix is None:
        raise ConfigError(
            "VectorStoreQuery.query_str is None: MultiVectorStore embeds the query text itself "
            "(single-vector query_embedding is ignored); pass query_str, or query_matrix=... "
            "as a keyword argument"
        )
    if mode is SearchMode.KEYWORD:
        limit = query.sparse_top_k or query.similarity_top_k
    elif mode is SearchMode.HYBRID:
        limit = query.hybrid_top_k or query.similarity_top_k
    else:
        limit = query.similarity_top_k
    overrides: dict[str, Any] = {"mode": mode, "limit": limit}
    if mode is SearchMode.HYBRID:
        overrides["alpha"] = query.alpha  # None keeps the default; an explicit 0.0 stays 0.0
        overrides["fusion_type"] = options.get("fusion_type")
    if mode is SearchMode.MMR:
        overrides["mmr_lambda"] = query.mmr_threshold
        fetch_k = options.get("fetch_k") or options.get("mmr_prefetch_k")
        factor = options.get("mmr_prefetch_factor")
        if fetch_k is None and factor is not None:
            fetch_k = max(int(limit * float(factor)), limit)
        overrides["fetch_k"] = fetch_k
    overrides["highlights"] = options.get("highlights")  # late-interaction highlights, if asked
    overrides["group_by"] = options.get("group_by")  # at most max_per_group hits per value
    overrides["max_per_group"] = options.get("max_per_group")
    filters = all_of(
        [
            id_filters(doc_ids=query.doc_ids, node_ids=query.node_ids),
            translate_filters(query.filters, mapping=mapping),
        ]
    )
    overrides["filters"] = filters if config is None else settle(filters, config)
    return SearchCall(
        text=query.query_str or "",
        matrix=matrix,
        overrides={k: v for k, v in overrides.items() if v is not None},
    )
