"""``Collection``: the public, backend-agnostic face of one collection.

It validates input, fills auto-schema, embeds text for ``text2vec`` spaces and hands validated
records to a :class:`~multivector.backends.protocol.CollectionBackend`. ``collection.data``,
``collection.batch`` and ``collection.query`` mirror the Weaviate v4 client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from multivector._types import F32Array, Matrix, MultiVectorEmbedder
from multivector.api.batch import BatchAPI
from multivector.api.data import DataAPI, DeleteManyReturn, InsertManyReturn
from multivector.api.ingest import (
    DataObject,
    ObjectPlan,
    fail_job,
    finish_objects,
    plan_objects,
)
from multivector.api.query import QueryAPI
from multivector.backends.protocol import CollectionBackend, ObjectRecord
from multivector.embeddings.calls import aembed_documents, embed_documents
from multivector.errors import (
    ConfigError,
)
from multivector.results import BatchFailure
from multivector.schema.config import CollectionConfig, VectorConfig
from multivector.schema.filter_validation import validate_filter
from multivector.schema.query import FilterNode
from multivector.schema.targets import resolve_target

__all__ = ["Collection", "DataAPI", "DeleteManyReturn", "InsertManyReturn"]

EmbedderFactory = Callable[[VectorConfig], MultiVectorEmbedder | None]


class Collection:
    """One collection: ``data``, ``batch`` and ``query`` namespaces, ``len()``, ``config``."""

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
        self.data = DataAPI(self)
        self.batch: BatchAPI = BatchAPI(self)
        self.query: QueryAPI = QueryAPI(self)

    # ---------------------------------------------------------------- basics
    @property
    def name(self) -> str:
        """The collection's name."""
        return self._backend.known_config.name

    @property
    def config(self) -> CollectionConfig:
        """The current configuration (auto-added properties and fixed dimensions included)."""
        return self._backend.config

    @property
    def backend(self) -> CollectionBackend:
        """The storage backend (embedded or Qdrant); integrations never need it."""
        return self._backend

    def __len__(self) -> int:
        return self._backend.count()

    def __repr__(self) -> str:
        return f"<Collection {self.name!r}: {len(self)} objects, vectors={[v.name for v in self.config.vectors]}>"

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
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]:
        records, failures, config = finish_objects(plan, embedded, start_index=start_index)
        if records:
            with self._backend.write_transaction():
                if precondition is not None:
                    precondition()
                if config != self._backend.config:
                    self._backend.set_config(config)
                self._backend.upsert(records)
        return records, failures

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
        plan = plan_objects(
            objects, self.config, start_index=start_index, existing_vectors=existing_vectors
        )
        return self._store(plan, self._embed_sync(plan), start_index, precondition)

    async def aimport_objects(
        self,
        objects: Sequence[DataObject],
        *,
        start_index: int = 0,
        precondition: Callable[[], None] | None = None,
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]:
        """Async :meth:`import_objects`: embeds with the embedder's async methods when it has them.

        Cancelled before it stores, it stores nothing.
        """
        plan = plan_objects(objects, self.config, start_index=start_index)
        embedded = await self._embed_async(plan)
        return self._store(plan, embedded, start_index, precondition)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
