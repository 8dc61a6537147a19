"""LangChain search arguments in multivector terms: search types to retriever modes, and the
keyword arguments of a search to :class:`~multivector.retrieval.RetrieverSettings` overrides.

Nothing here imports LangChain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from multivector.errors import ConfigError
from multivector.integrations.langchain.filters import translate_filter
from multivector.retrieval import SearchMode
from multivector.schema.query import FilterNode

__all__ = ["SEARCH_TYPES", "search_overrides"]

#: LangChain search types and the retriever mode each runs.
SEARCH_TYPES = {
    "similarity": SearchMode.VECTOR,
    "similarity_score_threshold": SearchMode.VECTOR,
    "mmr": SearchMode.MMR,
    "hybrid": SearchMode.HYBRID,
    "keyword": SearchMode.KEYWORD,
}
#: LangChain keyword -> Retriever setting (names not listed pass through unchanged).
_RENAMES = {"k": "limit", "filter": "filters", "lambda_mult": "mmr_lambda"}
_PASS_THROUGH: tuple[str, ...] = (
    "alpha",
    "fusion_type",
    "fetch_k",
    "query_properties",
    "bm25_operator",
    "max_vector_distance",
    "mmr_lambda",
    "highlights",
    "group_by",
    "max_per_group",
)


def search_overrides(
    search_type: str,
    k: int,
    options: dict[str, Any],
    *,
    metadata_key: str = "metadata",
    translate: Callable[[Any], FilterNode | None] | None = None,
) -> dict[str, Any]:
    """The ``Retriever.with_settings`` keywords of one search: its mode, ``limit`` ``k`` and the
    ``options`` renamed (``filter`` translated by ``translate``, by default with the metadata
    nested under ``metadata_key``).

    Raises:
        ConfigError: an unknown search type or search argument.

    """
    mode = SEARCH_TYPES.get(search_type)
    if mode is None:
        raise ConfigError(f"unknown search_type {search_type!r}; use one of {sorted(SEARCH_TYPES)}")
    out: dict[str, Any] = {"mode": mode, "limit": k}
    for key, value in options.items():
        name = _RENAMES.get(key, key)
        if name not in _PASS_THROUGH and name not in ("limit", "filters"):
            raise ConfigError(
                f"unknown search argument {key!r}; known: k, filter, lambda_mult, "
                f"{', '.join(_PASS_THROUGH)}, score_threshold"
            )
        if name == "filters":
            value = (
                translate(value)
                if translate is not None
                else translate_filter(value, metadata_property=metadata_key)
            )
        out[name] = value
    return out
