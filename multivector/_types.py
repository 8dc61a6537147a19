"""Array aliases, string enums and the embedder protocol shared by every layer.

Nothing here imports numba or a framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "AsyncMultiVectorEmbedder",
    "BoolArray",
    "F32Array",
    "F64Array",
    "I64Array",
    "Matrix",
    "MatrixLike",
    "MultiVectorEmbedder",
    "StrEnum",
    "TokenOffsetsEmbedder",
]

F32Array: TypeAlias = npt.NDArray[np.float32]
F64Array: TypeAlias = npt.NDArray[np.float64]
I64Array: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
#: One token matrix, shape ``[n_tokens, dim]``.
Matrix: TypeAlias = npt.NDArray[np.floating[Any]]
#: What users may pass as a matrix: an array or nested lists of floats.
MatrixLike: TypeAlias = "npt.ArrayLike"


class StrEnum(str, Enum):
    """A ``str`` enum whose members compare and print as their value (3.10 has no ``enum.StrEnum``)."""

    def __str__(self) -> str:
        return str(self.value)


@runtime_checkable
class MultiVectorEmbedder(Protocol):
    """What any late-interaction model provides: one token matrix per text.

    Implement these two methods to plug in PyLate, fastembed, a local ColBERT or anything else.
    ``embed_documents`` returns one ``[n_tokens, dim]`` float array per input text, in order;
    ``embed_query`` returns the query's matrix (models usually encode queries differently).
    Async twins (``aembed_documents`` / ``aembed_query``) are optional: see
    :class:`AsyncMultiVectorEmbedder`; without them the sync methods run in a worker thread.
    """

    def embed_documents(self, texts: Sequence[str]) -> list[Matrix]: ...

    def embed_query(self, text: str) -> Matrix: ...


@runtime_checkable
class AsyncMultiVectorEmbedder(MultiVectorEmbedder, Protocol):
    """A :class:`MultiVectorEmbedder` that also has native async methods."""

    async def aembed_documents(self, texts: Sequence[str]) -> list[Matrix]: ...

    async def aembed_query(self, text: str) -> Matrix: ...


@runtime_checkable
class TokenOffsetsEmbedder(Protocol):
    """An embedder that knows its tokenizer: it maps each row of a text's matrix to characters.

    ``token_offsets(texts)`` returns, per text, an int64 ``[n_tokens, 2]`` array of
    ``(start, end)`` character offsets (Python ``str`` indices, end exclusive), row for row the
    matrix the embedder returns for that text; a marker token that covers no character (such as
    ``[CLS]``) has ``start == end``. Late-interaction highlights use it to show which words of a
    hit matched the query.
    """

    def token_offsets(self, texts: Sequence[str]) -> list[npt.NDArray[np.int64]]: ...
