"""LlamaIndex retriever over a :class:`~multivector.integrations.llama_index.store.MultiVectorStore`
(``build_index`` and ``no_embedding_model`` live in :mod:`.indexing` and are re-exported here).
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from multivector.errors import ConfigError
from multivector.integrations.llama_index.filters import search_mode, translate_filters
from multivector.integrations.llama_index.indexing import build_index, no_embedding_model
from multivector.integrations.llama_index.store import MultiVectorStore
from multivector.retrieval import SearchMode
from multivector.schema.query import HybridFusion

__all__ = [
    "MultiVectorLlamaIndexRetriever",
    "MultiVectorRetriever",
    "build_index",
    "no_embedding_model",
]


# ---------------------------------------------------------------- retriever
class MultiVectorRetriever(BaseRetriever):
    """A LlamaIndex retriever over a :class:`MultiVectorStore` with fixed search settings.

    ``mode``: ``"hybrid"`` (default), ``"vector"`` / ``"default"``, ``"keyword"`` /
    ``"text_search"`` / ``"sparse"``, or ``"mmr"``. ``alpha`` (hybrid: 1 = vector only, 0 =
    keyword only), ``fusion_type`` (``"relative_score"``, ``"ranked"`` or ``"adaptive"``),
    ``mmr_lambda`` and ``fetch_k`` (MMR) default to the store's retriever settings when None;
    ``highlights=True`` puts late-interaction highlights on each ``MultiVectorNodeWithScore``.
    """

    def __init__(
        self,
        vector_store: MultiVectorStore,
        *,
        mode: str | VectorStoreQueryMode | SearchMode = SearchMode.HYBRID,
        alpha: float | None = None,
        fusion_type: str | HybridFusion | None = None,
        similarity_top_k: int = 4,
        filters: MetadataFilters | None = None,
        doc_ids: list[str] | None = None,
        node_ids: list[str] | None = None,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
        highlights: bool | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        if not isinstance(vector_store, MultiVectorStore):
            raise ConfigError(
                f"MultiVectorRetriever(vector_store=...) needs a MultiVectorStore, got "
                f"{type(vector_store).__name__}"
            )
        self._store = vector_store
        self._mode = search_mode(mode)
        self._query = VectorStoreQuery(
            similarity_top_k=similarity_top_k,
            mode=_LLAMA_MODES[self._mode],
            alpha=alpha,
            filters=filters,
            doc_ids=doc_ids,
            node_ids=node_ids,
            mmr_threshold=mmr_lambda,
        )
        self._options: dict[str, Any] = {
            k: v
            for k, v in {
                "fusion_type": fusion_type,
                "fetch_k": fetch_k,
                "highlights": highlights,
            }.items()
            if v is not None
        }
        translate_filters(filters, mapping=vector_store.mapping)  # fails here, not at first query
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def _bundle_query(self, query_bundle: QueryBundle) -> VectorStoreQuery:
        q = self._query
        return VectorStoreQuery(
            query_str=query_bundle.query_str,
            similarity_top_k=q.similarity_top_k,
            mode=q.mode,
            alpha=q.alpha,
            filters=q.filters,
            doc_ids=q.doc_ids,
            node_ids=q.node_ids,
            mmr_threshold=q.mmr_threshold,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._store.search_nodes(self._bundle_query(query_bundle), **self._options)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await self._store.asearch_nodes(self._bundle_query(query_bundle), **self._options)


_LLAMA_MODES = {
    SearchMode.VECTOR: VectorStoreQueryMode.DEFAULT,
    SearchMode.HYBRID: VectorStoreQueryMode.HYBRID,
    SearchMode.KEYWORD: VectorStoreQueryMode.TEXT_SEARCH,
    SearchMode.MMR: VectorStoreQueryMode.MMR,
}


#: The same class under a name that does not clash with LangChain's retriever.
MultiVectorLlamaIndexRetriever = MultiVectorRetriever
