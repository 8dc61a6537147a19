"""LangChain's ``VectorStore`` search API over one scored search.

:class:`ScoredVectorStore` implements every LangChain search method (``similarity_search``,
``similarity_search_with_score``, the relevance-score variants, ``..._by_vector``,
``max_marginal_relevance_search(_by_vector)``, ``search(query, search_type)`` and their async
twins) with one core a subclass provides: :meth:`ScoredVectorStore.scored_search` (and its async
twin), which returns :class:`ScoredDocument` s. It is also the type
:class:`~multivector.integrations.langchain.retriever.MultiVectorRetriever` accepts, so the
retriever depends on this contract and not on the concrete
:class:`~multivector.integrations.langchain.store.MultiVectorStore`.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, NamedTuple

from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore

from multivector.results import ScoreExplanation, TokenHighlight

__all__ = ["ExplainedDocument", "ScoredDocument", "ScoredVectorStore"]


class ScoredDocument(NamedTuple):
    """A result: the Document, the raw score of its search type and its relevance in [0, 1]."""

    document: Document
    score: float
    relevance: float


@dataclass(frozen=True)
class ExplainedDocument:
    """A result with everything known about its score, beside the Document (never in its metadata).

    ``score`` and ``relevance`` are those of :class:`ScoredDocument`. ``vector_similarity`` (mean
    best cosine per query token, MaxSim / query tokens) and ``keyword_score`` (BM25) are the legs'
    raw scores, comparable across queries: threshold on these when a hybrid ``relative_score``
    (normalised per query) will not do. ``explanation`` is the hybrid fusion's account (each leg's
    raw and normalised score, weight and rank); None outside hybrid search. ``highlights``
    (only with ``highlights=True``) holds, per query token, the document token that matched it
    best with its character span in the source text.
    """

    document: Document
    score: float
    relevance: float
    vector_similarity: float | None
    keyword_score: float | None
    explanation: ScoreExplanation | None
    highlights: tuple[TokenHighlight, ...] | None = None


class ScoredVectorStore(VectorStore):
    """A LangChain ``VectorStore`` whose every search runs through :meth:`scored_search`."""

    @abstractmethod
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

    @abstractmethod
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

    # ---------------------------------------------------------------- LangChain search API
    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Any search type, ``"hybrid"`` and ``"keyword"`` included."""
        return [d.document for d in self.scored_search(query, search_type, **kwargs)]

    async def asearch(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Async :meth:`search`."""
        return [d.document for d in await self.ascored_search(query, search_type, **kwargs)]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Top-``k`` by MaxSim (``search_type=`` selects another search)."""
        kwargs.setdefault("search_type", "similarity")
        return [d.document for d in self.scored_search(query, k=k, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Async :meth:`similarity_search`."""
        kwargs.setdefault("search_type", "similarity")
        return [d.document for d in await self.ascored_search(query, k=k, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with their raw score (MaxSim; fused score for hybrid; BM25 for keyword)."""
        kwargs.setdefault("search_type", "similarity")
        return [(d.document, d.score) for d in self.scored_search(query, k=k, **kwargs)]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score`."""
        kwargs.setdefault("search_type", "similarity")
        return [(d.document, d.score) for d in await self.ascored_search(query, k=k, **kwargs)]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        kwargs.setdefault("search_type", "similarity")
        return [(d.document, d.relevance) for d in self.scored_search(query, k=k, **kwargs)]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        kwargs.setdefault("search_type", "similarity")
        found = await self.ascored_search(query, k=k, **kwargs)
        return [(d.document, d.relevance) for d in found]

    def similarity_search_by_vector(
        self, embedding: Any, k: int = 4, **kwargs: Any
    ) -> list[Document]:
        """Top-``k`` for a query matrix ``[n_tokens, dim]`` (a 1-D vector is one row)."""
        found = self.scored_search("", "similarity", k=k, vector=embedding, **kwargs)
        return [d.document for d in found]

    async def asimilarity_search_by_vector(
        self, embedding: Any, k: int = 4, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`."""
        found = await self.ascored_search("", "similarity", k=k, vector=embedding, **kwargs)
        return [d.document for d in found]

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """MMR over the ``fetch_k`` best by MaxSim (diversity by symmetric MaxSim)."""
        found = self.scored_search(
            query, "mmr", k=k, fetch_k=fetch_k, lambda_mult=lambda_mult, **kwargs
        )
        return [d.document for d in found]

    async def amax_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`."""
        found = await self.ascored_search(
            query, "mmr", k=k, fetch_k=fetch_k, lambda_mult=lambda_mult, **kwargs
        )
        return [d.document for d in found]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: Any,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR for a query matrix."""
        found = self.scored_search(
            "", "mmr", k=k, vector=embedding, fetch_k=fetch_k, lambda_mult=lambda_mult, **kwargs
        )
        return [d.document for d in found]

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: Any,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`."""
        found = await self.ascored_search(
            "", "mmr", k=k, vector=embedding, fetch_k=fetch_k, lambda_mult=lambda_mult, **kwargs
        )
        return [d.document for d in found]
