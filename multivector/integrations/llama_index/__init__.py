"""LlamaIndex integration: a vector store and a retriever over one multivector collection.

``MultiVectorLlamaIndexStore`` and ``MultiVectorLlamaIndexRetriever`` are the same classes as
``MultiVectorStore`` and ``MultiVectorRetriever`` under names that do not clash with the LangChain
integration's. ``MultiVectorEmbedding`` fills LlamaIndex's single-vector slot (``embed_model``,
``IngestionPipeline`` transformations) without a model or an API key.
Needs ``pip install 'multivector[llama-index]'``.
"""

from multivector.errors import OptionalDependencyError

try:
    import llama_index.core.vector_stores.types  # noqa: F401  (the extra's presence, checked before any submodule loads)
except ImportError as exc:
    raise OptionalDependencyError("llama-index-core", "llama-index") from exc

from multivector.integrations.llama_index.indexing import (
    MultiVectorEmbedding,
    ingestion_pipeline,
)
from multivector.integrations.llama_index.retriever import (
    MultiVectorLlamaIndexRetriever,
    MultiVectorRetriever,
    build_index,
    no_embedding_model,
)
from multivector.integrations.llama_index.store import (
    NODE_PROPERTIES,
    MultiVectorLlamaIndexStore,
    MultiVectorNodeWithScore,
    MultiVectorStore,
)

__all__ = [
    "NODE_PROPERTIES",
    "MultiVectorEmbedding",
    "MultiVectorLlamaIndexRetriever",
    "MultiVectorLlamaIndexStore",
    "MultiVectorNodeWithScore",
    "MultiVectorRetriever",
    "MultiVectorStore",
    "build_index",
    "ingestion_pipeline",
    "no_embedding_model",
]
