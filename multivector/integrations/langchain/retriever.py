"""LangChain's retriever over a :class:`~multivector.integrations.langchain.store.MultiVectorStore`.

It accepts any :class:`~multivector.integrations.langchain.scored_store.ScoredVectorStore` (the
search contract the store implements), so this module does not import the store.

Its constructor refuses arguments it does not know (pydantic would drop them silently), and
points to LangChain's own, unrelated ``MultiVectorRetriever`` (parent documents through a
``docstore`` and an ``id_key``) when it is given that class's arguments.
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

__all__ = ["SEARCH_TYPES", "MultiVectorLangChainRetriever", "MultiVectorRetriever"]

#: Arguments of LangChain's parent-document ``MultiVectorRetriever``, a different class.
_LANGCHAIN_MULTI_VECTOR_ARGS = frozenset({"docstore", "byte_store", "id_key", "search_kwargs_id"})


def _check_search_type(search_type: object) -> None:
    if search_type not in SEARCH_TYPES:
        raise ConfigError(f"unknown search_type {search_type!r}; use one of {sorted(SEARCH_TYPES)}")


class MultiVectorRetriever(VectorStoreRetriever):
    """A LangChain retriever over a :class:`MultiVectorStore`; every setting can be given per call
    (``retriever.invoke(query, k=2, alpha=0.3, filter={...})``), sync and async.

    ``search_type`` is one of :data:`SEARCH_TYPES` (``hybrid`` by default here; ``as_retriever()``
    defaults to ``similarity``); ``similarity_score_threshold`` needs a ``score_threshold``
    (a field or in ``search_kwargs``). Not to be confused with LangChain's parent-document
    ``MultiVectorRetriever`` (``docstore=``, ``id_key=``), whose arguments are refused here.
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

    def __init__(self, **data: Any) -> None:
        _check_arguments(type(self), data)
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def validate_search_type(cls, values: Any) -> Any:
        """Check ``search_type`` (replaces the parent's check, which knows three types)."""
        if isinstance(values, dict):
            _check_search_type(values.get("search_type", "hybrid"))
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
        search_type = str(options.pop("search_type", self.search_type))
        _check_search_type(search_type)
        if search_type == "similarity_score_threshold" and options.get("score_threshold") is None:
            raise ConfigError(
                "search_type='similarity_score_threshold' needs score_threshold=<relevance in "
                "[0, 1]>, e.g. as_retriever(search_type='similarity_score_threshold', "
                "search_kwargs={'score_threshold': 0.8})"
            )
        return search_type, options

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


def _check_arguments(cls: type[MultiVectorRetriever], data: dict[str, Any]) -> None:
    known = set(cls.model_fields) | {
        f.alias for f in cls.model_fields.values() if f.alias is not None
    }
    unknown = sorted(set(data) - known)
    if not unknown:
        _check_search_type(data.get("search_type", "hybrid"))
        given = [
            data.get("score_threshold"),
            (data.get("search_kwargs") or {}).get("score_threshold"),
        ]
        if data.get("search_type") == "similarity_score_threshold" and given == [None, None]:
            raise ConfigError(
                "search_type='similarity_score_threshold' needs score_threshold=<relevance in "
                "[0, 1]> (a field, or in search_kwargs)"
            )
        return
    hint = ""
    if _LANGCHAIN_MULTI_VECTOR_ARGS & set(unknown):
        hint = (
            "; docstore / id_key belong to LangChain's own parent-document MultiVectorRetriever "
            "(langchain_classic.retrievers.MultiVectorRetriever; langchain.retrievers before "
            "LangChain 1.0), a different class: "
            "use it there with vectorstore=<this store>, or drop them here"
        )
    raise ConfigError(
        f"{cls.__name__}(): unknown arguments {unknown}; known: "
        f"{sorted(n for n in known if n != 'allowed_search_types')}{hint}"
    )


#: The same class under a name that does not clash with LlamaIndex's retriever.
MultiVectorLangChainRetriever = MultiVectorRetriever
