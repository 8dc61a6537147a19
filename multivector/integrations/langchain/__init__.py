"""LangChain integration: ``MultiVectorStore`` (a ``VectorStore``) and ``MultiVectorRetriever``.

``MultiVectorLangChainStore`` and ``MultiVectorLangChainRetriever`` are the same classes under
names that do not clash with the LlamaIndex integration's. Needs
``pip install 'multivector[langchain]'``.
"""

from multivector.errors import OptionalDependencyError

try:
    import langchain_core.vectorstores  # noqa: F401  (the extra's presence, checked before any submodule loads)
except ImportError as exc:
    raise OptionalDependencyError("langchain-core", "langchain") from exc

from multivector.integrations.langchain.retriever import MultiVectorLangChainRetriever
from multivector.integrations.langchain.store import (
    EmbeddingsAdapter,
    ExplainedDocument,
    MultiVectorLangChainStore,
    MultiVectorRetriever,
    MultiVectorStore,
    ScoredDocument,
)

__all__ = [
    "EmbeddingsAdapter",
    "ExplainedDocument",
    "MultiVectorLangChainRetriever",
    "MultiVectorLangChainStore",
    "MultiVectorRetriever",
    "MultiVectorStore",
    "ScoredDocument",
]
