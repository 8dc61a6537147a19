"""One multivector collection stored in a Qdrant collection (see ``docs/qdrant.md`` for the mapping).

Each named multi-vector space is a Qdrant named vector with ``MultiVectorConfig(MAX_SIM)`` and dot
distance, HNSW disabled (``m=0``) unless the space asks for ``hnsw``: Qdrant then scores exactly.
BM25 runs over one sparse vector with ``Modifier.IDF`` and is rescored exactly client-side
(:mod:`multivector.stores.qdrant_bm25`); filters become payload filters
(:mod:`multivector.stores.qdrant_filters`). A vector space's dimension can be fixed after creation
(by the first insert): the Qdrant collection is then recreated (empty) or migrated (copied).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from qdrant_client import models

from multivector._types import F32Array
from multivector.config import CollectionConfig
from multivector.errors import ConfigError
from multivector.query import BM25OperatorSpec, FilterNode
from multivector.stores.filters import matches
from multivector.stores.protocol import Hit, ObjectRecord, StoredObject
from multivector.stores.qdrant_bm25 import (
    SPARSE_VECTOR,
    bm25_fields,
    doc_terms,
    query_terms,
    sparse_vector,
)
from multivector.stores.qdrant_filters import translate
from multivector.stores.qdrant_keyword import TermStats, keyword_search
from multivector.stores.qdrant_payload import (
    BM25_KEY,
    CREATED_KEY,
    ID_KEY,
    PROPS_KEY,
    SEQ_KEY,
    TERMS_KEY,
    UPDATED_KEY,
    decode_properties,
    encode_properties,
    point_id,
)
from multivector.stores.stopwords import Stopwords

if TYPE_CHECKING:
    from multivector.stores.qdrant import CollectionMeta, QdrantClientBackend

__all__ = ["QdrantCollection"]

_PAGE = 256
#: A filter that matches nothing (a client-side residual that no object passed).
_NOTHING = models.Filter(must=[models.HasIdCondition(has_id=[])])


class QdrantCollection:
    """The :class:`~multivector.stores.protocol.CollectionBackend` of one collection on Qdrant."""

    def __init__(self, owner: QdrantClientBackend, meta: CollectionMeta) -> None:
        self._owner = owner
        self._meta = meta
        self._qc = owner.qdrant
        self._call = owner.caller.call
        self._stopwords = Stopwords.from_config(meta.config.inverted_index)
        self._next_seq: int | None = None
        self._stats = TermStats(scan_terms=self._scan_terms, count_term=self._count_term)

    # ----------------------------------------------------------------- config
    @property
    def config(self) -> CollectionConfig:
        """The collection's configuration."""
        return self._meta.config

    @property
    def physical_name(self) -> str:
        """The name of the Qdrant collection holding the points."""
        return self._meta.physical

    def set_config(self, config: CollectionConfig) -> None:
        """Replace the configuration; new vector dimensions reshape the Qdrant collection."""
        wanted = set(self._owner.vector_params(config))
        if not wanted <= set(self._owner.vector_params(self._meta.config)):
            if self.count() == 0:
                self._owner.recreate_physical(self._meta, config)
            else:
                self._owner.migrate_physical(self._meta, config)
        self._meta.config = config
        self._owner.ensure_indexes(self._meta)
        self._owner.save_meta(self._meta)

    # ------------------------------------------------------------------ writes
    def count(self) -> int:
        """Number of live objects (an exact Qdrant count)."""
        return int(self._call("count", self._qc.count, self.physical_name, exact=True).count)

    def _seq(self, n: int) -> int:
        if self._next_seq is None:
            points, _ = self._call(
                "read the insertion counter",
                self._qc.scroll,
                self.physical_name,
                limit=1,
                order_by=models.OrderBy(key=SEQ_KEY, direction=models.Direction.DESC),
                with_payload=[SEQ_KEY],
            )
            self._next_seq = int((points[0].payload or {}).get(SEQ_KEY, -1)) + 1 if points else 0
        first = self._next_seq
        self._next_seq += n
        return first

    def _old_points(self, pids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(pids), _PAGE):
            found = self._call(
                "read existing objects",
                self._qc.retrieve,
                self.physical_name,
                ids=list(pids[start : start + _PAGE]),
                with_payload=[CREATED_KEY, BM25_KEY, TERMS_KEY],
                with_vectors=False,
            )
            for p in found:
                out[str(p.id)] = dict(p.payload or {})
        return out

    def _adjust_lengths(self, old: dict[str, dict[str, Any]], sign: int) -> None:
        totals = self._meta.total_len
        for payload in old.values():
            for field, entry in (payload.get(BM25_KEY) or {}).items():
                totals[field] = totals.get(field, 0) + sign * int(entry.get("n", 0))

    def _refresh_meta(self) -> None:
        """Take BM25 length totals and the write version from the stored meta (other writers)."""
        stored = self._owner.load_meta(self.config.name)
        if stored is not None and stored.version != self._meta.version:
            self._meta.total_len = stored.total_len
            self._meta.version = stored.version

    def _changed(
        self, removed: list[dict[str, Any]], added: list[dict[str, Any]], *, ok: bool
    ) -> None:
        self._meta.version += 1
        self._owner.save_meta(self._meta)
        if ok:
            self._stats.apply(removed, added, version=self._meta.version)
        else:
            self._stats.invalidate()

    def upsert(self, records: Sequence[ObjectRecord]) -> None:
        """Insert or replace records with batched, retried upserts (one request per batch)."""
        latest = {rec.uuid: rec for rec in records}  # a repeated uuid: the last one wins
        if not latest:
            return
        config = self.config
        physical = set(self._owner.vector_params(config))
        pids = [point_id(u) for u in latest]
        self._refresh_meta()
        old = self._old_points(pids)
        n_after = self.count() - len(old) + len(latest)
        self._adjust_lengths(old, -1)
        terms = {u: doc_terms(rec.properties, config) for u, rec in latest.items()}
        totals = self._meta.total_len
        for dt in terms.values():
            for field, length in dt.lengths.items():
                totals[field] = totals.get(field, 0) + length
        avgdl = {f: t / n_after for f, t in totals.items()} if n_after else {}
        now = time.time()
        seq = self._seq(len(latest))
        points = []
        for i, (uuid, rec) in enumerate(latest.items()):
            pid = pids[i]
            vectors: dict[str, Any] = {}
            for name, matrix in rec.vectors.items():
                if name not in physical:
                    raise ConfigError(
                        f"vector {name!r} of {config.name!r} has no dimension yet; "
                        "insert through collection.data / collection.batch"
                    )
                vectors[name] = self._stored_matrix(name, matrix).tolist()
            dt = terms[uuid]
            sparse = sparse_vector(dt, avgdl=avgdl, inv=config.inverted_index)
            if sparse is not None:
                vectors[SPARSE_VECTOR] = sparse
            created = old.get(pid, {}).get(CREATED_KEY, now)
            payload = {
                ID_KEY: uuid,
                SEQ_KEY: seq + i,
                CREATED_KEY: created,
                UPDATED_KEY: now,
                PROPS_KEY: encode_properties(rec.properties),
                BM25_KEY: {
                    f: {"n": dt.lengths[f], "tf": dict(c)} for f, c in dt.counts.items() if c
                },
                TERMS_KEY: {f: list(c) for f, c in dt.counts.items() if c},
            }
            points.append(models.PointStruct(id=pid, vector=vectors, payload=payload))
        removed = [p.get(TERMS_KEY) or {} for p in old.values()]
        added = [dict(p.payload[TERMS_KEY]) for p in points if p.payload]
        ok = False
        try:
            self._owner.upsert_points(self.physical_name, points)
            ok = True
        finally:
            self._changed(removed, added, ok=ok)

    def _stored_matrix(self, name: str, matrix: F32Array) -> F32Array:
        vec = self.config.vector(name)
        if vec is not None and vec.dtype == "float16":
            return matrix.astype(np.float16).astype(np.float32)
        return matrix

    def delete(self, uuids: Sequence[str]) -> int:
        """Delete objects; returns how many existed."""
        pids = list(dict.fromkeys(point_id(u) for u in uuids))
        self._refresh_meta()
        old = self._old_points(pids)
        if not old:
            return 0
        self._adjust_lengths(old, -1)
        ids = list(old)
        ok = False
        try:
            for start in range(0, len(ids), _PAGE * 4):
                self._call(
                    "delete objects",
                    self._qc.delete,
                    self.physical_name,
                    points_selector=models.PointIdsList(points=ids[start : start + _PAGE * 4]),  # type: ignore[arg-type]
                    wait=True,
                )
            ok = True
        finally:
            self._changed([p.get(TERMS_KEY) or {} for p in old.values()], [], ok=ok)
        return len(old)

    def compact(self) -> None:
        """Nothing to do: Qdrant's optimizers vacuum deleted points themselves."""

    # ------------------------------------------------------------------- reads
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
        for start in range(0, len(unique), _PAGE):
            found = self._call(
                "read objects",
                self._qc.retrieve,
                self.physical_name,
                ids=unique[start : start + _PAGE],
                with_payload=[ID_KEY, CREATED_KEY, UPDATED_KEY, PROPS_KEY],
                with_vectors=self._dense_selector(include_vector),
            )
            by_id.update({str(p.id): p for p in found})
        return [self._stored(by_id[pid], include_vector) if pid in by_id else None for pid in pids]

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
                limit=_PAGE,
                order_by=models.OrderBy(
                    key=SEQ_KEY, direction=models.Direction.ASC, start_from=start
                ),
                with_payload=[SEQ_KEY, *payload],
                with_vectors=with_vectors,
            )
            yield from points
            if len(points) < _PAGE:
                return
            start = int((points[-1].payload or {})[SEQ_KEY]) + 1

    def native_filter(self, filters: FilterNode | None) -> models.Filter | None:
        """An exact native filter for a validated filter tree (None: no filter)."""
        return self._native(filters)

    def is_nothing(self, native: models.Filter | None) -> bool:
        """Whether ``native`` is the filter that matches no object."""
        return native is _NOTHING

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
        return models.Filter(must=[models.HasIdCondition(has_id=ids)]) if ids else _NOTHING

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
        if native is _NOTHING or limit == 0:
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
        if native is _NOTHING:
            return []
        return [str((p.payload or {}).get(ID_KEY)) for p in self._scan(native, [ID_KEY], False)]

    # ---------------------------------------------------------------- searches
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

    def vector_search(
        self, target_vector: str, query: F32Array, *, limit: int, filters: FilterNode | None
    ) -> list[Hit]:
        """Exact MaxSim top-``limit`` (Qdrant scores, ties broken by uuid)."""
        if not self._check_target(target_vector) or limit <= 0:
            return []
        native = self._native(filters)
        if native is _NOTHING:
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

    def keyword_search(
        self,
        query: str,
        *,
        properties: Sequence[tuple[str, float]],
        limit: int,
        filters: FilterNode | None,
        operator: BM25OperatorSpec,
    ) -> list[Hit]:
        """BM25 top-``limit``: Qdrant draws an oversampled candidate pool, scored exactly here."""
        if limit <= 0 or not query_terms(query, properties, self.config, self._stopwords):
            return []
        native = self._native(filters)
        if native is _NOTHING:
            return []
        self._refresh_meta()
        n_docs = self.count()
        self._stats.sync(self._meta.version, n_docs)
        return keyword_search(
            query,
            config=self.config,
            stopwords=self._stopwords,
            properties=properties,
            limit=limit,
            native=native,
            operator=operator,
            run_query=lambda **kw: self._call(
                "keyword search", self._qc.query_points, self.physical_name, **kw
            ),
            n_docs=n_docs,
            total_len=self._meta.total_len,
            stats=self._stats,
        )

    def _scan_terms(self) -> Iterator[dict[str, Any]]:
        for p in self._scan(None, [TERMS_KEY], False):
            yield (p.payload or {}).get(TERMS_KEY) or {}

    def _count_term(self, field: str, term: str) -> int:
        cond = models.FieldCondition(
            key=f"{TERMS_KEY}.{field}", match=models.MatchValue(value=term)
        )
        result = self._call(
            "count term frequencies",
            self._qc.count,
            self.physical_name,
            count_filter=models.Filter(must=[cond]),
            exact=True,
        )
        return int(result.count)

    def bm25_fields(self) -> list[str]:
        """Names of the fields BM25 searches."""
        return [p.name for p in bm25_fields(self.config)]
