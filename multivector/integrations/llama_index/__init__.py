"""LlamaIndex integration: a vector store and a retriever over one multivector collection.

Needs ``pip install 'multivector[llama-index]'``.
"""

from multivector.errors import OptionalDependencyError

try:
    import llama_index.core.vector_stores.types  # noqa: F401  (the extra's presence, checked before any submodule loads)
except ImportError as exc:
    raise OptionalDependencyError("llama-index-core", "llama-index") from exc

from multivector.integrations.llama_index.retriever import (
    MultiVectorRetriever,
    build_index,
    no_embedding_model,
)
from multivector.integrations.llama_index.store import (
    NODE_PROPERTIES,
    MultiVectorNodeWithScore,
    MultiVectorStore,
)

__all__ = [
    "NODE_PROPERTIES",
    "MultiVectorNodeWithScore",
    "MultiVectorRetriever",
    "MultiVectorStore",
    "build_index",
    "no_embedding_model",
]
