"""LangChain's retriever over a :class:`~multivector.integrations.langchain.store.MultiVectorStore`.

It accepts any :class:`~multivector.integrations.langchain.scored_store.ScoredVectorStore` (the
search contract the store implements), so this module does not import the store.
"""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStoreRetriever
from pydantic import model_validator

from multivector.errors import ConfigError
from multivector.integrations.langchain.arguments import SEARCH_TYPES
from multivector.integrations.langchain.scored_store import ScoredVectorStore
from multivector.schema.query import HybridFusion

__all__ = ["SEARCH_TYPES", "MultiVectorRetriever"]


class MultiVectorRetriever(VectorStoreRetriever):
    """A LangChain retriever over a :class:`MultiVectorStore`; every setting can be given per call
    (``retriever.invoke(query, k=2, alpha=0.3, filter={...})``), sync and async.
    """

    vectorstore: ScoredVectorStore
    search_type: str = "hybrid"
    k: int = 4
    alpha: float = 0.75
    fusion_type: str = HybridFusion.RELATIVE_SCORE.value
    filter: Any = None
    fetch_k: int = 20
    lambda_mult: float = 0.5
    score_threshold: float | None = None

    allowed_search_types: ClassVar[tuple[str, ...]] = tuple(SEARCH_TYPES)

    @model_validator(mode="before")
    @classmethod
    def validate_search_type(cls, values: Any) -> Any:
        """Check ``search_type`` (replaces the parent's check, which knows three types)."""
        search_type = values.get("search_type", "hybrid") if isinstance(values, dict) else None
        if search_type is not None and search_type not in SEARCH_TYPES:
            raise ConfigError(
                f"unknown search_type {search_type!r}; use one of {sorted(SEARCH_TYPES)}"
            )
        return values

    def _options(self, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kwargs.pop("verbose", None)  # LangChain's callback flag, not a search argument
        options: dict[str, Any] = {
            "k": self.k,
            "alpha": self.alpha,
            "fusion_type": self.fusion_type,
            "filter": self.filter,
            "fetch_k": self.fetch_k,
            "lambda_mult": self.lambda_mult,
            "score_threshold": self.score_threshold,
            **self.search_kwargs,
            **kwargs,
        }
        return str(options.pop("search_type", self.search_type)), options

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        search_type, options = self._options(kwargs)
        return [d.document for d in self.vectorstore.scored_search(query, search_type, **options)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        search_type, options = self._options(kwargs)
        found = await self.vectorstore.ascored_search(query, search_type, **options)
        return [d.document for d in found]
