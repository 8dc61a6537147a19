"""What the ``data``, ``query`` and ``batch`` namespaces need of their collection.

:class:`~multivector.api.collection.Collection` builds both namespaces and satisfies this protocol;
naming it here keeps the dependency one-way (collection -> data / query / batch -> handle).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from multivector._types import F32Array, MultiVectorEmbedder
from multivector.api.ingest import DataObject
from multivector.backends.protocol import CollectionBackend, ObjectRecord
from multivector.results import BatchFailure
from multivector.schema.query import FilterNode

__all__ = ["CollectionHandle"]

T = TypeVar("T")


class CollectionHandle(Protocol):
    """A collection as its namespaces see it."""

    @property
    def name(self) -> str: ...

    @property
    def backend(self) -> CollectionBackend: ...

    def embedder(self, target_vector: str) -> MultiVectorEmbedder | None: ...

    def check_filter(self, filters: FilterNode | None) -> FilterNode | None: ...

    async def offload(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...

    def import_objects(
        self,
        objects: Sequence[DataObject],
        *,
        start_index: int = 0,
        existing_vectors: Sequence[Mapping[str, F32Array]] | None = None,
        precondition: Callable[[], None] | None = None,
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]: ...

    async def aimport_objects(
        self,
        objects: Sequence[DataObject],
        *,
        start_index: int = 0,
        precondition: Callable[[], None] | None = None,
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]: ...
