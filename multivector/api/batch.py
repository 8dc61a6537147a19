"""``collection.batch``: buffered imports that report failed objects instead of raising.

As in Weaviate, ``with collection.batch.fixed_size(batch_size=N) as batch: batch.add_object(...)``
sends every N objects (and the rest on exit); an object that is rejected (bad matrix, wrong type,
failed embedding) lands in ``collection.batch.failed_objects`` while the good ones are stored.
Adding an existing uuid replaces that object.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from multivector._checks import check_int
from multivector._progress import Progress
from multivector.api.handle import CollectionHandle
from multivector.api.ingest import DataObject
from multivector.errors import ConfigError
from multivector.results import BatchFailure
from multivector.schema.validation import validate_uuid

__all__ = ["BatchAPI", "Batcher"]


class Batcher:
    """A batch context: ``add_object`` buffers, every ``batch_size`` objects are imported."""

    def __init__(
        self,
        collection: CollectionHandle,
        api: BatchAPI,
        *,
        batch_size: int,
        show_progress: bool | None,
        total: int | None,
    ) -> None:
        check_int("batch_size", batch_size, 1)
        self._col = collection
        self._api = api
        self._batch_size = batch_size
        self._buffer: list[DataObject] = []
        self._added = 0
        self._progress = Progress(
            desc=f"Importing into {collection.name}", total=total, enabled=show_progress
        )

    def __enter__(self) -> Batcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.flush()
        self._progress.close()

    @property
    def number_errors(self) -> int:
        """Objects rejected so far in this batch."""
        return len(self._api.failed_objects)

    def add_object(
        self,
        properties: Mapping[str, Any] | None = None,
        uuid: Any = None,
        vector: Any = None,
        references: Any = None,
    ) -> str:
        """Queue one object and return its uuid (a random uuid4 when none is given)."""
        if references is not None:
            raise ConfigError(
                "cross-references are not supported; store the target uuid as a property"
            )
        uid: str | _uuid.UUID = (
            validate_uuid(uuid, where=f"object #{self._added}")
            if uuid is not None
            else str(_uuid.uuid4())
        )
        self._buffer.append(DataObject(properties, uid, vector))
        self._added += 1
        if len(self._buffer) >= self._batch_size:
            self.flush()
        return str(uid)

    def flush(self) -> None:
        """Import everything queued now."""
        if not self._buffer:
            return
        objects, self._buffer = self._buffer, []
        start = self._added - len(objects)
        _, failures = self._col.import_objects(objects, start_index=start)
        self._api._failed.extend(failures)
        self._progress.update(len(objects))


class BatchAPI:
    """``collection.batch``: ``fixed_size`` / ``dynamic`` batch contexts and ``failed_objects``."""

    def __init__(self, collection: CollectionHandle) -> None:
        self._col = collection
        self._failed: list[BatchFailure] = []

    @property
    def failed_objects(self) -> list[BatchFailure]:
        """Objects the most recent batch context rejected (position, uuid, message)."""
        return list(self._failed)

    def fixed_size(
        self,
        batch_size: int = 100,
        concurrent_requests: int = 1,
        *,
        show_progress: bool | None = None,
        total: int | None = None,
    ) -> Batcher:
        """A batch that imports every ``batch_size`` objects; ``show_progress`` draws a progress line
        on stderr (default: only when stderr is a terminal).
        """
        check_int("concurrent_requests", concurrent_requests, 1)
        self._failed = []
        return Batcher(
            self._col, self, batch_size=batch_size, show_progress=show_progress, total=total
        )

    def dynamic(self, *, show_progress: bool | None = None, total: int | None = None) -> Batcher:
        """A batch with a size chosen for the embedded store (256 objects)."""
        return self.fixed_size(256, show_progress=show_progress, total=total)

    def rate_limit(self, requests_per_minute: int, *, show_progress: bool | None = None) -> Batcher:
        """Weaviate's rate-limited batch; embedding providers here retry on 429 themselves."""
        check_int("requests_per_minute", requests_per_minute, 1)
        return self.fixed_size(100, show_progress=show_progress)
