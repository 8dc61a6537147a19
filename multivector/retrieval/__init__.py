"""Retrieval: query plans, their execution (legs, fusion, cutoffs, autocut, paging), MMR, and the
framework-free ``Retriever`` the LangChain and LlamaIndex integrations translate over.
"""

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
