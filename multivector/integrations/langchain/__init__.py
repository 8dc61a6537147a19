"""LangChain integration: ``MultiVectorStore`` (a ``VectorStore``) and ``MultiVectorRetriever``.

Needs ``pip install 'multivector[langchain]'``.
"""

from multivector.errors import OptionalDependencyError

try:
    import langchain_core.vectorstores  # noqa: F401  (the extra's presence, checked before any submodule loads)
except ImportError as exc:
    raise OptionalDependencyError("langchain-core", "langchain") from exc

from multivector.integrations.langchain.store import (
    EmbeddingsAdapter,
    MultiVectorRetriever,
    MultiVectorStore,
    ScoredDocument,
)

__all__ = ["EmbeddingsAdapter", "MultiVectorRetriever", "MultiVectorStore", "ScoredDocument"]
