"""One multivector collection stored in a Qdrant collection (see ``docs/qdrant.md`` for the mapping).

Each named multi-vector space is a Qdrant named vector with ``MultiVectorConfig(MAX_SIM)`` and dot
distance, HNSW disabled (``m=0``) unless the space asks for ``hnsw``: Qdrant then scores exactly.
BM25 runs over one sparse vector with ``Modifier.IDF`` and is rescored exactly client-side
(:mod:`multivector.backends.qdrant.bm25`); filters become payload filters
(:mod:`multivector.backends.qdrant.filters`). A vector space's dimension can be fixed after creation
(by the first insert): the Qdrant collection is then recreated (empty) or migrated (copied).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from qdrant_client import models

from multivector.backends.protocol import Hit, ObjectRecord, SearchRequest
from multivector.backends.qdrant.bm25 import (
    SPARSE_VECTOR,
    DocTerms,
    doc_terms,
    query_terms,
    sparse_vector,
)
from multivector.backends.qdrant.keyword import TermStats, keyword_search
from multivector.backends.qdrant.payload import (
    BM25_KEY,
    CREATED_KEY,
    SEQ_KEY,
    TERMS_KEY,
    object_payload,
    point_id,
)
from multivector.backends.qdrant.read_view import QdrantReadView
from multivector.backends.qdrant.reads import NOTHING, PAGE, QdrantReads
from multivector.errors import CollectionNotFoundError, ConfigError, MultiVectorError
from multivector.schema.config import CollectionConfig
from multivector.schema.query import BM25OperatorSpec
from multivector.text.stopwords import Stopwords

if TYPE_CHECKING:
    from multivector.backends.qdrant.physical import CollectionMeta, QdrantStore

logger = logging.getLogger("multivector.qdrant")

__all__ = ["QdrantCollection"]


class QdrantCollection(QdrantReads):
    """The :class:`~multivector.backends.protocol.CollectionBackend` of one collection on Qdrant."""

    def __init__(self, owner: QdrantStore, meta: CollectionMeta) -> None:
        self._owner = owner
        self._meta = meta
        self._qc = owner.qdrant
        self._call = self._guarded_call
        self._stopwords = Stopwords.from_config(meta.config.inverted_index)
        self._next_seq: int | None = None
        self._stats = TermStats(scan_terms=self._scan_terms, count_term=self._count_term)
        #: Serialises this process's writes to the collection (read-modify-write included).
        self._write_lock = threading.RLock()
        self._dropped = False
        self._closed = False

    def close(self) -> None:
        """The client closed: every later call on this handle raises."""
        self._closed = True

    def _check_alive(self) -> None:
        if self._closed:
            raise ConfigError(
                f"the client of collection {self._meta.config.name!r} is closed; open a new one "
                "with multivector.connect_to_qdrant(...)"
            )
        if self._dropped:
            raise CollectionNotFoundError(
                f"collection {self._meta.config.name!r} was deleted; open it again with "
                f"client.collections.use({self._meta.config.name!r}) if it was re-created"
            )

    def _guarded_call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_alive()
        return self._owner.caller.call(what, fn, *args, **kwargs)  # serialised in local mode

    def drop(self) -> None:
        """Mark the collection deleted: every later call on this handle raises."""
        self._dropped = True

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """Exclusive access for one write verb in this process (Qdrant has no transactions
        across requests: writers in other processes are not serialised with this one).
        """
        with self._write_lock:
            self._check_alive()
            yield

    # ----------------------------------------------------------------- config
    @property
    def config(self) -> CollectionConfig:
        """The collection's configuration."""
        return self._meta.config

    @property
    def known_config(self) -> CollectionConfig:
        """The configuration as last seen (the same as :attr:`config`: kept in memory)."""
        return self._meta.config

    @property
    def physical_name(self) -> str:
        """The name of the Qdrant collection holding the points."""
        return self._meta.physical

    def set_config(self, config: CollectionConfig) -> None:
        """Replace the configuration; new vector dimensions reshape the Qdrant collection."""
        with self._write_lock:
            self._set_config(config)

    def _set_config(self, config: CollectionConfig) -> None:

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
        for start in range(0, len(pids), PAGE):
            found = self._call(
                "read existing objects",
                self._qc.retrieve,
                self.physical_name,
                ids=list(pids[start : start + PAGE]),
                with_payload=[CREATED_KEY, BM25_KEY, TERMS_KEY],
                with_vectors=False,
            )
            for p in found:
                out[str(p.id)] = dict(p.payload or {})
        return out

    def _adjust_lengths(self, old: dict[str, dict[str, Any]], sign: int) -> dict[str, int]:
        """The BM25 length totals with ``old`` objects' lengths added (``sign`` 1) or removed."""
        totals = dict(self._meta.total_len)
        for payload in old.values():
            for field, entry in (payload.get(BM25_KEY) or {}).items():
                totals[field] = totals.get(field, 0) + sign * int(entry.get("n", 0))
        return totals

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
        if not ok:  # the request failed, perhaps after some batches: count the stored lengths
            try:
                self._meta.total_len = self._stored_lengths()
            except MultiVectorError as exc:  # Qdrant unreachable: the write's own error matters
                logger.warning("could not recount BM25 lengths of %s: %s", self.physical_name, exc)
        self._owner.save_meta(self._meta)
        if ok:
            self._stats.apply(removed, added, version=self._meta.version)
        else:
            self._stats.invalidate()

    def _stored_lengths(self) -> dict[str, int]:
        """The BM25 length totals of the points as stored (after a write that failed)."""
        totals: dict[str, int] = {}
        for p in self._scan(None, [BM25_KEY], False):
            for field, entry in ((p.payload or {}).get(BM25_KEY) or {}).items():
                totals[field] = totals.get(field, 0) + int(entry.get("n", 0))
        return totals

    def upsert(self, records: Sequence[ObjectRecord]) -> None:
        """Insert or replace records with batched, retried upserts (one request per batch)."""
        with self._write_lock:
            self._upsert(records)

    def _upsert(self, records: Sequence[ObjectRecord]) -> None:

        # A repeated uuid: the last one wins, at its own position (so its insertion order).
        latest = {rec.uuid: rec for rec in reversed(list(records))}
        latest = dict(reversed(list(latest.items())))
        if not latest:
            return
        pids = [point_id(u) for u in latest]
        self._refresh_meta()
        old = self._old_points(pids)
        terms = [doc_terms(rec.properties, self.config) for rec in latest.values()]
        totals = self._adjust_lengths(old, -1)
        for dt in terms:
            for field, length in dt.lengths.items():
                totals[field] = totals.get(field, 0) + length
        n_after = self.count() - len(old) + len(latest)
        avgdl = {f: t / n_after for f, t in totals.items()} if n_after else {}
        now = time.time()
        seq = self._seq(len(latest))
        points = [
            self._point(
                rec,
                pid=pid,
                terms=dt,
                avgdl=avgdl,
                payload=object_payload(
                    rec.uuid,
                    rec.properties,
                    dt,
                    seq=seq + i,
                    created=old.get(pid, {}).get(CREATED_KEY, now),
                    updated=now,
                ),
            )
            for i, (rec, pid, dt) in enumerate(zip(latest.values(), pids, terms))
        ]
        self._meta.total_len = totals
        removed = [p.get(TERMS_KEY) or {} for p in old.values()]
        added = [dict(p.payload[TERMS_KEY]) for p in points if p.payload]
        ok = False
        try:
            self._owner.upsert_points(self.physical_name, points)
            ok = True
        finally:
            self._changed(removed, added, ok=ok)

    def _point(
        self,
        rec: ObjectRecord,
        *,
        pid: str,
        terms: DocTerms,
        avgdl: dict[str, float],
        payload: dict[str, Any],
    ) -> models.PointStruct:
        physical = self._owner.vector_params(self.config)
        vectors: dict[str, Any] = {}
        for name, matrix in rec.vectors.items():
            vec = self.config.vector(name)
            if name not in physical or vec is None:
                raise ConfigError(
                    f"vector {name!r} of {self.config.name!r} has no dimension yet; "
                    "insert through collection.data / collection.batch"
                )
            if vec.dtype == "float16":  # stored as the embedded arena stores it
                matrix = matrix.astype(np.float16).astype(np.float32)
            vectors[name] = matrix.tolist()
        sparse = sparse_vector(terms, avgdl=avgdl, inv=self.config.inverted_index)
        if sparse is not None:
            vectors[SPARSE_VECTOR] = sparse
        return models.PointStruct(id=pid, vector=vectors, payload=payload)

    def delete(self, uuids: Sequence[str]) -> int:
        """Delete objects; returns how many existed."""
        with self._write_lock:
            return self._delete(uuids)

    def _delete(self, uuids: Sequence[str]) -> int:

        pids = list(dict.fromkeys(point_id(u) for u in uuids))
        self._refresh_meta()
        old = self._old_points(pids)
        if not old:
            return 0
        self._meta.total_len = self._adjust_lengths(old, -1)
        ids = list(old)
        ok = False
        try:
            for start in range(0, len(ids), PAGE * 4):
                self._call(
                    "delete objects",
                    self._qc.delete,
                    self.physical_name,
                    points_selector=models.PointIdsList(points=ids[start : start + PAGE * 4]),  # type: ignore[arg-type]
                    wait=True,
                )
            ok = True
        finally:
            self._changed([p.get(TERMS_KEY) or {} for p in old.values()], [], ok=ok)
        return len(old)

    def compact(self) -> None:
        """Nothing to do: Qdrant's optimizers vacuum deleted points themselves."""

    # ---------------------------------------------------------------- searches
    def _keyword_hits(
        self,
        query: str,
        *,
        properties: Sequence[tuple[str, float]],
        limit: int,
        native: models.Filter | None,
        operator: BM25OperatorSpec,
    ) -> list[Hit]:
        """BM25 top-``limit``: Qdrant draws an oversampled candidate pool, scored exactly here."""
        if limit <= 0 or native is NOTHING:
            return []
        if not query_terms(query, properties, self.config, self._stopwords):
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

    def search(self, request: SearchRequest) -> QdrantReadView:
        """Run a search's legs with the filter translated once; objects are fetched live after."""
        native = self._native(request.filters)
        vector_hits = keyword_hits = None
        if request.vector is not None:
            vq = request.vector
            vector_hits = self._vector_hits(vq.target, vq.matrix, limit=vq.limit, native=native)
        if request.keyword is not None:
            kq = request.keyword
            keyword_hits = self._keyword_hits(
                kq.text,
                properties=kq.properties,
                limit=kq.limit,
                native=native,
                operator=kq.operator,
            )
        return QdrantReadView(self, request.vector, vector_hits, keyword_hits)

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
