"""``AsyncCollection``: every verb of a :class:`~multivector.api.collection.Collection` as a
coroutine, over the one sync core.

Nothing here re-implements a verb: queries await the collection's own async twins (the same
frozen plans, so the same arguments are accepted and refused; the query text embedded with
``aembed_query``; the search in the client's bounded executor), writes await ``ainsert`` /
``ainsert_many`` (embedding with ``aembed_documents``, the one write transaction in the
executor) or run the sync verb in the executor. A tenant handle (``with_tenant``) opens its
tenant lazily, in the executor, at its first call.

Cancellation: every write is one transaction run by one executor job. A task cancelled while
it embeds stores nothing; cancelled after it handed the transaction to the executor, the job
either had not started (it then never runs) or runs to its commit: never half a write.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from multivector._checks import check_int
from multivector.api.collection import Collection
from multivector.api.data import DeleteManyReturn, InsertManyReturn, _raise_single
from multivector.api.ingest import DataObject
from multivector.results import BatchFailure, Object, QueryReturn
from multivector.schema.config import CollectionConfig, Property
from multivector.schema.tenancy import Tenant
from multivector.schema.validation import validate_uuid

__all__ = ["AsyncBatcher", "AsyncCollection"]

Opener = Callable[[], Collection]


class AsyncCollection:
    """A collection of an :class:`~multivector.api.async_client.AsyncClient`."""

    def __init__(self, collection: Collection | Opener, *, name: str) -> None:
        self._ready: Collection | None = collection if isinstance(collection, Collection) else None
        self._opener: Opener | None = None if isinstance(collection, Collection) else collection
        self._name = name
        self._parent: AsyncCollection | None = None
        self.query = AsyncQuery(self)
        self.data = AsyncData(self)
        self.batch = AsyncBatch(self)
        self.aggregate = AsyncAggregate(self)
        self.config = AsyncConfig(self)
        self.tenants = AsyncTenants(self)

    async def sync(self) -> Collection:
        """The sync :class:`Collection` under this handle (a tenant's opened on first use)."""
        if self._ready is None:
            if self._parent is None or self._opener is None:  # pragma: no cover - by construction
                raise RuntimeError("an AsyncCollection needs a Collection or an opener")
            parent = await self._parent.sync()
            self._ready = await parent.offload(self._opener)
        return self._ready

    @property
    def name(self) -> str:
        """The collection's name."""
        return self._name

    def with_tenant(self, tenant: str | Tenant) -> AsyncCollection:
        """A handle scoped to ``tenant`` (opened in the executor at its first call)."""

        def open_tenant() -> Collection:
            if self._ready is None:  # pragma: no cover - sync() opened the parent first
                raise RuntimeError("parent collection not open")
            return self._ready.with_tenant(tenant)

        handle = AsyncCollection(open_tenant, name=self._name)
        handle._parent = self
        return handle

    async def length(self) -> int:
        """Number of objects (``len(collection)`` of the sync client)."""
        col = await self.sync()
        return await col.offload(len, col)

    def iterator(
        self,
        *,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        cache_size: int = 100,
    ) -> AsyncIterator[Object]:
        """``async for obj in collection.iterator()``: every object, uuid order, a page
        (``cache_size`` objects) at a time, each page read in the executor.
        """
        return self._iterate(include_vector, return_properties, cache_size)

    async def _iterate(
        self,
        include_vector: bool | Sequence[str],
        return_properties: Sequence[str] | None,
        cache_size: int,
    ) -> AsyncIterator[Object]:
        col = await self.sync()
        pages = await col.offload(
            lambda: col.iterator(
                include_vector=include_vector,
                return_properties=return_properties,
                cache_size=cache_size,
            ).pages()
        )
        while True:
            page = await col.offload(next, pages, None)
            if page is None:
                return
            for obj in page:
                yield obj

    def __repr__(self) -> str:
        return f"<AsyncCollection {self._name!r}>"


class _Part:
    def __init__(self, owner: AsyncCollection) -> None:
        self._owner = owner


class AsyncQuery(_Part):
    """``collection.query`` as coroutines; each takes the sync verb's arguments."""

    async def near_vector(self, near_vector: Any, **options: Any) -> QueryReturn:
        """:meth:`QueryAPI.near_vector` (group_by included)."""
        return await (await self._owner.sync()).query.anear_vector(near_vector, **options)

    async def near_text(self, query: str, **options: Any) -> QueryReturn:
        """:meth:`QueryAPI.near_text`: the query embedded with the embedder's async method."""
        return await (await self._owner.sync()).query.anear_text(query, **options)

    async def bm25(self, query: str, **options: Any) -> QueryReturn:
        """:meth:`QueryAPI.bm25`."""
        return await (await self._owner.sync()).query.abm25(query, **options)

    async def hybrid(self, query: str, **options: Any) -> QueryReturn:
        """:meth:`QueryAPI.hybrid`: the query embedded with the embedder's async method."""
        return await (await self._owner.sync()).query.ahybrid(query, **options)

    async def fetch_objects(self, **options: Any) -> QueryReturn:
        """:meth:`QueryAPI.fetch_objects`."""
        return await (await self._owner.sync()).query.afetch_objects(**options)

    async def fetch_object_by_id(self, uuid: Any, **options: Any) -> Object | None:
        """:meth:`QueryAPI.fetch_object_by_id`."""
        col = await self._owner.sync()
        return await col.offload(col.query.fetch_object_by_id, uuid, **options)

    async def fetch_objects_by_ids(self, uuids: Sequence[Any], **options: Any) -> QueryReturn:
        """:meth:`QueryAPI.fetch_objects_by_ids`."""
        col = await self._owner.sync()
        return await col.offload(col.query.fetch_objects_by_ids, uuids, **options)


class AsyncData(_Part):
    """``collection.data`` as coroutines."""

    async def insert(
        self, properties: Mapping[str, Any] | None = None, *, uuid: Any = None, vector: Any = None
    ) -> str:
        """:meth:`DataAPI.insert`: embeds with ``aembed_documents``; an existing uuid raises."""
        col = await self._owner.sync()
        check = await col.offload(col.data._absent, uuid)
        records, failures = await col.aimport_objects(
            [DataObject(properties, uuid, vector)], precondition=check
        )
        _raise_single(failures)
        return records[0].uuid

    async def insert_many(
        self, objects: Sequence[DataObject | Mapping[str, Any]]
    ) -> InsertManyReturn:
        """:meth:`DataAPI.insert_many` (one transaction for the valid objects)."""
        return await (await self._owner.sync()).data.ainsert_many(objects)

    async def replace(
        self, uuid: Any, properties: Mapping[str, Any] | None = None, **kw: Any
    ) -> None:
        """:meth:`DataAPI.replace`."""
        col = await self._owner.sync()
        await col.offload(col.data.replace, uuid, properties, **kw)

    async def update(
        self, uuid: Any, properties: Mapping[str, Any] | None = None, **kw: Any
    ) -> None:
        """:meth:`DataAPI.update`."""
        col = await self._owner.sync()
        await col.offload(col.data.update, uuid, properties, **kw)

    async def delete_by_id(self, uuid: Any) -> bool:
        """:meth:`DataAPI.delete_by_id`."""
        col = await self._owner.sync()
        return await col.offload(col.data.delete_by_id, uuid)

    async def delete_many(self, where: Any, **kw: Any) -> DeleteManyReturn:
        """:meth:`DataAPI.delete_many` (match and delete in one transaction)."""
        col = await self._owner.sync()
        return await col.offload(col.data.delete_many, where, **kw)

    async def exists(self, uuid: Any) -> bool:
        """:meth:`DataAPI.exists`."""
        col = await self._owner.sync()
        return await col.offload(col.data.exists, uuid)


class AsyncBatcher:
    """``async with collection.batch.fixed_size(n) as batch``: ``await batch.add_object(...)``
    imports every ``n`` objects; the rest is imported on exit (or by ``await batch.flush()``).
    """

    def __init__(self, owner: AsyncCollection, api: AsyncBatch, batch_size: int) -> None:
        self._owner = owner
        self._api = api
        self._size = batch_size
        self._buffer: list[DataObject] = []
        self._added = 0

    async def __aenter__(self) -> AsyncBatcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.flush()

    @property
    def number_errors(self) -> int:
        """Objects rejected so far."""
        return len(self._api.failed_objects)

    def add_object_nowait(
        self, properties: Mapping[str, Any] | None = None, uuid: Any = None, vector: Any = None
    ) -> str:
        """Queue one object without importing (``await flush()`` or the exit imports it)."""
        uid = (
            validate_uuid(uuid, where=f"object #{self._added}")
            if uuid is not None
            else str(_uuid.uuid4())
        )
        self._buffer.append(DataObject(properties, uid, vector))
        self._added += 1
        return uid

    async def add_object(
        self, properties: Mapping[str, Any] | None = None, uuid: Any = None, vector: Any = None
    ) -> str:
        """Queue one object and return its uuid; a full buffer is imported first."""
        await self._owner.sync()
        uid = self.add_object_nowait(properties, uuid, vector)
        if len(self._buffer) >= self._size:
            await self.flush()
        return uid

    async def flush(self) -> None:
        """Import everything queued (one transaction for the valid objects)."""
        if not self._buffer:
            return
        objects, self._buffer = self._buffer, []
        col = await self._owner.sync()
        _, failures = await col.aimport_objects(objects, start_index=self._added - len(objects))
        self._api._failed.extend(failures)


class AsyncBatch(_Part):
    """``collection.batch``: ``fixed_size`` / ``dynamic`` async batch contexts."""

    def __init__(self, owner: AsyncCollection) -> None:
        super().__init__(owner)
        self._failed: list[BatchFailure] = []

    @property
    def failed_objects(self) -> list[BatchFailure]:
        """Objects the most recent batch context rejected."""
        return list(self._failed)

    def fixed_size(self, batch_size: int = 100) -> AsyncBatcher:
        """A batch importing every ``batch_size`` objects."""
        check_int("batch_size", batch_size, 1)
        self._failed = []
        return AsyncBatcher(self._owner, self, batch_size)

    def dynamic(self) -> AsyncBatcher:
        """A batch of 256 objects at a time."""
        return self.fixed_size(256)


class AsyncAggregate(_Part):
    """``collection.aggregate`` as coroutines."""

    async def over_all(self, **options: Any) -> Any:
        """:meth:`AggregateAPI.over_all` (computed in the executor)."""
        col = await self._owner.sync()
        return await col.offload(col.aggregate.over_all, **options)


class AsyncConfig(_Part):
    """``collection.config`` as coroutines."""

    async def get(self) -> CollectionConfig:
        """The current configuration."""
        col = await self._owner.sync()
        return await col.offload(col.config.get)

    async def add_property(self, prop: Property) -> None:
        """:meth:`ConfigAPI.add_property`."""
        col = await self._owner.sync()
        await col.offload(col.config.add_property, prop)

    async def update(self, **options: Any) -> None:
        """:meth:`ConfigAPI.update`."""
        col = await self._owner.sync()
        await col.offload(col.config.update, **options)


class AsyncTenants(_Part):
    """``collection.tenants`` as coroutines."""

    async def create(self, tenants: Any) -> None:
        """:meth:`Tenants.create`."""
        col = await self._owner.sync()
        await col.offload(col.tenants.create, tenants)

    async def get(self) -> dict[str, Tenant]:
        """:meth:`Tenants.get`."""
        col = await self._owner.sync()
        return await col.offload(col.tenants.get)

    async def remove(self, tenants: Any) -> None:
        """:meth:`Tenants.remove` (each tenant one durable delete)."""
        col = await self._owner.sync()
        await col.offload(col.tenants.remove, tenants)

    async def exists(self, tenant: str | Tenant) -> bool:
        """:meth:`Tenants.exists`."""
        col = await self._owner.sync()
        return await col.offload(col.tenants.exists, tenant)
