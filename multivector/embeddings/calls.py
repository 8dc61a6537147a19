"""Calling any embedder, sync or async: the one place that knows the async fallback.

An embedder with native ``aembed_query`` / ``aembed_documents`` (Jina) is awaited directly; one
without (MiniLM, a user's model) runs its sync method in a worker thread, so the event loop is
never blocked by a forward pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from multivector._types import Matrix, MultiVectorEmbedder

__all__ = ["aembed_documents", "aembed_query", "embed_documents", "embed_query"]


def embed_query(embedder: MultiVectorEmbedder, text: str) -> Matrix:
    """The query matrix of ``text``."""
    return embedder.embed_query(text)


def embed_documents(embedder: MultiVectorEmbedder, texts: Sequence[str]) -> Sequence[Matrix]:
    """One matrix per text, in order."""
    return embedder.embed_documents(texts)


async def aembed_query(embedder: MultiVectorEmbedder, text: str) -> Matrix:
    """Async :func:`embed_query`: the embedder's own coroutine, else a worker thread."""
    native: Any = getattr(embedder, "aembed_query", None)
    if native is not None:
        result: Matrix = await native(text)
        return result
    return await asyncio.to_thread(embedder.embed_query, text)


async def aembed_documents(embedder: MultiVectorEmbedder, texts: Sequence[str]) -> Sequence[Matrix]:
    """Async :func:`embed_documents`: the embedder's own coroutine, else a worker thread."""
    native: Any = getattr(embedder, "aembed_documents", None)
    if native is not None:
        result: Sequence[Matrix] = await native(texts)
        return result
    return await asyncio.to_thread(embedder.embed_documents, texts)
