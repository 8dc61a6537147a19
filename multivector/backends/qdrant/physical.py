"""Qdrant collections as multivector lays them out: the meta store and the physical collections.

``_multivector_meta`` holds one point per collection (its configuration JSON, BM25 length totals,
a write version and the physical collection's name). A physical collection has one named
multi-vector per vector space whose dimension is known and the BM25 sparse vector; when a
dimension is fixed after objects exist, the points are copied into a new physical collection.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multivector.backends.qdrant.caller import QdrantCaller
from multivector.errors import BackendError
from multivector.schema.config import CollectionConfig, DataType

if TYPE_CHECKING:
    from qdrant_client import QdrantClient, models

__all__ = ["DEFAULT_UPSERT_BATCH", "META_COLLECTION", "CollectionMeta", "QdrantStore", "meta_id"]

META_COLLECTION = "_multivector_meta"
_META_FORMAT = 1
#: Points per upsert request (a request is also capped at ~8M floats of token vectors).
DEFAULT_UPSERT_BATCH = 256
_MAX_FLOATS_PER_REQUEST = 8_000_000


@dataclass
class CollectionMeta:
    """What ``_multivector_meta`` keeps per collection."""

    config: CollectionConfig
    physical: str
    total_len: dict[str, int] = field(default_factory=dict)
    generation: int = 0
    version: int = 0

    def to_payload(self) -> dict[str, Any]:
        """Plain JSON for the meta point."""
        return {
            "format": _META_FORMAT,
            "name": self.config.name,
            "config": self.config.to_dict(),
            "physical": self.physical,
            "total_len": dict(self.total_len),
            "generation": self.generation,
            "version": self.version,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> CollectionMeta:
        """Inverse of :meth:`to_payload`; a newer format is refused."""
        fmt = int(payload.get("format", 0))
        if fmt > _META_FORMAT:
            raise BackendError(
                f"collection {payload.get('name')!r} was written by a newer multivector "
                f"(meta format {fmt}); upgrade multivector to open it"
            )
        return cls(
            config=CollectionConfig.from_dict(payload["config"]),
            physical=str(payload["physical"]),
            total_len={k: int(v) for k, v in (payload.get("total_len") or {}).items()},
            generation=int(payload.get("generation", 0)),
            version=int(payload.get("version", 0)),
        )


def _n_floats(point: models.PointStruct) -> int:
    """Floats of dense token vectors in ``point`` (bounds the size of one request)."""
    vectors: Any = point.vector
    if not isinstance(vectors, dict):
        return 0
    return sum(
        len(v) * len(v[0])
        for v in vectors.values()
        if isinstance(v, list) and v and isinstance(v[0], list)
    )


def meta_id(name: str) -> str:
    """The meta point id of collection ``name``."""
    return str(_uuid.uuid5(_uuid.NAMESPACE_URL, f"multivector-collection:{name}"))


_INDEX_TYPES = {
    DataType.TEXT: "keyword",
    DataType.UUID: "keyword",
    DataType.INT: "integer",
    DataType.NUMBER: "float",
    DataType.BOOL: "bool",
    DataType.DATE: "datetime",
}


class QdrantStore:
    """The meta store and physical-collection operations the Qdrant backend is built on."""

    def __init__(
        self,
        qdrant: QdrantClient,
        *,
        caller: QdrantCaller,
        local: bool,
        upsert_batch_size: int = DEFAULT_UPSERT_BATCH,
    ) -> None:
        self.qdrant = qdrant
        self.caller = caller
        self.local = local
        self.upsert_batch_size = upsert_batch_size
        self._meta_ready = False

    # ------------------------------------------------------------- meta store
    def _ensure_meta(self) -> None:
        if self._meta_ready:
            return
        if not self.caller.call("list collections", self.qdrant.collection_exists, META_COLLECTION):
            self.caller.call(
                "create the meta collection",
                self.qdrant.create_collection,
                META_COLLECTION,
                vectors_config={},
            )
        self._meta_ready = True

    def save_meta(self, meta: CollectionMeta) -> None:
        """Persist one collection's configuration and BM25 length totals."""
        from qdrant_client import models

        self._ensure_meta()
        point = models.PointStruct(
            id=meta_id(meta.config.name), vector={}, payload=meta.to_payload()
        )
        self.caller.call(
            "save collection config", self.qdrant.upsert, META_COLLECTION, [point], wait=True
        )

    def load_meta(self, name: str) -> CollectionMeta | None:
        """The stored meta of one collection (None when it is not recorded)."""
        self._ensure_meta()
        found = self.caller.call(
            "read collection config",
            self.qdrant.retrieve,
            META_COLLECTION,
            ids=[meta_id(name)],
            with_payload=True,
        )
        return CollectionMeta.from_payload(found[0].payload or {}) if found else None

    def _all_meta(self) -> dict[str, CollectionMeta]:
        self._ensure_meta()
        out: dict[str, CollectionMeta] = {}
        offset = None
        while True:
            points, offset = self.caller.call(
                "list collections",
                self.qdrant.scroll,
                META_COLLECTION,
                limit=256,
                offset=offset,
                with_payload=True,
            )
            for p in points:
                meta = CollectionMeta.from_payload(p.payload or {})
                out[meta.config.name] = meta
            if offset is None:
                return out

    # --------------------------------------------------- physical collections
    def vector_params(self, config: CollectionConfig) -> dict[str, models.VectorParams]:
        """Qdrant vector params of every space whose dimension is known."""
        from qdrant_client import models

        out = {}
        for vec in config.vectors:
            if vec.dimension is None:
                continue
            if vec.index.kind == "hnsw":
                hnsw = models.HnswConfigDiff(**dict(vec.index.params))
            else:
                hnsw = models.HnswConfigDiff(m=0)
            out[vec.name] = models.VectorParams(
                size=vec.dimension,
                distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM
                ),
                hnsw_config=hnsw,
                datatype=models.Datatype.FLOAT16
                if vec.dtype == "float16"
                else models.Datatype.FLOAT32,
            )
        return out

    def _create_physical(self, name: str, config: CollectionConfig) -> None:
        from qdrant_client import models

        from multivector.backends.qdrant.bm25 import SPARSE_VECTOR

        self.caller.call(
            f"create collection {name!r}",
            self.qdrant.create_collection,
            name,
            vectors_config=self.vector_params(config),
            sparse_vectors_config={
                SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
            },
        )

    def ensure_indexes(self, meta: CollectionMeta) -> None:
        """Payload indexes filters and ordering need (a server only: local mode has none)."""
        if self.local:
            return
        from multivector.backends.qdrant.bm25 import bm25_fields

        wanted = {"seq": "integer"}
        for prop in meta.config.properties:
            kind = _INDEX_TYPES.get(prop.data_type.element)
            if kind is not None and prop.index_filterable:
                wanted[f"p.{prop.name}"] = kind
        for prop in bm25_fields(meta.config):
            wanted[f"terms.{prop.name}"] = "keyword"
        info = self.caller.call("read collection info", self.qdrant.get_collection, meta.physical)
        have = set((info.payload_schema or {}).keys())
        for key, kind in wanted.items():
            if key not in have:
                self.caller.call(
                    f"create payload index {key!r}",
                    self.qdrant.create_payload_index,
                    meta.physical,
                    field_name=key,
                    field_schema=kind,
                    wait=True,
                )

    def recreate_physical(self, meta: CollectionMeta, config: CollectionConfig) -> None:
        """Drop and recreate an empty physical collection with ``config``'s vector spaces."""
        self.caller.call("recreate collection", self.qdrant.delete_collection, meta.physical)
        self._create_physical(meta.physical, config)

    def migrate_physical(self, meta: CollectionMeta, config: CollectionConfig) -> None:
        """Copy every point into a new physical collection with ``config``'s vector spaces."""
        new_name = f"{config.name}-g{meta.generation + 1}"
        if self.caller.call("check collection", self.qdrant.collection_exists, new_name):
            self.caller.call("drop stale copy", self.qdrant.delete_collection, new_name)
        self._create_physical(new_name, config)
        offset = None
        while True:
            points, offset = self.caller.call(
                "copy points",
                self.qdrant.scroll,
                meta.physical,
                limit=128,
                offset=offset,
                with_payload=True,
                with_vectors=True,
            )
            from qdrant_client import models

            self.upsert_points(
                new_name,
                [
                    models.PointStruct(id=p.id, vector=p.vector or {}, payload=p.payload)
                    for p in points
                ],
            )
            if offset is None:
                break
        old = meta.physical
        meta.physical, meta.generation = new_name, meta.generation + 1
        self.save_meta(meta)
        self.caller.call("drop old collection", self.qdrant.delete_collection, old)

    def upsert_points(self, physical: str, points: Sequence[models.PointStruct]) -> None:
        """Upsert in requests of bounded size, each retried on transient failures."""
        batch: list[models.PointStruct] = []
        floats = 0
        for point in points:
            size = _n_floats(point)
            if batch and (
                len(batch) >= self.upsert_batch_size or floats + size > _MAX_FLOATS_PER_REQUEST
            ):
                self._send(physical, batch)
                batch, floats = [], 0
            batch.append(point)
            floats += size
        if batch:
            self._send(physical, batch)

    def _send(self, physical: str, batch: list[models.PointStruct]) -> None:
        self.caller.call(
            f"upsert {len(batch)} objects", self.qdrant.upsert, physical, batch, wait=True
        )

    # ------------------------------------------------------------ protocol
