"""``Collection``: the public, backend-agnostic face of one collection.

It validates input, fills auto-schema, embeds text for ``text2vec`` spaces and hands validated
records to a :class:`~multivector.backends.protocol.CollectionBackend`. ``collection.data``,
``collection.batch`` and ``collection.query`` mirror the Weaviate v4 client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from multivector._types import F32Array, Matrix, MultiVectorEmbedder
from multivector.api.batch import BatchAPI
from multivector.api.ingest import (
    DataObject,
    ObjectPlan,
    fail_job,
    finish_objects,
    plan_objects,
    source_properties,
)
from multivector.api.query import QueryAPI
from multivector.backends.protocol import CollectionBackend, ObjectRecord
from multivector.embeddings.calls import aembed_documents, embed_documents
from multivector.errors import (
    ConfigError,
    InvalidObjectError,
    MultiVectorError,
    ObjectNotFoundError,
)
from multivector.results import BatchFailure
from multivector.schema.config import CollectionConfig, VectorConfig
from multivector.schema.filter_validation import validate_filter
from multivector.schema.query import FilterNode
from multivector.schema.targets import resolve_target
from multivector.schema.validation import validate_uuid

__all__ = ["Collection", "DataAPI", "DeleteManyReturn", "InsertManyReturn"]

EmbedderFactory = Callable[[VectorConfig], MultiVectorEmbedder | None]


@dataclass
class InsertManyReturn:
    """What ``insert_many`` did: the stored uuids by position, and the rejected objects."""

    uuids: dict[int, str] = field(default_factory=dict)
    errors: dict[int, BatchFailure] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        """Whether any object was rejected."""
        return bool(self.errors)


@dataclass
class DeleteManyReturn:
    """What ``delete_many`` matched and deleted."""

    matches: int
    successful: int
    failed: int = 0
    uuids: list[str] = field(default_factory=list)


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
                fail_job(plan, job, _describe(exc))
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
                fail_job(plan, job, _describe(exc))
                out[job.space] = None
        return out

    def _job_embedder(self, space: str) -> MultiVectorEmbedder:
        embedder = self.embedder(space)
        if embedder is None:  # pragma: no cover - jobs exist only for text2vec spaces
            raise ConfigError(f"vector {space!r} has no embedder")
        return embedder

    def _store(
        self, plan: ObjectPlan, embedded: Mapping[str, Sequence[Matrix] | None], start_index: int
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]:
        records, failures, config = finish_objects(plan, embedded, start_index=start_index)
        if records:
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
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]:
        """Validate, embed and upsert; returns stored records and rejected objects.

        ``existing_vectors`` (per object) are kept for spaces an object does not re-specify.
        """
        plan = plan_objects(
            objects, self.config, start_index=start_index, existing_vectors=existing_vectors
        )
        return self._store(plan, self._embed_sync(plan), start_index)

    async def aimport_objects(
        self, objects: Sequence[DataObject], *, start_index: int = 0
    ) -> tuple[list[ObjectRecord], list[BatchFailure]]:
        """Async :meth:`import_objects`: embeds with the embedder's async methods when it has them.

        Cancelled before it stores, it stores nothing.
        """
        plan = plan_objects(objects, self.config, start_index=start_index)
        embedded = await self._embed_async(plan)
        return self._store(plan, embedded, start_index)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _raise_single(failures: Sequence[BatchFailure]) -> None:
    if failures:
        error = failures[0].error
        if isinstance(error, MultiVectorError):
            raise error
        raise InvalidObjectError(failures[0].message)


def _as_objects(objects: Sequence[Any]) -> list[DataObject]:
    out = []
    for obj in objects:
        if isinstance(obj, DataObject):
            out.append(obj)
        elif isinstance(obj, Mapping):
            out.append(DataObject(properties=obj))
        else:
            raise InvalidObjectError(
                f"insert_many: {type(obj).__name__} is not a DataObject or a dict of properties"
            )
    return out


class DataAPI:
    """``collection.data``: single-object and bulk writes."""

    def __init__(self, collection: Collection) -> None:
        self._col = collection

    def insert(
        self,
        properties: Mapping[str, Any] | None = None,
        *,
        uuid: Any = None,
        vector: Any = None,
    ) -> str:
        """Insert one object and return its uuid; an existing uuid is an error (use ``replace``)."""
        self._check_new(uuid)
        records, failures = self._col.import_objects([DataObject(properties, uuid, vector)])
        _raise_single(failures)
        return records[0].uuid

    async def ainsert(
        self,
        properties: Mapping[str, Any] | None = None,
        *,
        uuid: Any = None,
        vector: Any = None,
    ) -> str:
        """Async :meth:`insert`."""
        self._check_new(uuid)
        records, failures = await self._col.aimport_objects([DataObject(properties, uuid, vector)])
        _raise_single(failures)
        return records[0].uuid

    def _check_new(self, uuid: Any) -> None:
        if uuid is not None and self.exists(validate_uuid(uuid)):
            raise InvalidObjectError(
                f"an object with uuid {str(uuid)!r} already exists; use data.replace() or data.update()"
            )

    def insert_many(self, objects: Sequence[DataObject | Mapping[str, Any]]) -> InsertManyReturn:
        """Insert or replace many objects; valid ones are stored, invalid ones reported."""
        records, failures = self._col.import_objects(_as_objects(objects))
        return _insert_many_return(records, failures, len(objects))

    async def ainsert_many(
        self, objects: Sequence[DataObject | Mapping[str, Any]]
    ) -> InsertManyReturn:
        """Async :meth:`insert_many`."""
        records, failures = await self._col.aimport_objects(_as_objects(objects))
        return _insert_many_return(records, failures, len(objects))

    def replace(
        self, uuid: Any, properties: Mapping[str, Any] | None = None, *, vector: Any = None
    ) -> None:
        """Replace an existing object entirely (properties and vectors)."""
        uid = validate_uuid(uuid)
        if not self.exists(uid):
            raise ObjectNotFoundError(
                f"no object with uuid {uid!r} in {self._col.name!r}; use insert()"
            )
        _, failures = self._col.import_objects([DataObject(properties, uid, vector)])
        _raise_single(failures)

    def update(
        self, uuid: Any, properties: Mapping[str, Any] | None = None, *, vector: Any = None
    ) -> None:
        """Merge ``properties`` into an existing object; vectors are kept unless given (or, for a
        ``text2vec`` space, re-embedded when one of its source properties changed).
        """
        uid = validate_uuid(uuid)
        current = self._col.backend.get([uid], include_vector=True)[0]
        if current is None:
            raise ObjectNotFoundError(f"no object with uuid {uid!r} in {self._col.name!r}")
        merged = {**current.properties, **dict(properties or {})}
        keep = dict(current.vectors)
        config = self._col.config
        for vec in config.vectors:
            if vec.has_vectorizer and properties:
                if any(name in properties for name in source_properties(vec, config)):
                    keep.pop(vec.name, None)  # a source changed: embed again
        _, failures = self._col.import_objects(
            [DataObject(merged, uid, vector)], existing_vectors=[keep]
        )
        _raise_single(failures)

    def delete_by_id(self, uuid: Any) -> bool:
        """Delete one object; False when it did not exist."""
        return self._col.backend.delete([validate_uuid(uuid)]) > 0

    def delete_many(
        self, where: FilterNode, *, dry_run: bool = False, verbose: bool = False
    ) -> DeleteManyReturn:
        """Delete every object matching ``where`` (a filter is required, as in Weaviate)."""
        if where is None:
            raise ConfigError(
                "delete_many(where=...) needs a filter; to empty a collection, delete and recreate it"
            )
        uuids = self._col.backend.match(self._col.check_filter(where))
        deleted = 0 if dry_run else self._col.backend.delete(uuids)
        return DeleteManyReturn(
            matches=len(uuids), successful=deleted, failed=0, uuids=uuids if verbose else []
        )

    def exists(self, uuid: Any) -> bool:
        """Whether an object with this uuid exists."""
        return self._col.backend.get([validate_uuid(uuid)], include_vector=False)[0] is not None


def _insert_many_return(
    records: Sequence[ObjectRecord], failures: Sequence[BatchFailure], n: int
) -> InsertManyReturn:
    failed = {f.index: f for f in failures}
    out = InsertManyReturn(errors=failed)
    it = iter(records)
    for i in range(n):
        if i not in failed:
            out.uuids[i] = next(it).uuid
    return out
