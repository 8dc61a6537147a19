"""Adapters that turn single-vector embedders into multi-vector ones.

A LangChain ``Embeddings`` (or any object with ``embed_documents`` / ``embed_query`` returning one
vector per text) becomes a :class:`~multivector.MultiVectorEmbedder` whose matrices have one row:
MaxSim of one-row matrices is a dot product, and with L2-normalised rows a cosine similarity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np

from multivector._types import F32Array, Matrix
from multivector.errors import ConfigError

__all__ = ["EmbeddingsAdapter", "as_matrix"]


class EmbeddingsAdapter:
    """Any embedder as a :class:`~multivector.MultiVectorEmbedder`.

    A LangChain ``Embeddings`` returns one vector per text: each becomes a one-row matrix,
    L2-normalised unless ``normalize=False`` (so MaxSim is cosine similarity). A multi-vector
    embedder's matrices pass through untouched.
    """

    def __init__(self, embeddings: Any, *, normalize: bool = True) -> None:
        if not (hasattr(embeddings, "embed_documents") and hasattr(embeddings, "embed_query")):
            raise ConfigError(
                f"embedding {type(embeddings).__name__} lacks embed_documents/embed_query; pass a "
                "LangChain Embeddings or a multivector MultiVectorEmbedder"
            )
        self.embeddings = embeddings
        self.normalize = normalize

    def as_matrix(self, value: Any) -> F32Array:
        """One embedder output as a matrix (see :func:`as_matrix`)."""
        return as_matrix(value, normalize=self.normalize)

    def embed_documents(self, texts: Sequence[str]) -> list[Matrix]:
        """One matrix per text."""
        return [self.as_matrix(v) for v in self.embeddings.embed_documents(list(texts))]

    def embed_query(self, text: str) -> Matrix:
        """The query matrix."""
        return self.as_matrix(self.embeddings.embed_query(text))

    async def aembed_documents(self, texts: Sequence[str]) -> list[Matrix]:
        """Async :meth:`embed_documents` (the embedder's async method, else a worker thread)."""
        native = getattr(self.embeddings, "aembed_documents", None)
        raw = (
            await native(list(texts))
            if native is not None
            else await asyncio.to_thread(self.embeddings.embed_documents, list(texts))
        )
        return [self.as_matrix(v) for v in raw]

    async def aembed_query(self, text: str) -> Matrix:
        """Async :meth:`embed_query`."""
        native = getattr(self.embeddings, "aembed_query", None)
        raw = (
            await native(text)
            if native is not None
            else await asyncio.to_thread(self.embeddings.embed_query, text)
        )
        return self.as_matrix(raw)


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
