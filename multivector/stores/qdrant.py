"""The Qdrant scale-out backend: the same ``Client`` as ``multivector.connect``, on Qdrant.

``multivector.connect_to_qdrant(url=...)`` (a server or cluster) or
``connect_to_qdrant(location=":memory:")`` / ``path=...`` (qdrant-client's in-process mode) returns
a :class:`~multivector.Client` whose collections live in Qdrant; nothing above the store protocol
knows the difference. Each collection's configuration (JSON) lives in the small Qdrant collection
``_multivector_meta``, so a reopened server lists and opens its collections again. The mapping and
what differs from the embedded store are written down in ``docs/qdrant.md``.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multivector.config import CollectionConfig, DataType
from multivector.errors import (
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    OptionalDependencyError,
)
from multivector.stores.qdrant_io import QdrantCaller, check_server_version, redact_url

if TYPE_CHECKING:
    from qdrant_client import QdrantClient, models

    from multivector.stores.qdrant_collection import QdrantCollection

__all__ = ["META_COLLECTION", "CollectionMeta", "QdrantClientBackend", "open_qdrant_client"]

#: The Qdrant collection holding every collection's configuration (not a valid collection name).
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


def _meta_id(name: str) -> str:
    return str(_uuid.uuid5(_uuid.NAMESPACE_URL, f"multivector-collection:{name}"))


_INDEX_TYPES = {
    DataType.TEXT: "keyword",
    DataType.UUID: "keyword",
    DataType.INT: "integer",
    DataType.NUMBER: "float",
    DataType.BOOL: "bool",
    DataType.DATE: "datetime",
}


class QdrantClientBackend:
    """The :class:`~multivector.stores.protocol.ClientBackend` over one ``QdrantClient``."""

    def __init__(
        self,
        qdrant: QdrantClient,
        *,
        caller: QdrantCaller,
        local: bool,
        description: Mapping[str, Any],
        upsert_batch_size: int = DEFAULT_UPSERT_BATCH,
    ) -> None:
        self.qdrant = qdrant
        self.caller = caller
        self.local = local
        self.upsert_batch_size = upsert_batch_size
        self._description = dict(description)
        self._handles: dict[str, QdrantCollection] = {}
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
            id=_meta_id(meta.config.name), vector={}, payload=meta.to_payload()
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
            ids=[_meta_id(name)],
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

        from multivector.stores.qdrant_bm25 import SPARSE_VECTOR

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
        from multivector.stores.qdrant_bm25 import bm25_fields

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
    def create_collection(self, config: CollectionConfig) -> QdrantCollection:
        """Create the Qdrant collection and record its configuration."""
        from multivector.stores.qdrant_collection import QdrantCollection

        if self.caller.call("check collection", self.qdrant.collection_exists, config.name):
            raise CollectionExistsError(
                f"Qdrant already holds a collection named {config.name!r} that multivector did not "
                "create; delete it in Qdrant or choose another name"
            )
        self._ensure_meta()
        self._create_physical(config.name, config)
        meta = CollectionMeta(config=config, physical=config.name)
        self.ensure_indexes(meta)
        self.save_meta(meta)
        handle = QdrantCollection(self, meta)
        self._handles[config.name] = handle
        return handle

    def open_collection(self, name: str) -> QdrantCollection:
        """Open a collection recorded in ``_multivector_meta``."""
        from multivector.stores.qdrant_collection import QdrantCollection

        metas = self._all_meta()
        meta = metas.get(name)
        if meta is None:
            self._handles.pop(name, None)
            raise CollectionNotFoundError(
                f"no collection named {name!r} in Qdrant at {self._where}"
            )
        handle = self._handles.get(name)
        if handle is None or handle.physical_name != meta.physical:
            handle = QdrantCollection(self, meta)
            self._handles[name] = handle
        return handle

    def list_collections(self) -> dict[str, CollectionConfig]:
        """Every collection's configuration, by name."""
        return {name: meta.config for name, meta in self._all_meta().items()}

    def delete_collection(self, name: str) -> None:
        """Delete a collection's points and its configuration."""
        meta = self._all_meta().get(name)
        self._handles.pop(name, None)
        if meta is None:
            return
        from qdrant_client import models

        if self.caller.call("check collection", self.qdrant.collection_exists, meta.physical):
            self.caller.call("delete collection", self.qdrant.delete_collection, meta.physical)
        self.caller.call(
            "delete collection config",
            self.qdrant.delete,
            META_COLLECTION,
            points_selector=models.PointIdsList(points=[_meta_id(name)]),
            wait=True,
        )

    def backup(self, dest: str | Path) -> None:
        """Qdrant backs up with its own snapshots; see docs/qdrant.md."""
        raise ConfigError(
            f"backup({str(dest)!r}) is not available on the Qdrant backend; use Qdrant snapshots "
            "(QdrantClient.create_snapshot / the server's snapshot API) for both the collections "
            f"and {META_COLLECTION!r}"
        )

    def close(self) -> None:
        """Close the Qdrant connection."""
        self._handles.clear()
        self.qdrant.close()

    @property
    def _where(self) -> str:
        return str(self._description.get("url") or self._description.get("location") or "")

    def describe(self) -> Mapping[str, Any]:
        """Backend name and location (no credentials)."""
        return dict(self._description)


