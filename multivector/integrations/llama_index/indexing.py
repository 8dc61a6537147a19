"""LlamaIndex's single-vector slot, filled without a model: indexes and ingestion pipelines over a
:class:`~multivector.integrations.llama_index.store.MultiVectorStore` with no OpenAI key.

LlamaIndex assumes one dense vector per node: ``VectorStoreIndex`` falls back to OpenAI when given
no ``embed_model`` (also in ``from_vector_store``), and ``IngestionPipeline(vector_store=...)``
silently drops every node whose ``embedding`` is None before it calls the store. The store embeds
with its own multi-vector model and ignores that vector, so :class:`MultiVectorEmbedding` fills the
slot for free::

    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(), MultiVectorEmbedding()], vector_store=store
    )
    index = VectorStoreIndex.from_vector_store(store, embed_model=MultiVectorEmbedding())

:func:`build_index` and :func:`ingestion_pipeline` do exactly this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.embeddings import MockEmbedding
from llama_index.core.indices.vector_store.base import VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode, TransformComponent
from llama_index.core.storage.storage_context import StorageContext

from multivector.integrations.llama_index.store import MultiVectorStore

__all__ = [
    "MARKER",
    "MultiVectorEmbedding",
    "build_index",
    "ingestion_pipeline",
    "no_embedding_model",
]

#: The one-dimensional vector :class:`MultiVectorEmbedding` gives every node and query.
MARKER = (0.5,)


class MultiVectorEmbedding(MockEmbedding):
    """The embedding model (and ingestion transformation) to pass where LlamaIndex wants one.

    As a transformation it marks each node that has no ``embedding`` with :data:`MARKER` and
    computes nothing, so ``IngestionPipeline`` hands every node to the store, which embeds it with
    its multi-vector model. As an ``embed_model`` (``VectorStoreIndex``, ``from_vector_store``)
    it returns the same constant 1-dimensional vector: never used for retrieval, since the store
    takes the query text (``is_embedding_query=False``).
    """

    def __init__(self, embed_dim: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", "multivector-marker")
        super().__init__(embed_dim=embed_dim, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex component name."""
        return "MultiVectorEmbedding"

    def _get_vector(self) -> list[float]:
        return [MARKER[0]] * self.embed_dim

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Mark the nodes without an embedding (no text is embedded)."""
        for node in nodes:
            if node.embedding is None:
                node.embedding = self._get_vector()
        return nodes

    async def acall(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Async :meth:`__call__`."""
        return self(nodes, **kwargs)


def no_embedding_model() -> MultiVectorEmbedding:
    """The LlamaIndex embedding model to pass where one is required but never used
    (a :class:`MultiVectorEmbedding`, which is a 1-dimensional ``MockEmbedding``).
    """
    return MultiVectorEmbedding()


def build_index(
    vector_store: MultiVectorStore,
    documents: Sequence[BaseNode] | None = None,
    **kwargs: Any,
) -> VectorStoreIndex:
    """A ``VectorStoreIndex`` over ``vector_store`` that needs no single-vector model or API key.

    With ``documents`` this is ``VectorStoreIndex.from_documents(documents, storage_context=...,
    embed_model=MultiVectorEmbedding())`` (``kwargs`` go there, e.g. ``transformations``);
    without, it wraps what the store already holds (``from_vector_store``).
    """
    kwargs.setdefault("embed_model", no_embedding_model())
    if documents is None:
        return VectorStoreIndex.from_vector_store(vector_store, **kwargs)
    storage_context = StorageContext.from_defaults(vector_store=vector_store)
    return VectorStoreIndex.from_documents(
        list(documents),  # type: ignore[arg-type]
        storage_context=storage_context,
        **kwargs,
    )


def ingestion_pipeline(
    vector_store: MultiVectorStore,
    transformations: Sequence[TransformComponent] | None = None,
    **kwargs: Any,
) -> IngestionPipeline:
    """An ``IngestionPipeline`` writing to ``vector_store`` that stores every node: the given
    ``transformations`` (e.g. ``[SentenceSplitter()]``) followed by a :class:`MultiVectorEmbedding`
    unless one is already there. ``kwargs`` go to ``IngestionPipeline`` (``docstore``, ``cache``).
    """
    steps = list(transformations or [])
    if not any(isinstance(step, MultiVectorEmbedding) for step in steps):
        steps.append(MultiVectorEmbedding())
    return IngestionPipeline(transformations=steps, vector_store=vector_store, **kwargs)
