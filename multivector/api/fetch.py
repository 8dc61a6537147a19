"""``collection.query.fetch_*``: objects in insertion order or by id, and how every verb plans.

The base of :class:`~multivector.api.query.QueryAPI`: it holds the collection and
:meth:`FetchVerbs._plan`, which validates a verb's arguments against the configuration as last
seen (no storage poll) and, should that refuse them, looks for another process's schema change
once (a property just added by auto-schema, a new space) and validates again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from multivector.api.handle import CollectionHandle
from multivector.api.results import to_object, wants_highlights
from multivector.errors import ConfigError
from multivector.results import MetadataReturn, Object, QueryReturn
from multivector.retrieval.plan import Returns, fetch_plan
from multivector.schema.config import CollectionConfig
from multivector.schema.query import FilterNode, MetadataQuery
from multivector.schema.validation import validate_uuid

__all__ = ["FetchVerbs"]

P = TypeVar("P")


class FetchVerbs:
    """The fetch verbs of ``collection.query``, and the planning every verb shares."""

    def __init__(self, collection: CollectionHandle) -> None:
        self._col = collection

    def _plan(self, build: Callable[..., P], *args: Any, **kwargs: Any) -> P:
        backend = self._col.backend
        try:
            return build(backend.known_config, *args, **kwargs)
        except ConfigError:
            fresh: CollectionConfig = backend.config  # refreshes: maybe the schema grew
            return build(fresh, *args, **kwargs)

    # --------------------------------------------------------------- fetch
    def fetch_objects(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        filters: FilterNode | None = None,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        return_metadata: MetadataQuery | None = None,
    ) -> QueryReturn:
        """Objects in insertion order (all of them when ``limit`` is None), optionally filtered."""
        wants_highlights(return_metadata, "fetch_objects")
        plan = self._plan(
            fetch_plan,
            limit=limit,
            offset=offset,
            filters=filters,
            include_vector=include_vector,
            return_properties=return_properties,
        )
        stored = self._col.backend.fetch(
            limit=plan.limit,
            offset=plan.offset,
            filters=plan.filters,
            include_vector=plan.returns.vectors,
        )
        name = self._col.name
        return QueryReturn([to_object(o, MetadataReturn(), plan.returns, name) for o in stored])

    def fetch_object_by_id(
        self,
        uuid: Any,
        *,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        return_metadata: MetadataQuery | None = None,
    ) -> Object | None:
        """One object, or None when it does not exist."""
        found = self.fetch_objects_by_ids(
            [uuid], include_vector=include_vector, return_properties=return_properties
        )
        return found.objects[0] if found.objects else None

    def fetch_objects_by_ids(
        self,
        uuids: Sequence[Any],
        *,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
    ) -> QueryReturn:
        """The existing objects among ``uuids``, in the order given."""
        ids = [validate_uuid(u) for u in uuids]
        returns = Returns(
            include_vector if isinstance(include_vector, bool) else tuple(include_vector),
            None if return_properties is None else tuple(return_properties),
        )
        stored = self._col.backend.get(ids, include_vector=returns.vectors)
        name = self._col.name
        return QueryReturn(
            [to_object(o, MetadataReturn(), returns, name) for o in stored if o is not None]
        )

    # --------------------------------------------------------------- async
    async def afetch_objects(self, **options: Any) -> QueryReturn:
        """Async :meth:`fetch_objects` (runs in a worker thread)."""
        return await self._col.offload(self.fetch_objects, **options)
