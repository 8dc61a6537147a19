"""``Collection``: the public, backend-agnostic face of one collection.

It validates input, fills auto-schema, embeds text for ``text2vec`` spaces and hands validated
records to a :class:`~multivector.backends.protocol.CollectionBackend`. ``collection.data``,
``collection.batch`` and ``collection.query`` mirror the Weaviate v4 client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from multivector._types import F32Array, Matrix, MultiVectorEmbedder
from multivector.api.aggregate import AggregateAPI
from multivector.api.batch import BatchAPI
from multivector.api.config_api import ConfigView
from multivector.api.data import DataAPI, DeleteManyReturn, InsertManyReturn
from multivector.api.ingest import (
    DataObject,
    EmbedJob,
    ObjectPlan,
    fail_job,
    finish_objects,
    plan_objects,
)
from multivector.api.iterator import ObjectIterator
from multivector.api.query import QueryAPI
from multivector.api.tenants import Tenants
from multivector.backends.protocol import ClientBackend, CollectionBackend, ObjectRecord
from multivector.embeddings.calls import aembed_documents, embed_documents
from multivector.errors import (
    ConfigError,
)
from multivector.results import BatchFailure
from multivector.schema.config import CollectionConfig, VectorConfig
from multivector.schema.filter_validation import validate_filter
from multivector.schema.query import FilterNode
from multivector.schema.targets import resolve_target
from multivector.schema.tenancy import Tenant

__all__ = ["Collection", "DataAPI", "DeleteManyReturn", "InsertManyReturn"]

EmbedderFactory = Callable[[VectorConfig], MultiVectorEmbedder | None]
T = TypeVar("T")


class Collection:
    """One collection: ``data``, ``batch``, ``query``, ``aggregate``, ``tenants`` and ``config``
    namespaces, ``iterator()``, ``with_tenant()``, ``len()``.
    """

    def __init__(
        self,
        backend: CollectionBackend,
        *,
        embedder_factory: EmbedderFactory | None = None,
        embedders: Mapping[str, MultiVectorEmbedder] | None = None,
    ) -> None:
        self._backend = backend
        self._embedder_factory = embedder_factory
        self._embedders: dict[str, MultiVectorEmbedder] = dict(embedders or {})
        #: Where the async verbs run blocking work (set by ``AsyncClient``: its bounded pool).
        self._executor: Executor | None = None
        self.data = DataAPI(self)
        self.batch: BatchAPI = BatchAPI(self)
        self.query: QueryAPI = QueryAPI(self)
        self.aggregate = AggregateAPI(self)
        self.tenants = Tenants(self)
        #: Set on a tenant's handle (``with_tenant``): the tenant and its collection's handle.
        self._tenant: str | None = None
        self._parent: Collection | None = None
        self._tenant_handles: dict[str, Collection] = {}
        #: The client's backend (set by ``client.collections``), for tenants.
        self._client_backend: Callable[[], ClientBackend] | None = None

    # ---------------------------------------------------------------- basics
    @property
    def name(self) -> str:
        """The collection's name."""
        if self._parent is not None:
            return self._parent.name
        return self._backend.known_config.name

    @property
    def tenant(self) -> str | None:
        """The tenant this handle is scoped to (None: the collection itself)."""
        return self._tenant

    @property
    def config(self) -> ConfigView:
        """The current configuration (auto-added properties and fixed dimensions included), a
        ``CollectionConfig`` that is also the config namespace (``get()``, ``add_property()``,
        ``update()``; see :mod:`multivector.api.config_api`).
        """
        root = self if self._parent is None else self._parent

        def read() -> CollectionConfig:
            config = self._backend.config
            if self._parent is None:
                return config
            return dataclasses.replace(
                config, name=root.name, multi_tenancy=root._backend.known_config.multi_tenancy
            )

        return ConfigView.of(read(), read, root._config_targets)

    def _config_targets(self) -> list[CollectionBackend]:
        tenants = self.tenants.get() if self._backend.known_config.multi_tenancy.enabled else {}
        return [self._backend, *(self.tenants.open(t) for t in tenants)]

    @property
    def backend(self) -> CollectionBackend:
        """The storage backend (embedded or Qdrant); integrations never need it. On a
        multi-tenant collection only a tenant's handle (``with_tenant``) has one.
        """
        if self._tenant is None and self._backend.known_config.multi_tenancy.enabled:
            raise ConfigError(
                f"collection {self.name!r} is multi-tenant: every query and write names its "
                f"tenant; use collection.with_tenant(name) (tenants: collection.tenants.get())"
            )
        return self._backend

    def raw_backend(self) -> CollectionBackend:
        """The backend collection behind this handle, tenant or not (for ``tenants``)."""
        return self._backend

    def client_backend(self) -> ClientBackend:
        """The client's backend (tenants are collections of it)."""
        if self._client_backend is None:
            raise ConfigError("this collection was not opened through a client; tenants need one")
        return self._client_backend()

    def with_tenant(self, tenant: str | Tenant) -> Collection:
        """A handle to ``tenant`` of this multi-tenant collection: its queries, writes,
        batches, aggregations and iterator see that tenant only.
        """
        root = self if self._parent is None else self._parent
        backend = root.tenants.open(tenant)
        name = tenant.name if isinstance(tenant, Tenant) else str(tenant)
        handle = root._tenant_handles.get(name)
        if handle is None or handle._backend is not backend:
            handle = Collection(
                backend, embedder_factory=root._embedder_factory, embedders=root._embedders
            )
            handle._tenant, handle._parent = name, root
            handle._executor, handle._client_backend = root._executor, root._client_backend
            root._tenant_handles[name] = handle
        return handle

    def iterator(
        self,
        *,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        cache_size: int = 100,
    ) -> ObjectIterator:
        """Every object in uuid order, ``cache_size`` at a time (:mod:`multivector.api.iterator`)."""
        return ObjectIterator(
            self,
            include_vector=include_vector,
            return_properties=return_properties,
            cache_size=cache_size,
        )

    def __len__(self) -> int:
        return self.backend.count()

    def __repr__(self) -> str:
        vectors = [v.name for v in self._backend.known_config.vectors]
        if self._tenant is None and self._backend.known_config.multi_tenancy.enabled:
            return f"<Collection {self.name!r}: multi-tenant, vectors={vectors}>"
        where = "" if self._tenant is None else f" tenant {self._tenant!r}"
        return f"<Collection {self.name!r}{where}: {len(self)} objects, vectors={vectors}>"

    def compact(self) -> None:
        """Reclaim the space of deleted and replaced objects."""
        self._backend.compact()

    def retrain_index(self, target_vector: str | None = None) -> dict[str, Any]:
        """Retrain the approximate index of one space (all when None) now, instead of at the
        first search that finds the collection grown; a no-op for exact spaces and for backends
        that manage their own indexes. Returns a report per retrained space.
        """
        retrain = getattr(self._backend, "retrain_index", None)
        if retrain is None:
            return {}
        if target_vector is not None:
            self.resolve_target(target_vector)
        return dict(retrain(target_vector))

    def index_stats(self) -> dict[str, dict[str, Any]]:
        """Per approximate vector space: whether it is trained, its centroids, slots and token
        vectors, compression (``nbits``, ``drift``), resident bytes by part, and why it wants
        (re)training in the background, if it does. Empty for exact spaces and for backends that
        manage their own indexes.
        """
        stats = getattr(self._backend, "index_stats", None)
        return {} if stats is None else dict(stats())

    def wait_for_index(self) -> None:
        """Block until background index training (and other maintenance) is done."""
        wait = getattr(self._backend, "wait_for_index", None)
        if wait is not None:
            wait()

    async def offload(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking work (a search, a SQLite transaction) off the event loop: in the owning
        ``AsyncClient``'s bounded executor, else in asyncio's worker thread.
        """
        if self._executor is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    # ------------------------------------------------------------- embedders
    def embedder(self, target_vector: str) -> MultiVectorEmbedder | None:
        """The embedder of a ``text2vec`` space (None for self-provided spaces)."""
        vec = self._backend.known_config.vector(target_vector)
        if vec is None or not vec.has_vectorizer:
            return None
        found = self._embedders.get(target_vector)
        if found is None:
            found = vec.embedder
            if found is None and self._embedder_factory is not None:
                found = self._embedder_factory(vec)
            if found is None:
                raise ConfigError(
                    f"vector {target_vector!r} of {self.name!r} embeds text with a custom embedder "
                    "that is not available in this process; pass it again with "
                    f"client.collections.use({self.name!r}, embedders={{{target_vector!r}: embedder}})"
                )
            self._embedders[target_vector] = found
        return found

    def resolve_target(self, target_vector: str | None) -> VectorConfig:
        """The vector space a query targets (the only one when ``target_vector`` is None)."""
        return resolve_target(self._backend.known_config, target_vector)

    def check_filter(self, filters: FilterNode | None) -> FilterNode | None:
        """Validate a filter against the schema (unknown property / operator -> FilterError)."""
        return validate_filter(filters, self._backend.known_config)

    # ---------------------------------------------------------------- import
    def _embed_sync(self, plan: ObjectPlan) -> dict[str, Sequence[Matrix] | None]:
        out: dict[str, Sequence[Matrix] | None] = {}
        for job in plan.jobs:
            try:
                out[job.space] = embed_documents(self._job_embedder(job.space), job.texts)
            except Exception as exc:  # the embedder's failure becomes each object's failure
                fail_job(plan, job, _describe(exc), exc)
                out[job.space] = None
        return out

    async def _embed_async(self, plan: ObjectPlan) -> dict[str, Sequence[Matrix] | None]:
        out: dict[str, Sequence[Matrix] | None] = {}
        for job in plan.jobs:
            try:
                out[job.space] = await aembed_documents(self._job_embedder(job.space), job.texts)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                fail_job(plan, job, _describe(exc), exc)
                out[job.space] = None
        return out

    def _job_embedder(self, space: str) -> MultiVectorEmbedder:
        embedder = self.embedder(space)
        if embedder is None:  # pragma: no cover - jobs exist only for text2vec spaces
            raise ConfigError(f"vector {space!r} has no embedder")
        return embedder

    def _store(
        self,
        plan: ObjectPlan,
        embedded: Mapping[str, Sequence[Matrix] | None],
        start_index: int,
        precondition: Callable[[], None] | None,
        replan: Callable[[CollectionConfig], ObjectPlan],
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]:
        """Finish and upsert in one write transaction. The plan was validated against the
        schema as it was before embedding; should another writer have changed it since (a
        property added by auto-schema, a dimension fixed by a first insert), the objects are
        validated again against the current schema inside the transaction, so neither write's
        schema change is lost and a conflicting object fails alone.
        """
        base = plan.config_before
        records, failures, config = finish_objects(plan, embedded, start_index=start_index)
        if not records:
            return records, failures
        backend = self.backend
        with backend.write_transaction():
            current = backend.config
            if current != base:
                fresh = replan(current)
                embedded = self._reuse_embeddings(plan, fresh, embedded)
                records, failures, config = finish_objects(fresh, embedded, start_index=start_index)
                if not records:
                    return records, failures
            if precondition is not None:
                precondition()
            if config != current:
                backend.set_config(config)
            backend.upsert(records)
        return records, failures

    def _reuse_embeddings(
        self, old: ObjectPlan, new: ObjectPlan, embedded: Mapping[str, Sequence[Matrix] | None]
    ) -> dict[str, Sequence[Matrix] | None]:
        """The matrices of ``new``'s jobs: reused where ``old`` embedded the same texts."""

        def key(job: EmbedJob) -> tuple[str, tuple[int, ...], tuple[str, ...]]:
            return job.space, tuple(job.positions), tuple(job.texts)

        done = {key(j) for j in old.jobs}
        out = {j.space: embedded.get(j.space) for j in new.jobs if key(j) in done}
        redo = [j for j in new.jobs if key(j) not in done]
        if redo:  # rare: the schema change altered what a space embeds
            out.update(self._embed_sync(dataclasses.replace(new, jobs=redo)))
        return out

    def import_objects(
        self,
        objects: Sequence[DataObject],
        *,
        start_index: int = 0,
        existing_vectors: Sequence[Mapping[str, F32Array]] | None = None,
        precondition: Callable[[], None] | None = None,
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]:
        """Validate, embed and upsert; returns stored records and rejected objects.

        ``existing_vectors`` (per object) are kept for spaces an object does not re-specify.
        ``precondition`` runs inside the write transaction, right before the upsert (it raises
        to abort: nothing is stored then).
        """

        def replan(config: CollectionConfig) -> ObjectPlan:
            return plan_objects(
                objects, config, start_index=start_index, existing_vectors=existing_vectors
            )

        plan = replan(self.backend.config)
        return self._store(plan, self._embed_sync(plan), start_index, precondition, replan)

    async def aimport_objects(
        self,
        objects: Sequence[DataObject],
        *,
        start_index: int = 0,
        precondition: Callable[[], None] | None = None,
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]:
        """Async :meth:`import_objects`: embeds with the embedder's async methods when it has them.

        Cancelled before it stores, it stores nothing; the store itself (one transaction) runs
        in :meth:`offload`, so once started it commits even if the awaiting task is cancelled.
        """

        def replan(config: CollectionConfig) -> ObjectPlan:
            return plan_objects(objects, config, start_index=start_index)

        plan = replan(await self.offload(lambda: self.backend.config))
        embedded = await self._embed_async(plan)
        return await self.offload(self._store, plan, embedded, start_index, precondition, replan)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
