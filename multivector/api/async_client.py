"""``use_async`` / ``use_async_with_qdrant``: the async client, over the one sync core.

An :class:`AsyncClient` owns a sync :class:`~multivector.api.client.Client` and a bounded
``ThreadPoolExecutor`` (``max_workers``, default 4: never asyncio's default pool). Everything
that blocks (an exact MaxSim kernel, a SQLite transaction, a Qdrant request, opening a durable
collection) runs in that pool; embedding uses the embedder's own coroutines
(``aembed_query`` / ``aembed_documents``: Jina's async HTTP client) or, for a local model, a
worker thread. Use it as ``async with multivector.use_async() as client:`` or call
``await client.close()``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from multivector._checks import check_int
from multivector._types import MultiVectorEmbedder
from multivector.api.async_collection import AsyncCollection
from multivector.api.client import Client
from multivector.api.collection import Collection
from multivector.api.connect import DEFAULT_EMBEDDER_TIMEOUT, connect, connect_to_qdrant
from multivector.schema.config import CollectionConfig

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "AsyncClient",
    "AsyncCollections",
    "use_async",
    "use_async_with_qdrant",
]

#: Threads of an async client's executor unless ``max_workers=`` says otherwise.
DEFAULT_MAX_WORKERS = 4
T = TypeVar("T")


class AsyncCollections:
    """``client.collections`` of an :class:`AsyncClient`: the sync calls, as coroutines."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def _wrap(self, col: Collection) -> AsyncCollection:
        col._executor = self._client.executor
        return AsyncCollection(col, name=col.name)

    async def create(self, name: str, **options: Any) -> AsyncCollection:
        """:meth:`Collections.create` (same arguments)."""
        sync = self._client.sync_client.collections
        return self._wrap(await self._client.run(sync.create, name, **options))

    async def create_from_config(self, config: CollectionConfig) -> AsyncCollection:
        """:meth:`Collections.create_from_config`."""
        sync = self._client.sync_client.collections
        return self._wrap(await self._client.run(sync.create_from_config, config))

    def use(
        self, name: str, *, embedders: Mapping[str, MultiVectorEmbedder] | None = None
    ) -> AsyncCollection:
        """A handle to an existing collection, opened (in the executor) at its first call, as
        Weaviate's ``client.collections.use`` makes no request either.
        """
        sync = self._client.sync_client.collections

        def open_it() -> Collection:
            col = sync.use(name, embedders=embedders)
            col._executor = self._client.executor
            return col

        return _LazyCollection(open_it, self._client, name)

    def get(
        self, name: str, *, embedders: Mapping[str, MultiVectorEmbedder] | None = None
    ) -> AsyncCollection:
        """Alias of :meth:`use`."""
        return self.use(name, embedders=embedders)

    async def exists(self, name: str) -> bool:
        """Whether a collection of that name exists."""
        return await self._client.run(self._client.sync_client.collections.exists, name)

    async def delete(self, name: str | Sequence[str]) -> None:
        """Delete one or several collections (with every tenant of a multi-tenant one)."""
        await self._client.run(self._client.sync_client.collections.delete, name)

    async def delete_all(self) -> None:
        """Delete every collection."""
        await self._client.run(self._client.sync_client.collections.delete_all)

    async def list_all(self) -> dict[str, CollectionConfig]:
        """Every collection's configuration, by name."""
        return await self._client.run(self._client.sync_client.collections.list_all)


class _LazyCollection(AsyncCollection):
    """An :class:`AsyncCollection` whose sync collection opens in the executor at first use."""

    def __init__(self, opener: Callable[[], Collection], client: AsyncClient, name: str) -> None:
        super().__init__(opener, name=name)
        self._client = client
        self._open = opener

    async def sync(self) -> Collection:
        if self._ready is None:
            self._ready = await self._client.run(self._open)
        return self._ready


class AsyncClient:
    """An async connection to one store (``multivector.use_async(...)``)."""

    def __init__(self, client: Client, *, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        check_int("max_workers", max_workers, 1)
        self._sync = client
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="multivector-async")
        self._closed = False
        self.collections = AsyncCollections(self)

    @property
    def sync_client(self) -> Client:
        """The sync client under this one (same store, same collections)."""
        return self._sync

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The bounded pool blocking work runs in."""
        return self._executor

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking ``fn(*args, **kwargs)`` in this client's executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def connect(self) -> None:
        """Weaviate's ``await client.connect()``: the store is open already, so a no-op."""

    def is_ready(self) -> bool:
        """Whether the client can serve requests."""
        return not self._closed and self._sync.is_ready()

    async def close(self) -> None:
        """Close the built embedders' async HTTP pools (on this loop), then the store (in the
        executor), then the executor. Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        try:
            aclose = getattr(self._sync._embedder_factory, "aclose", None)
            if callable(aclose) and self._sync.is_ready():
                self._sync._forget_embedders(await aclose())
            await self.run(self._sync.close)
        finally:
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<multivector.AsyncClient over {self._sync!r}>"


def use_async(
    path: str | Path | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    embedder_timeout: float | None = DEFAULT_EMBEDDER_TIMEOUT,
    max_workers: int = DEFAULT_MAX_WORKERS,
    **options: Any,
) -> AsyncClient:
    """The async twin of :func:`multivector.connect` (same arguments) with a pool of
    ``max_workers`` threads for blocking work.
    """
    check_int("max_workers", max_workers, 1)
    client = connect(path, headers, embedder_timeout=embedder_timeout, **options)
    return AsyncClient(client, max_workers=max_workers)


def use_async_with_qdrant(
    url: str | None = None,
    api_key: str | None = None,
    location: str | None = None,
    path: str | Path | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    embedder_timeout: float | None = DEFAULT_EMBEDDER_TIMEOUT,
    max_workers: int = DEFAULT_MAX_WORKERS,
    **client_options: Any,
) -> AsyncClient:
    """The async twin of :func:`multivector.connect_to_qdrant` (same arguments)."""
    check_int("max_workers", max_workers, 1)
    client = connect_to_qdrant(
        url,
        api_key,
        location,
        path,
        headers,
        embedder_timeout=embedder_timeout,
        **client_options,
    )
    del api_key
    return AsyncClient(client, max_workers=max_workers)
