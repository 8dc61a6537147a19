"""A Qdrant search's answer: the legs' hits, and the objects fetched from the live collection.

Qdrant has no snapshot that spans several requests, so :meth:`QdrantReadView.objects` reads the
points as they are now and reports an object deleted since the search as missing (``obj`` None);
the caller (``multivector.retrieval.execute``) then runs the search again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from multivector.backends.protocol import Hit, StoredObject, VectorQuery

__all__ = ["QdrantReadView"]


class _Points(Protocol):
    """What the view reads from its collection after the search."""

    def vector_scores(
        self, target_vector: str, query: npt.NDArray[np.float32], uuids: Sequence[str]
    ) -> list[float | None]: ...

    def get(self, uuids: Sequence[str], *, include_vector: bool) -> list[StoredObject | None]: ...


class QdrantReadView:
    """The :class:`~multivector.backends.protocol.ReadView` of a Qdrant collection."""

    def __init__(
        self,
        collection: _Points,
        vector: VectorQuery | None,
        vector_hits: list[Hit] | None,
        keyword_hits: list[Hit] | None,
    ) -> None:
        self._collection = collection
        self._vector = vector
        self._vector_hits = vector_hits
        self._keyword_hits = keyword_hits

    @property
    def vector_hits(self) -> list[Hit] | None:
        """The vector leg's hits, best first (None: not asked for)."""
        return self._vector_hits

    @property
    def keyword_hits(self) -> list[Hit] | None:
        """The keyword leg's hits, best first (None: not asked for)."""
        return self._keyword_hits

    def vector_scores(self, uuids: Sequence[str]) -> list[float | None]:
        """Exact MaxSim of the request's query matrix against each listed object."""
        if self._vector is None:
            return [None] * len(uuids)
        return self._collection.vector_scores(self._vector.target, self._vector.matrix, uuids)

    def objects(self, hits: Sequence[Hit], *, include_vector: bool) -> list[Hit]:
        """The hits with their objects as stored now (``obj`` None: deleted since the search)."""
        found = self._collection.get([h.uuid for h in hits], include_vector=include_vector)
        return [h._replace(obj=obj) for h, obj in zip(hits, found)]
