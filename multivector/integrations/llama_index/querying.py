"""One LlamaIndex query through the retriever: plan it (filters located by the collection's
mapping and settled against its schema), embed the query text, search, and keep what scoring
needs (the settings and the query matrix's token count).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.schema import NodeWithScore
from llama_index.core.vector_stores.types import VectorStoreQuery

from multivector._types import F32Array, Matrix, MultiVectorEmbedder
from multivector.api.collection import Collection
from multivector.embeddings.calls import aembed_documents, aembed_query
from multivector.errors import ConfigError
from multivector.integrations.llama_index.filters import SearchCall, plan_query
from multivector.integrations.llama_index.nodes import scored_nodes
from multivector.integrations.mapping import DocumentMapping
from multivector.retrieval import RetrievedHit, Retriever, RetrieverSettings
from multivector.schema.config import CollectionConfig, DataType

__all__ = [
    "QueryContext",
    "QueryRun",
    "aembedded",
    "arun_query",
    "check_collection_embeds",
    "embedded",
    "run_query",
]


@dataclass(frozen=True)
class QueryContext:
    """What a store queries with: its retriever, own embedder (if any), mapping and schema."""

    retriever: Retriever
    embedder: MultiVectorEmbedder | None
    mapping: DocumentMapping
    config: CollectionConfig


@dataclass(frozen=True)
class QueryRun:
    """One query's hits, with the settings it ran with and its query matrix (None: keyword)."""

    hits: list[RetrievedHit]
    settings: RetrieverSettings
    matrix: F32Array | None

    def nodes(self, mapping: DocumentMapping) -> list[NodeWithScore]:
        """The hits as ``MultiVectorNodeWithScore`` (with each leg's raw score)."""
        rows = (
            int(self.matrix.shape[0]) if self.matrix is not None and self.matrix.ndim == 2 else None
        )
        return scored_nodes(self.hits, mapping, self.settings, rows)


def _plan(
    ctx: QueryContext, query: VectorStoreQuery, kwargs: Mapping[str, Any]
) -> tuple[SearchCall, RetrieverSettings]:
    call = plan_query(query, kwargs, mapping=ctx.mapping, config=ctx.config)
    overrides = dict(call.overrides)
    text = ctx.config.property(ctx.mapping.text_key)
    if text is not None and text.data_type is DataType.TEXT:  # BM25 over the node text only
        overrides["query_properties"] = (ctx.mapping.text_key,)
    return call, ctx.retriever.with_settings(**overrides)


def _matrix(value: Any) -> F32Array:
    out: F32Array = np.asarray(value, dtype=np.float32)
    return out


def run_query(ctx: QueryContext, query: VectorStoreQuery, kwargs: Mapping[str, Any]) -> QueryRun:
    """Plan, embed (the store's embedder, else the collection's) and search."""
    call, settings = _plan(ctx, query, kwargs)
    matrix = None if call.matrix is None else _matrix(call.matrix)
    if matrix is None and ctx.retriever.needs_vector(settings):
        matrix = (
            _matrix(ctx.embedder.embed_query(call.text))
            if ctx.embedder is not None
            else ctx.retriever.embed_query(call.text, settings)
        )
    return QueryRun(ctx.retriever.search(call.text, matrix, settings), settings, matrix)


async def arun_query(
    ctx: QueryContext, query: VectorStoreQuery, kwargs: Mapping[str, Any]
) -> QueryRun:
    """Async :func:`run_query`: embeds with the embedder's coroutine, searches in a thread."""
    call, settings = _plan(ctx, query, kwargs)
    matrix = None if call.matrix is None else _matrix(call.matrix)
    if matrix is None and ctx.retriever.needs_vector(settings):
        if ctx.embedder is None:
            matrix = await ctx.retriever.aembed_query(call.text, settings)
        else:
            matrix = _matrix(await aembed_query(ctx.embedder, call.text))
    hits = await ctx.retriever.asearch(call.text, matrix, settings)
    return QueryRun(hits, settings, matrix)


def embedded(embed: Callable[[list[str]], Sequence[Matrix]], texts: list[str]) -> Sequence[Matrix]:
    """``embed(texts)``; a failure keeps its type and gets the note that no node was stored."""
    try:
        return embed(texts)
    except Exception as exc:
        _note(exc, "no node was stored")
        raise


async def aembedded(embedder: MultiVectorEmbedder, texts: list[str]) -> Sequence[Matrix]:
    """Async :func:`embedded` (the embedder's coroutine, else a worker thread)."""
    try:
        return await aembed_documents(embedder, texts)
    except Exception as exc:
        _note(exc, "no node was stored")
        raise


def _note(exc: BaseException, text: str) -> None:
    add_note = getattr(exc, "add_note", None)  # Python 3.11+; the type and message stay as raised
    if add_note is not None:
        add_note(text)


def check_collection_embeds(collection: Collection, space: str) -> None:
    """Raise when ``space`` embeds with a user's embedder this process does not have."""
    try:
        collection.embedder(space)
    except ConfigError as exc:
        raise ConfigError(
            f"vector {space!r} of {collection.name!r} was embedded by your own embedder, which is "
            "not saved with the collection (only built-in embedders are): pass it again, e.g. "
            f"MultiVectorStore.from_existing_collection({collection.name!r}, embedder=...)"
        ) from exc