def open_qdrant_client(
    url: str | None = None,
    api_key: str | None = None,
    location: str | None = None,
    path: str | Path | None = None,
    **client_options: Any,
) -> QdrantClientBackend:
    """Connect to Qdrant and return the backend ``multivector.connect_to_qdrant`` wraps.

    ``url`` is a server or cluster (``"http://localhost:6333"``); ``location=":memory:"`` or
    ``path=...`` run qdrant-client's in-process mode. ``client_options`` go to ``QdrantClient``
    (``timeout``, ``prefer_grpc``, ``https``, ...) except two of ours: ``max_retries`` (transient
    failures, default 3) and ``upsert_batch_size`` (points per request, default 256). A server
    is asked for its version at once: unreachable, unauthorised or too old raises BackendError.
    """
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise OptionalDependencyError("qdrant-client", "qdrant") from None
    max_retries = int(client_options.pop("max_retries", 3))
    batch_size = int(client_options.pop("upsert_batch_size", DEFAULT_UPSERT_BATCH))
    if batch_size < 1 or max_retries < 0:
        raise ConfigError(
            f"upsert_batch_size must be >= 1 and max_retries >= 0, got {batch_size} and {max_retries}"
        )
    given = [name for name, v in (("url", url), ("location", location), ("path", path)) if v]
    if len(given) > 1 or (not given and "host" not in client_options):
        raise ConfigError(
            f"connect_to_qdrant: pass exactly one of url=..., location=':memory:' or path=... "
            f"(got {given or 'none'})"
        )
    local = path is not None or location == ":memory:"
    where = "memory" if location == ":memory:" else str(path or redact_url(url or location))
    if client_options.get("host"):
        where = str(client_options["host"])
    caller = QdrantCaller(where=where, secret=api_key, max_retries=max_retries)
    if not local:
        client_options.setdefault("check_compatibility", False)
    qdrant = caller.call(
        "connect",
        QdrantClient,
        url=url,
        api_key=api_key,
        location=location,
        path=str(path) if path is not None else None,
        **client_options,
    )
    if not local:
        info = caller.call("read the server version", qdrant.info)
        check_server_version(str(info.version), where=where)
    description = {
        "backend": "qdrant",
        "url": redact_url(url),
        "location": location,
        "path": str(path) if path is not None else None,
    }
    return QdrantClientBackend(
        qdrant,
        caller=caller,
        local=local,
        description=description,
        upsert_batch_size=batch_size,
    )
