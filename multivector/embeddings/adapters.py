"""Framework embeddings as multi-vector embedders: the one adapter both integrations use.

A single-vector model (a LangChain ``Embeddings``, a LlamaIndex ``BaseEmbedding``, or any object
with ``embed_documents`` / ``embed_query`` returning one vector per text) becomes a
:class:`~multivector.MultiVectorEmbedder` whose matrices have one row: MaxSim of one-row matrices
is a dot product, and with L2-normalised rows a cosine similarity.

Nothing here imports a framework: the kind of an embedder is read from the names of its classes
(:func:`framework_of`), so this module stays in the embeddings layer.

- :func:`as_embedder` is what the LangChain store does with ``embedding=``: framework models are
  adapted, multi-vector embedders pass through.
- :func:`check_multi_vector` is what the LlamaIndex store does with ``embedder=``: a single-vector
  model is refused at construction with an error naming what to pass instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from multivector._types import F32Array, Matrix, MultiVectorEmbedder
from multivector.errors import ConfigError

__all__ = [
    "EmbeddingsAdapter",
    "Framework",
    "as_embedder",
    "as_matrix",
    "check_multi_vector",
    "framework_of",
]

Framework = Literal["langchain", "llama_index"]

#: (module prefix, class name) of each framework's embedding base class.
_BASES: tuple[tuple[str, str, Framework], ...] = (
    ("langchain_core.embeddings", "Embeddings", "langchain"),
    ("llama_index.core", "BaseEmbedding", "llama_index"),
)
_MULTI_VECTOR_HINT = (
    "a multi-vector embedder (embed_documents -> one [n_tokens, dim] matrix per text, "
    "embed_query -> a matrix), e.g. multivector.embeddings.minilm.MiniLMTokenEmbedder() or "
    "multivector.embeddings.JinaEmbeddings()"
)


def framework_of(embedder: object) -> Framework | None:
    """``"langchain"`` for a LangChain ``Embeddings``, ``"llama_index"`` for a LlamaIndex
    ``BaseEmbedding`` (both single-vector models), else None. Decided by class names only.
    """
    for cls in type(embedder).__mro__:
        for module, name, framework in _BASES:
            if cls.__name__ == name and cls.__module__.startswith(module):
                return framework
    return None


def _has(obj: object, *names: str) -> bool:
    return all(callable(getattr(obj, name, None)) for name in names)


class EmbeddingsAdapter:
    """Any embedder as a :class:`~multivector.MultiVectorEmbedder`.

    A LangChain ``Embeddings`` (``embed_documents`` / ``embed_query``) or a LlamaIndex
    ``BaseEmbedding`` (``get_text_embedding_batch`` / ``get_query_embedding``) returns one vector
    per text: each becomes a one-row matrix, L2-normalised unless ``normalize=False`` (so MaxSim
    is cosine similarity). A multi-vector embedder's matrices pass through untouched.
    """

    embeddings: Any
    normalize: bool

    def __init__(self, embeddings: Any, *, normalize: bool = True) -> None:
        if isinstance(embeddings, EmbeddingsAdapter):
            embeddings = embeddings.embeddings
        framework = framework_of(embeddings)
        if framework == "llama_index" or (
            framework is None
            and not _has(embeddings, "embed_documents", "embed_query")
            and _has(embeddings, "get_text_embedding_batch", "get_query_embedding")
        ):
            self._llama = True
        elif _has(embeddings, "embed_documents", "embed_query"):
            self._llama = False
        else:
            raise ConfigError(
                f"embedding {type(embeddings).__name__} lacks embed_documents/embed_query (and "
                "get_text_embedding_batch/get_query_embedding); pass a LangChain Embeddings, a "
                f"LlamaIndex BaseEmbedding or {_MULTI_VECTOR_HINT}"
            )
        self.embeddings = embeddings
        self.normalize = normalize

    def __repr__(self) -> str:
        return f"EmbeddingsAdapter({type(self.embeddings).__name__}, normalize={self.normalize})"

    def as_matrix(self, value: Any) -> F32Array:
        """One embedder output as a matrix (see :func:`as_matrix`)."""
        return as_matrix(value, normalize=self.normalize)

    def embed_documents(self, texts: Sequence[str]) -> list[Matrix]:
        """One matrix per text."""
        if self._llama:
            raw = self.embeddings.get_text_embedding_batch(list(texts))
        else:
            raw = self.embeddings.embed_documents(list(texts))
        return [self.as_matrix(v) for v in raw]

    def embed_query(self, text: str) -> Matrix:
        """The query matrix."""
        if self._llama:
            return self.as_matrix(self.embeddings.get_query_embedding(text))
        return self.as_matrix(self.embeddings.embed_query(text))

    async def aembed_documents(self, texts: Sequence[str]) -> list[Matrix]:
        """Async :meth:`embed_documents` (the embedder's async method, else a worker thread)."""
        name = "aget_text_embedding_batch" if self._llama else "aembed_documents"
        native = getattr(self.embeddings, name, None)
        raw = (
            await native(list(texts))
            if native is not None
            else await asyncio.to_thread(self.embed_documents, list(texts))
        )
        return [self.as_matrix(v) for v in raw]

    async def aembed_query(self, text: str) -> Matrix:
        """Async :meth:`embed_query`."""
        name = "aget_query_embedding" if self._llama else "aembed_query"
        native = getattr(self.embeddings, name, None)
        raw = (
            await native(text)
            if native is not None
            else await asyncio.to_thread(self.embed_query, text)
        )
        return self.as_matrix(raw)


def as_embedder(embedding: Any, *, normalize: bool = True) -> MultiVectorEmbedder | None:
    """``embedding`` as a multi-vector embedder: a framework model is adapted (one-row matrices),
    an :class:`EmbeddingsAdapter` or a multi-vector embedder is returned as is, None stays None.

    Raises:
        ConfigError: ``embedding`` is no embedder at all.

    """
    if embedding is None or isinstance(embedding, EmbeddingsAdapter):
        return embedding
    if framework_of(embedding) is not None:
        return EmbeddingsAdapter(embedding, normalize=normalize)
    if _has(embedding, "embed_documents", "embed_query"):
        result: MultiVectorEmbedder = embedding
        return result
    return EmbeddingsAdapter(embedding, normalize=normalize)  # LlamaIndex-shaped, or raises


def check_multi_vector(
    embedder: Any, *, where: str, argument: str = "embedder"
) -> MultiVectorEmbedder | None:
    """``embedder`` if it is a multi-vector embedder (or an explicit :class:`EmbeddingsAdapter`).

    A framework's single-vector model is refused, since its vectors would be stored as one-row
    matrices without the caller asking for it. ``where`` (the call) and ``argument`` (its
    keyword) name the place in the message.

    Raises:
        ConfigError: a single-vector framework model, or an object without the two methods.

    """
    if embedder is None or isinstance(embedder, EmbeddingsAdapter):
        return embedder
    framework = framework_of(embedder)
    name = type(embedder).__name__
    if framework is not None:
        kind = "LangChain Embeddings" if framework == "langchain" else "LlamaIndex BaseEmbedding"
        raise ConfigError(
            f"{where}: {argument}={name}(...) is a single-vector {kind}, not a multi-vector "
            f"embedder; pass {argument}= {_MULTI_VECTOR_HINT}. To store its vectors as one-row "
            f"matrices anyway, pass {argument}=EmbeddingsAdapter({name}(...)) "
            "(from multivector.embeddings.adapters)"
        )
    if not _has(embedder, "embed_documents", "embed_query"):
        raise ConfigError(
            f"{where}: {argument}={name}(...) lacks embed_documents/embed_query; pass "
            f"{argument}= {_MULTI_VECTOR_HINT}"
        )
    result: MultiVectorEmbedder = embedder
    return result


def as_matrix(value: Any, *, normalize: bool) -> F32Array:
    """A 1-D vector becomes a ``[1, d]`` matrix (L2-normalised if ``normalize``); 2-D passes through.

    Other shapes are left for the store to reject with a message naming them.
    """
    arr: F32Array = np.asarray(value, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
        norm = float(np.linalg.norm(arr))
        if normalize and norm > 0.0:
            arr = arr / np.float32(norm)
    return arr
