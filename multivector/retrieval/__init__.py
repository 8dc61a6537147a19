"""Framework-free retrievers: query -> legs -> fusion -> results, sync and async."""

from multivector.retrieval.mmr import mmr_select, symmetric_maxsim
from multivector.retrieval.retriever import (
    RetrievedHit,
    Retriever,
    RetrieverSettings,
    SearchMode,
    relevance_score,
)

__all__ = [
    "RetrievedHit",
    "Retriever",
    "RetrieverSettings",
    "SearchMode",
    "mmr_select",
    "relevance_score",
    "symmetric_maxsim",
]
