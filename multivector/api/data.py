"""``collection.data``: single-object and bulk writes, each one serialisable.

Every verb that reads before it writes does both inside one write transaction of the backend
(``backend.write_transaction()``): ``insert``'s existence check, ``replace``'s, ``update``'s merge,
``delete_many``'s filter evaluation. Embedding (which may call a remote API) never runs inside it:
``insert`` / ``replace`` embed first and check inside; ``update`` reads, merges and embeds outside,
then commits only if the object is still the one it merged (else it starts again; after
:data:`UPDATE_ATTEMPTS` contended tries it holds the transaction throughout). So concurrent writes
have the outcome of some serial order: no lost update, no duplicate insert, no delete undone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from multivector.api.handle import CollectionHandle
from multivector.api.ingest import DataObject
from multivector.backends.protocol import ObjectRecord, StoredObject
from multivector.errors import (
    ConfigError,
    InvalidObjectError,
    MultiVectorError,
    ObjectExistsError,
    ObjectNotFoundError,
)
from multivector.results import BatchFailure
from multivector.schema.query import FilterNode
from multivector.schema.validation import validate_uuid
from multivector.text.source import source_properties

__all__ = ["UPDATE_ATTEMPTS", "DataAPI", "DeleteManyReturn", "InsertManyReturn"]

#: Optimistic tries of ``update`` before it holds the write transaction across its embedding.
UPDATE_ATTEMPTS = 8


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


class _Changed(Exception):
    """The object changed between ``update``'s read and its commit (internal: try again)."""


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


class DataAPI:
    """``collection.data``: single-object and bulk writes."""

    def __init__(self, collection: CollectionHandle) -> None:
        self._col = collection

    # ------------------------------------------------------------ preconditions
    def _current(self, uid: str, *, include_vector: bool = False) -> StoredObject | None:
        return self._col.backend.get([uid], include_vector=include_vector)[0]

    def _absent(self, uuid: Any) -> Callable[[], None] | None:
        """A check (run inside the write transaction) that ``uuid`` is not stored yet."""
        if uuid is None:
            return None
        uid = validate_uuid(uuid)

        def check() -> None:
            if self._current(uid) is not None:
                raise ObjectExistsError(
                    f"an object with uuid {uid!r} already exists in {self._col.name!r}; use "
                    "data.replace() or data.update()"
                )

        check()  # fail before embedding when it already exists
        return check

    def _present(self, uid: str) -> Callable[[], None]:
        def check() -> None:
            if self._current(uid) is None:
                raise ObjectNotFoundError(
                    f"no object with uuid {uid!r} in {self._col.name!r}; use insert()"
                )

        check()
        return check

    # ------------------------------------------------------------------ inserts
    def insert(
        self,
        properties: Mapping[str, Any] | None = None,
        *,
        uuid: Any = None,
        vector: Any = None,
    ) -> str:
        """Insert one object and return its uuid; an existing uuid raises
        :class:`~multivector.errors.ObjectExistsError` (use ``replace`` or ``update``).
        """
        records, failures = self._col.import_objects(
            [DataObject(properties, uuid, vector)], precondition=self._absent(uuid)
        )
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
        records, failures = await self._col.aimport_objects(
            [DataObject(properties, uuid, vector)], precondition=self._absent(uuid)
        )
        _raise_single(failures)
        return records[0].uuid

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

    # ------------------------------------------------------------------ updates
    def replace(
        self, uuid: Any, properties: Mapping[str, Any] | None = None, *, vector: Any = None
    ) -> None:
        """Replace an existing object entirely (properties and vectors)."""
        uid = validate_uuid(uuid)
        _, failures = self._col.import_objects(
            [DataObject(properties, uid, vector)], precondition=self._present(uid)
        )
        _raise_single(failures)

    def update(
        self, uuid: Any, properties: Mapping[str, Any] | None = None, *, vector: Any = None
    ) -> None:
        """Merge ``properties`` into an existing object; vectors are kept unless given (or, for a
        ``text2vec`` space, re-embedded when one of its source properties changed).
        """
        uid = validate_uuid(uuid)
        for _ in range(UPDATE_ATTEMPTS):
            try:
                self._update_once(uid, properties, vector, guarded=True)
                return
            except _Changed:
                continue
        with self._col.backend.write_transaction():
            self._update_once(uid, properties, vector, guarded=False)

    def _update_once(
        self, uid: str, properties: Mapping[str, Any] | None, vector: Any, *, guarded: bool
    ) -> None:
        current = self._current(uid, include_vector=True)
        if current is None:
            raise ObjectNotFoundError(f"no object with uuid {uid!r} in {self._col.name!r}")
        merged = {**current.properties, **dict(properties or {})}
        keep = dict(current.vectors)
        config = self._col.backend.known_config
        for vec in config.vectors:
            if vec.has_vectorizer and properties:
                if any(name in properties for name in source_properties(vec, config)):
                    keep.pop(vec.name, None)  # a source changed: embed again

        def unchanged() -> None:
            now = self._current(uid)
            if now is None:
                raise ObjectNotFoundError(f"no object with uuid {uid!r} in {self._col.name!r}")
            if now.update_time != current.update_time or now.properties != current.properties:
                raise _Changed

        _, failures = self._col.import_objects(
            [DataObject(merged, uid, vector)],
            existing_vectors=[keep],
            precondition=unchanged if guarded else None,
        )
        _raise_single(failures)

    # ------------------------------------------------------------------ deletes
    def delete_by_id(self, uuid: Any) -> bool:
        """Delete one object; False when it did not exist."""
        return self._col.backend.delete([validate_uuid(uuid)]) > 0

    def delete_many(
        self, where: FilterNode, *, dry_run: bool = False, verbose: bool = False
    ) -> DeleteManyReturn:
        """Delete every object matching ``where`` (a filter is required, as in Weaviate); the
        match and the delete are one transaction.
        """
        if where is None:
            raise ConfigError(
                "delete_many(where=...) needs a filter; to empty a collection, delete and recreate it"
            )
        checked = self._col.check_filter(where)
        backend = self._col.backend
        if dry_run:
            uuids, deleted = backend.match(checked), 0
        else:
            with backend.write_transaction():
                uuids = backend.match(checked)
                deleted = backend.delete(uuids)
        return DeleteManyReturn(
            matches=len(uuids), successful=deleted, failed=0, uuids=uuids if verbose else []
        )

    def exists(self, uuid: Any) -> bool:
        """Whether an object with this uuid exists."""
        return self._current(validate_uuid(uuid)) is not None
