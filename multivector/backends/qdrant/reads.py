"""Reads of a Qdrant collection: objects by id, filtered scans in insertion order, filters.

:class:`QdrantReads` is the read half of
:class:`~multivector.backends.qdrant.collection.QdrantCollection`: ``get``, ``fetch`` and ``match``,
and the one place a filter tree becomes an exact native Qdrant filter (a client-side residual, see
:mod:`multivector.backends.qdrant.filters`, is resolved to a list of point ids here).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from qdrant_client import models

from multivector._types import F32Array
from multivector.backends.protocol import Hit, StoredObject
from multivector.backends.qdrant.bm25 import SPARSE_VECTOR
from multivector.backends.qdrant.filters import translate
from multivector.backends.qdrant.payload import (
    CREATED_KEY,
    ID_KEY,
    PROPS_KEY,
    SEQ_KEY,
    UPDATED_KEY,
    decode_properties,
    point_id,
)
from multivector.errors import ConfigError
from multivector.schema.config import CollectionConfig
from multivector.schema.filter_match import matches
from multivector.schema.query import FilterNode

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from multivector.backends.qdrant.physical import QdrantStore

__all__ = ["NOTHING", "PAGE", "QdrantReads"]

PAGE = 256
#: A filter that matches nothing (a client-side residual that no object passed).
NOTHING = models.Filter(must=[models.HasIdCondition(has_id=[])])


class QdrantReads(ABC):
    """Read operations shared by the Qdrant collection backend."""

    _owner: QdrantStore
    _qc: QdrantClient
    _call: Callable[..., Any]

    @property
    @abstractmethod
    def config(self) -> CollectionConfig:
        """The collection's configuration."""

    @property
    @abstractmethod
    def physical_name(self) -> str:
        """The Qdrant collection's name."""

    def _stored(self, point: Any, include_vector: bool) -> StoredObject:
        payload = point.payload or {}
        vectors: dict[str, F32Array] = {}
        if include_vector and isinstance(point.vector, dict):
            for name, value in point.vector.items():
                if name != SPARSE_VECTOR and isinstance(value, list):
                    vectors[name] = np.asarray(value, dtype=np.float32).reshape(len(value), -1)
        return StoredObject(
            uuid=str(payload.get(ID_KEY, point.id)),
            properties=decode_properties(payload.get(PROPS_KEY) or {}, self.config),
            vectors=vectors,
            creation_time=payload.get(CREATED_KEY),
            update_time=payload.get(UPDATED_KEY),
        )

    def _dense_selector(self, include_vector: bool) -> bool | list[str]:
        names = list(self._owner.vector_params(self.config))
        return names if include_vector and names else False

    def get(self, uuids: Sequence[str], *, include_vector: bool) -> list[StoredObject | None]:
        """Objects by uuid (None where missing), in order."""
        pids = [point_id(u) for u in uuids]
        unique = list(dict.fromkeys(pids))
        by_id: dict[str, Any] = {}
        for start in range(0, len(unique), PAGE):
            found = self._call(
                "read objects",
                self._qc.retrieve,
                self.physical_name,
                ids=unique[start : start + PAGE],
                with_payload=[ID_KEY, CREATED_KEY, UPDATED_KEY, PROPS_KEY],
                with_vectors=self._dense_selector(include_vector),
            )
            by_id.update({str(p.id): p for p in found})
        return [self._stored(by_id[pid], include_vector) if pid in by_id else None for pid in pids]

    def _vector_query(
        self, target: str, query: F32Array, *, limit: int, native: models.Filter | None
    ) -> list[Hit]:
        vec = self.config.vector(target)
        kwargs: dict[str, Any] = {}
        if not self._owner.local:
            exact = vec is None or vec.index.kind != "hnsw"
            kwargs["search_params"] = models.SearchParams(exact=exact)
        response = self._call(
            "vector search",
            self._qc.query_points,
            self.physical_name,
            query=np.asarray(query, dtype=np.float32).tolist(),
            using=target,
            query_filter=native,
            limit=limit,
            with_payload=[ID_KEY],
            **kwargs,
        )
        return [Hit(str((p.payload or {}).get(ID_KEY)), float(p.score)) for p in response.points]

    def _check_target(self, target: str) -> bool:
        if self.config.vector(target) is None:
            raise ConfigError(f"unknown vector {target!r}")
        return target in self._owner.vector_params(self.config)

    def _vector_hits(
        self, target_vector: str, query: F32Array, *, limit: int, native: models.Filter | None
    ) -> list[Hit]:
        """Exact MaxSim top-``limit`` (Qdrant scores, ties broken by uuid)."""
        if not self._check_target(target_vector) or limit <= 0 or native is NOTHING:
            return []
        hits = self._vector_query(target_vector, query, limit=limit + 8, native=native)
        return sorted(hits, key=lambda h: (-h.score, h.uuid))[:limit]

    def vector_scores(
        self, target_vector: str, query: F32Array, uuids: Sequence[str]
    ) -> list[float | None]:
        """Exact MaxSim of ``query`` against each listed object (None: missing or no vector)."""
        if not uuids or not self._check_target(target_vector):
            return [None] * len(uuids)
        pids = list(dict.fromkeys(point_id(u) for u in uuids))
        native = models.Filter(must=[models.HasIdCondition(has_id=pids)])  # type: ignore[arg-type]
        hits = self._vector_query(target_vector, query, limit=len(pids), native=native)
        scores = {h.uuid: h.score for h in hits}
        return [scores.get(u) for u in uuids]

    def _scan(
        self, native: models.Filter | None, payload: list[str], with_vectors: bool | list[str]
    ) -> Iterator[Any]:
        """Every point matching ``native``, in insertion order, page by page."""
        start: int | None = None
        while True:
            points, _ = self._call(
                "scroll objects",
                self._qc.scroll,
                self.physical_name,
                scroll_filter=native,
                limit=PAGE,
                order_by=models.OrderBy(
                    key=SEQ_KEY, direction=models.Direction.ASC, start_from=start
                ),
                with_payload=[SEQ_KEY, *payload],
                with_vectors=with_vectors,
            )
            yield from points
            if len(points) < PAGE:
                return
            start = int((points[-1].payload or {})[SEQ_KEY]) + 1

    def native_filter(self, filters: FilterNode | None) -> models.Filter | None:
        """An exact native filter for a validated filter tree (None: no filter)."""
        return self._native(filters)

    def is_nothing(self, native: models.Filter | None) -> bool:
        """Whether ``native`` is the filter that matches no object."""
        return native is NOTHING

    def run_query(self, what: str, **kwargs: Any) -> Any:
        """``query_points`` on this collection, retried and translated like every call."""
        return self._call(what, self._qc.query_points, self.physical_name, **kwargs)

    def _native(self, filters: FilterNode | None) -> models.Filter | None:
        """An exact native filter: a client-side residual becomes a list of point ids."""
        native, residual = translate(filters, self.config)
        if residual is None:
            return native
        ids = [
            p.id
            for p in self._scan(native, [ID_KEY, PROPS_KEY], False)
            if matches(
                residual,
                str((p.payload or {}).get(ID_KEY)),
                decode_properties((p.payload or {}).get(PROPS_KEY) or {}, self.config),
            )
        ]
        return models.Filter(must=[models.HasIdCondition(has_id=ids)]) if ids else NOTHING

    def fetch(
        self,
        *,
        limit: int | None,
        offset: int,
        filters: FilterNode | None,
        include_vector: bool,
    ) -> list[StoredObject]:
        """Live matching objects in insertion order, paginated."""
        native = self._native(filters)
        if native is NOTHING or limit == 0:
            return []
        out: list[StoredObject] = []
        payload = [ID_KEY, CREATED_KEY, UPDATED_KEY, PROPS_KEY]
        for i, point in enumerate(
            self._scan(native, payload, self._dense_selector(include_vector))
        ):
            if i >= offset:
                out.append(self._stored(point, include_vector))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def match(self, filters: FilterNode | None) -> list[str]:
        """Uuids of every live object matching ``filters``, in insertion order."""
        native = self._native(filters)
        if native is NOTHING:
            return []
        return [str((p.payload or {}).get(ID_KEY)) for p in self._scan(native, [ID_KEY], False)]
