"""``collection.iterator()``: every object, in uuid order, ``cache_size`` objects at a time.

The iterator takes, at its first step, the sorted uuids of the objects present then (one
backend call), and reads the objects ``cache_size`` at a time by id (``backend.get``). So
while writes go on:

- every object present for the whole iteration is visited exactly once, with its properties
  as of the moment its page was read (a replaced or updated object is still visited once: uuid
  order does not move when an object is rewritten, unlike insertion order);
- an object deleted before its page is read is skipped; one inserted after the start is not
  visited (iterate again to see it).

Memory: at most ``cache_size`` objects (properties, and vectors when asked) plus the uuid list
(one reference per object on the embedded store, whose uuid strings it shares; the uuid
strings themselves on Qdrant), shrinking as pages are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from multivector._checks import check_int
from multivector.api.handle import CollectionHandle
from multivector.api.results import to_object
from multivector.results import MetadataReturn, Object
from multivector.retrieval.plan import fetch_plan

__all__ = ["ObjectIterator"]


class ObjectIterator:
    """``for obj in collection.iterator(...)`` (see the module docstring)."""

    def __init__(
        self,
        collection: CollectionHandle,
        *,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        cache_size: int = 100,
    ) -> None:
        self._col = collection
        self._size = check_int("cache_size", cache_size, 1)
        plan = fetch_plan(
            collection.backend.known_config,
            limit=None,
            offset=0,
            filters=None,
            include_vector=include_vector,
            return_properties=return_properties,
        )
        self._returns = plan.returns

    def pages(self) -> Iterator[list[Object]]:
        """The objects, one page (at most ``cache_size``) at a time."""
        backend = self._col.backend
        remaining = sorted(backend.match(None), reverse=True)  # pop() takes the smallest
        name = self._col.name
        while remaining:
            ids = [remaining.pop() for _ in range(min(self._size, len(remaining)))]
            stored = backend.get(ids, include_vector=self._returns.vectors)
            page = [to_object(o, MetadataReturn(), self._returns, name) for o in stored if o]
            del stored
            if page:
                yield page

    def __iter__(self) -> Iterator[Object]:
        for page in self.pages():
            yield from page
