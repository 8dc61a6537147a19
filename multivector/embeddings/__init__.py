"""Embedders: the :class:`MultiVectorEmbedder` protocol and its implementations.

``JinaEmbeddings`` calls Jina AI's multi-vector API (httpx, sync + async). ``MiniLMTokenEmbedder``
(offline, local) needs the ``tokenizers`` extra. Both are imported on first access, so importing
this package (or its small ``calls`` / ``factory`` modules) loads neither httpx nor a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from multivector._types import AsyncMultiVectorEmbedder, MultiVectorEmbedder

if TYPE_CHECKING:
    from multivector.embeddings.jina import JinaEmbeddings
    from multivector.embeddings.minilm import MiniLMTokenEmbedder  # noqa: F401  (lazy, see __getattr__)

__all__ = [
    "AsyncMultiVectorEmbedder",
    "JinaEmbeddings",
    "MultiVectorEmbedder",
]


def __getattr__(name: str) -> Any:
    if name == "JinaEmbeddings":
        from multivector.embeddings.jina import JinaEmbeddings

        return JinaEmbeddings
    if name == "MiniLMTokenEmbedder":
        from multivector.embeddings.minilm import MiniLMTokenEmbedder

        return MiniLMTokenEmbedder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
