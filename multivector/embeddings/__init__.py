"""Embedders: the :class:`MultiVectorEmbedder` protocol and its implementations.

``JinaEmbeddings`` calls Jina AI's multi-vector API (httpx, sync + async). ``MiniLMTokenEmbedder``
(offline, local) is imported lazily on first access so this package imports without its extra.
"""

from __future__ import annotations

from typing import Any

from multivector._types import AsyncMultiVectorEmbedder, MultiVectorEmbedder
from multivector.embeddings.jina import JinaEmbeddings

__all__ = [
    "AsyncMultiVectorEmbedder",
    "JinaEmbeddings",
    "MultiVectorEmbedder",
]


def __getattr__(name: str) -> Any:
    if name == "MiniLMTokenEmbedder":
        from multivector.embeddings.minilm import MiniLMTokenEmbedder

        return MiniLMTokenEmbedder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
