"""The search core of the LangChain store: LangChain search arguments -> retriever settings ->
hits -> :class:`~.scored_store.ExplainedDocument` / :class:`~.scored_store.ScoredDocument`.

:class:`SearchingStore` implements :meth:`~.scored_store.ScoredVectorStore.scored_search` (which
every LangChain search method runs through) over :class:`multivector.retrieval.Retriever`; the
concrete :class:`~.store.MultiVectorStore` provides the collection, mapping and embedder.
"""

from __future__ import annotations

from typing import Any

from multivector._types import F32Array, MultiVectorEmbedder
from multivector.api.collection import Collection
from multivector.embeddings.adapters import as_matrix
from multivector.integrations.langchain.arguments import search_overrides
from multivector.integrations.langchain.documents import to_document
from multivector.integrations.langchain.filters import translate_filter
from multivector.integrations.langchain.scored_store import (
    ExplainedDocument,
    ScoredDocument,
    ScoredVectorStore,
)
from multivector.integrations.mapping import DocumentMapping, settle
from multivector.retrieval import RetrievedHit, Retriever, RetrieverSettings, relevance_score
from multivector.retrieval.scores import leg_scores
from multivector.schema.config import DataType
from multivector.schema.query import FilterGroup, FilterLeaf, FilterNode

__all__ = ["SearchingStore"]


class SearchingStore(ScoredVectorStore):
    """A ``ScoredVectorStore`` searching one collection through a framework-free ``Retriever``."""

    collection: Collection
    mapping: DocumentMapping
    text_key: str
    _retriever: Retriever
    _embedder: MultiVectorEmbedder | None
    _self_embed: bool
    _normalize: bool

    def translate_filter(self, filter_: Any) -> FilterNode | None:
        """A dict filter as this collection's filter tree (a native ``Filter`` passes through)."""
        if isinstance(filter_, (FilterLeaf, FilterGroup)):
            return filter_
        # the configuration as last seen, as the query plan will be validated against
        known = self.collection.backend.known_config
        return settle(translate_filter(filter_, mapping=self.mapping), known)

    def _overrides(self, search_type: str, k: int, options: dict[str, Any]) -> RetrieverSettings:
        overrides = search_overrides(search_type, k, options, translate=self.translate_filter)
        if "query_properties" not in overrides:  # BM25 over the text, not over metadata
            text = self.collection.backend.known_config.property(self.text_key)
            if text is not None and text.data_type is DataType.TEXT:
                overrides["query_properties"] = (self.text_key,)
        return self._retriever.with_settings(**overrides)

    def _embed(self, query: str, s: RetrieverSettings) -> F32Array | None:
        # A query matrix when the settings need one: ours when we embed, else the collection's
        # embedder through the Retriever.
        if not self._retriever.needs_vector(s):
            return None
        if self._self_embed and self._embedder is not None:
            return self._query_matrix(self._embedder.embed_query(query))
        return self._retriever.embed_query(query, s)

    async def _aembed(self, query: str, s: RetrieverSettings) -> F32Array | None:
        if not self._retriever.needs_vector(s):
            return None
        if self._self_embed and self._embedder is not None:
            from multivector.embeddings.calls import aembed_query

            return self._query_matrix(await aembed_query(self._embedder, query))
        return await self._retriever.aembed_query(query, s)

    def _query_matrix(self, vector: Any) -> F32Array:
        return as_matrix(vector, normalize=self._normalize)

    def _explain(
        self,
        hits: list[RetrievedHit],
        s: RetrieverSettings,
        matrix: F32Array | None,
        threshold: float | None,
    ) -> list[ExplainedDocument]:
        n_q = int(matrix.shape[0]) if matrix is not None and matrix.ndim == 2 else None
        out = []
        for h in hits:
            legs = leg_scores(h, s, n_q)
            out.append(
                ExplainedDocument(
                    document=to_document(h.uuid, h.properties, self.mapping),
                    score=h.score,
                    relevance=relevance_score(h.similarity, s),
                    vector_similarity=legs.vector_similarity,
                    keyword_score=legs.keyword_score,
                    explanation=h.explanation,
                    highlights=h.highlights,
                )
            )
        return out if threshold is None else [d for d in out if d.relevance >= threshold]

    def explained_search(
        self,
        query: str,
        search_type: str = "similarity",
        *,
        k: int = 4,
        vector: Any = None,
        score_threshold: float | None = None,
        **options: Any,
    ) -> list[ExplainedDocument]:
        """:meth:`scored_search` with leg scores, hybrid explanation (and ``highlights=True``)."""
        s = self._overrides(search_type, k, options)
        matrix = self._query_matrix(vector) if vector is not None else self._embed(query, s)
        hits = self._retriever.search(query, matrix, s)
        return self._explain(hits, s, matrix, score_threshold)

    async def aexplained_search(
        self,
        query: str,
        search_type: str = "similarity",
        *,
        k: int = 4,
        vector: Any = None,
        score_threshold: float | None = None,
        **options: Any,
    ) -> list[ExplainedDocument]:
        """Async :meth:`explained_search`."""
        s = self._overrides(search_type, k, options)
        matrix = self._query_matrix(vector) if vector is not None else await self._aembed(query, s)
        hits = await self._retriever.asearch(query, matrix, s)
        return self._explain(hits, s, matrix, score_threshold)

    def scored_search(
        self,
        query: str,
        search_type: str = "similarity",
        *,
        k: int = 4,
        vector: Any = None,
        score_threshold: float | None = None,
        **options: Any,
    ) -> list[ScoredDocument]:
        """The one search core: any search type, a query text or matrix, every option."""
        found = self.explained_search(
            query, search_type, k=k, vector=vector, score_threshold=score_threshold, **options
        )
        return [ScoredDocument(d.document, d.score, d.relevance) for d in found]

    async def ascored_search(
        self,
        query: str,
        search_type: str = "similarity",
        *,
        k: int = 4,
        vector: Any = None,
        score_threshold: float | None = None,
        **options: Any,
    ) -> list[ScoredDocument]:
        """Async :meth:`scored_search`."""
        found = await self.aexplained_search(
            query, search_type, k=k, vector=vector, score_threshold=score_threshold, **options
        )
        return [ScoredDocument(d.document, d.score, d.relevance) for d in found]
