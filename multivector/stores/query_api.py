"""``collection.query``: fetch, near_vector, near_text, bm25 and hybrid, sync and async.

The searches share one core per verb; the async twins differ only in how the query text is
embedded (the embedder's async method, or a worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from multivector._types import F32Array
from multivector.config import VectorConfig
from multivector.errors import ConfigError
from multivector.query import BM25OperatorSpec, FilterNode, HybridFusion, MetadataQuery
from multivector.results import (
    LegExplanation,
    MetadataReturn,
    Object,
    QueryReturn,
    ScoreExplanation,
)
from multivector.stores.hybrid import KEYWORD_LEG, run_hybrid
from multivector.stores.protocol import Hit, StoredObject
from multivector.stores.query_args import (
    check_int as _check_int,
)
from multivector.stores.query_args import (
    cut as _cut,
)
from multivector.stores.query_args import (
    hybrid_args as _hybrid_args,
)
from multivector.stores.query_args import (
    hybrid_meta as _hybrid_meta,
)
from multivector.stores.query_args import (
    parse_properties as _parse_properties,
)
from multivector.stores.query_args import (
    query_text as _query_text,
)
from multivector.stores.query_args import (
    timestamp as _timestamp,
)
from multivector.stores.query_args import (
    vector_defaults as _vector_defaults,
)
from multivector.stores.validation import validate_matrix, validate_uuid

if TYPE_CHECKING:
    from multivector.stores.collection import Collection

__all__ = ["QueryAPI"]


class QueryAPI:
    """Searches over one collection; results are ``QueryReturn(objects=[Object, ...])``."""

    def __init__(self, collection: Collection) -> None:
        self._col = collection

    # ------------------------------------------------------------ plumbing
    def _objects(
        self,
        uuids: Sequence[str],
        meta: Sequence[MetadataReturn],
        *,
        include_vector: bool | Sequence[str],
        return_properties: Sequence[str] | None,
    ) -> QueryReturn:
        stored = self._col.backend.get(list(uuids), include_vector=bool(include_vector))
        objects = []
        for obj, md in zip(stored, meta):
            if obj is not None:
                objects.append(self._to_object(obj, md, include_vector, return_properties))
        return QueryReturn(objects)

    def _to_object(
        self,
        obj: StoredObject,
        md: MetadataReturn,
        include_vector: bool | Sequence[str],
        return_properties: Sequence[str] | None,
    ) -> Object:
        names = include_vector if not isinstance(include_vector, bool) else None
        vectors = {
            name: m.tolist()
            for name, m in obj.vectors.items()
            if include_vector and (names is None or name in names)
        }
        props = (
            obj.properties
            if return_properties is None
            else {k: v for k, v in obj.properties.items() if k in return_properties}
        )
        md.creation_time = _timestamp(obj.creation_time)
        md.last_update_time = _timestamp(obj.update_time)
        return Object(
            uuid=obj.uuid, properties=props, metadata=md, vector=vectors, collection=self._col.name
        )

    def _query_matrix(self, vec: VectorConfig, value: Any) -> F32Array:
        if isinstance(value, Mapping):
            raise ConfigError(
                "pass the query matrix itself and name its space with target_vector=..."
            )
        return validate_matrix(value, where="query", dimension=vec.dimension)

    def _embedder(self, vec: VectorConfig) -> Any:
        embedder = self._col.embedder(vec.name)
        if embedder is None:
            raise ConfigError(
                f"vector {vec.name!r} of {self._col.name!r} is self-provided, so a text query cannot be "
                "embedded; pass the query matrix (near_vector(...) or hybrid(..., vector=matrix)) or "
                "configure the space with Configure.MultiVectors.text2vec(...) / text2vec_jinaai(...)"
            )
        return embedder

    def _embed_query(self, vec: VectorConfig, text: str) -> F32Array:
        return self._query_matrix(vec, self._embedder(vec).embed_query(text))

    async def _aembed_query(self, vec: VectorConfig, text: str) -> F32Array:
        embedder = self._embedder(vec)
        native = getattr(embedder, "aembed_query", None)
        raw = (
            await native(text)
            if native is not None
            else await asyncio.to_thread(embedder.embed_query, text)
        )
        return self._query_matrix(vec, raw)

    # --------------------------------------------------------------- fetch
    def fetch_objects(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        filters: FilterNode | None = None,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        return_metadata: MetadataQuery | None = None,
    ) -> QueryReturn:
        """Objects in insertion order (all of them when ``limit`` is None), optionally filtered."""
        if limit is not None:
            _check_int("limit", limit, 0)
        _check_int("offset", offset, 0)
        stored = self._col.backend.fetch(
            limit=limit,
            offset=offset,
            filters=self._col.check_filter(filters),
            include_vector=bool(include_vector),
        )
        return QueryReturn(
            [
                self._to_object(o, MetadataReturn(), include_vector, return_properties)
                for o in stored
            ]
        )

    def fetch_object_by_id(
        self,
        uuid: Any,
        *,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        return_metadata: MetadataQuery | None = None,
    ) -> Object | None:
        """One object, or None when it does not exist."""
        found = self._col.backend.get([validate_uuid(uuid)], include_vector=bool(include_vector))[0]
        if found is None:
            return None
        return self._to_object(found, MetadataReturn(), include_vector, return_properties)

    def fetch_objects_by_ids(
        self, uuids: Sequence[Any], *, include_vector: bool | Sequence[str] = False
    ) -> QueryReturn:
        """The existing objects among ``uuids``, in the order given."""
        ids = [validate_uuid(u) for u in uuids]
        return self._objects(
            ids,
            [MetadataReturn() for _ in ids],
            include_vector=include_vector,
            return_properties=None,
        )

    # --------------------------------------------------------- near_vector
    def _vector_core(
        self,
        vec: VectorConfig,
        matrix: F32Array,
        *,
        limit: int,
        offset: int,
        filters: FilterNode | None,
        distance: float | None,
        auto_limit: int | None,
        include_vector: bool | Sequence[str],
        return_properties: Sequence[str] | None,
    ) -> QueryReturn:
        _check_int("limit", limit, 1)
        _check_int("offset", offset, 0)
        if auto_limit is not None:
            _check_int("auto_limit", auto_limit, 1)
        hits = self._col.backend.vector_search(
            vec.name, matrix, limit=limit + offset, filters=self._col.check_filter(filters)
        )
        if distance is not None:
            hits = [h for h in hits if -h.score <= distance]
        hits = hits[: _cut([h.score for h in hits], auto_limit)][offset:]
        meta = [MetadataReturn(distance=-h.score, score=h.score) for h in hits]
        return self._objects(
            [h.uuid for h in hits],
            meta,
            include_vector=include_vector,
            return_properties=return_properties,
        )

    def near_vector(
        self,
        near_vector: Any,
        *,
        target_vector: str | None = None,
        limit: int = 10,
        offset: int = 0,
        filters: FilterNode | None = None,
        distance: float | None = None,
        auto_limit: int | None = None,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        return_metadata: MetadataQuery | None = None,
    ) -> QueryReturn:
        """Exact MaxSim search with a query matrix; ``metadata.distance`` is -MaxSim."""
        if isinstance(near_vector, Mapping) and len(near_vector) == 1 and target_vector is None:
            target_vector, near_vector = next(iter(near_vector.items()))
        vec = self._col.resolve_target(target_vector)
        matrix = self._query_matrix(vec, near_vector)
        return self._vector_core(
            vec,
            matrix,
            limit=limit,
            offset=offset,
            filters=filters,
            distance=distance,
            auto_limit=auto_limit,
            include_vector=include_vector,
            return_properties=return_properties,
        )

    def near_text(
        self,
        query: str,
        *,
        target_vector: str | None = None,
        limit: int = 10,
        offset: int = 0,
        filters: FilterNode | None = None,
        distance: float | None = None,
        auto_limit: int | None = None,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        return_metadata: MetadataQuery | None = None,
    ) -> QueryReturn:
        """Embed ``query`` with the space's embedder (as a query) and search with MaxSim."""
        vec = self._col.resolve_target(target_vector)
        matrix = self._embed_query(vec, _query_text(query))
        return self._vector_core(
            vec,
            matrix,
            limit=limit,
            offset=offset,
            filters=filters,
            distance=distance,
            auto_limit=auto_limit,
            include_vector=include_vector,
            return_properties=return_properties,
        )

    async def anear_text(self, query: str, **kwargs: Any) -> QueryReturn:
        """Async :meth:`near_text` (the embedder's async method when it has one)."""
        vec = self._col.resolve_target(kwargs.pop("target_vector", None))
        matrix = await self._aembed_query(vec, _query_text(query))
        kwargs.pop("return_metadata", None)
        return self._vector_core(vec, matrix, **_vector_defaults(kwargs))

    # ---------------------------------------------------------------- bm25
    def _keyword_hits(
        self,
        query: str,
        *,
        properties: Sequence[tuple[str, float]],
        limit: int,
        filters: FilterNode | None,
        operator: BM25OperatorSpec | None,
    ) -> list[Hit]:
        if not isinstance(query, str):
            raise ConfigError(f"the keyword query must be a str, got {type(query).__name__}")
        return self._col.backend.keyword_search(
            query,
            properties=properties,
            limit=limit,
            filters=filters,
            operator=operator or BM25OperatorSpec("or", 1),
        )

    def bm25(
        self,
        query: str,
        *,
        query_properties: Sequence[str] | None = None,
        limit: int = 10,
        offset: int = 0,
        filters: FilterNode | None = None,
        operator: BM25OperatorSpec | None = None,
        auto_limit: int | None = None,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        return_metadata: MetadataQuery | None = None,
    ) -> QueryReturn:
        """BM25 keyword search; ``query_properties`` accepts boosts such as ``["title^2", "text"]``."""
        _check_int("limit", limit, 1)
        _check_int("offset", offset, 0)
        if auto_limit is not None:
            _check_int("auto_limit", auto_limit, 1)
        hits = self._keyword_hits(
            query,
            properties=_parse_properties(query_properties, self._col),
            limit=limit + offset,
            filters=self._col.check_filter(filters),
            operator=operator,
        )
        hits = hits[: _cut([h.score for h in hits], auto_limit)][offset:]
        meta = [
            MetadataReturn(
                score=h.score,
                explain_score=ScoreExplanation(
                    "bm25", (LegExplanation(KEYWORD_LEG, h.score, h.score, 1.0, i + offset),)
                ),
            )
            for i, h in enumerate(hits)
        ]
        return self._objects(
            [h.uuid for h in hits],
            meta,
            include_vector=include_vector,
            return_properties=return_properties,
        )

    # -------------------------------------------------------------- hybrid
    def _hybrid_core(
        self,
        query: str,
        vec: VectorConfig | None,
        matrix: F32Array | None,
        *,
        alpha: float,
        fusion: HybridFusion,
        limit: int,
        offset: int,
        filters: FilterNode | None,
        query_properties: Sequence[str] | None,
        max_vector_distance: float | None,
        auto_limit: int | None,
        bm25_operator: BM25OperatorSpec | None,
        include_vector: bool | Sequence[str],
        return_properties: Sequence[str] | None,
    ) -> QueryReturn:
        fused = run_hybrid(
            self._col,
            query,
            vec,
            matrix,
            alpha=alpha,
            fusion=fusion,
            limit=limit,
            offset=offset,
            filters=self._col.check_filter(filters),
            properties=_parse_properties(query_properties, self._col),
            max_vector_distance=max_vector_distance,
            auto_limit=auto_limit,
            bm25_operator=bm25_operator,
        )
        meta = [_hybrid_meta(h) for h in fused]
        return self._objects(
            [h.uuid for h in fused],
            meta,
            include_vector=include_vector,
            return_properties=return_properties,
        )

    def _hybrid_args(
        self, alpha: object, fusion_type: object, limit: int, offset: int, auto_limit: int | None
    ) -> tuple[float, HybridFusion]:
        return _hybrid_args(alpha, fusion_type, limit, offset, auto_limit)

    def hybrid(
        self,
        query: str,
        *,
        alpha: float = 0.75,
        vector: Any = None,
        target_vector: str | None = None,
        fusion_type: HybridFusion | str = HybridFusion.RELATIVE_SCORE,
        limit: int = 10,
        offset: int = 0,
        filters: FilterNode | None = None,
        query_properties: Sequence[str] | None = None,
        max_vector_distance: float | None = None,
        auto_limit: int | None = None,
        bm25_operator: BM25OperatorSpec | None = None,
        include_vector: bool | Sequence[str] = False,
        return_properties: Sequence[str] | None = None,
        return_metadata: MetadataQuery | None = None,
    ) -> QueryReturn:
        """Weaviate-style hybrid search: MaxSim leg (weight ``alpha``) fused with BM25 (``1 - alpha``)."""
        a, fusion = self._hybrid_args(alpha, fusion_type, limit, offset, auto_limit)
        vec, matrix = None, None
        if a > 0 or max_vector_distance is not None:
            vec = self._col.resolve_target(target_vector)
            matrix = (
                self._query_matrix(vec, vector)
                if vector is not None
                else self._embed_query(vec, _query_text(query))
            )
        return self._hybrid_core(
            _query_text(query),
            vec,
            matrix,
            alpha=a,
            fusion=fusion,
            limit=limit,
            offset=offset,
            filters=filters,
            query_properties=query_properties,
            max_vector_distance=max_vector_distance,
            auto_limit=auto_limit,
            bm25_operator=bm25_operator,
            include_vector=include_vector,
            return_properties=return_properties,
        )

    async def ahybrid(self, query: str, **kwargs: Any) -> QueryReturn:
        """Async :meth:`hybrid` (embeds the query with the embedder's async method when it has one)."""
        alpha = kwargs.pop("alpha", 0.75)
        fusion_type = kwargs.pop("fusion_type", HybridFusion.RELATIVE_SCORE)
        vector = kwargs.pop("vector", None)
        target_vector = kwargs.pop("target_vector", None)
        kwargs.pop("return_metadata", None)
        kwargs.setdefault("limit", 10)
        kwargs.setdefault("offset", 0)
        a, fusion = self._hybrid_args(
            alpha, fusion_type, kwargs["limit"], kwargs["offset"], kwargs.get("auto_limit")
        )
        vec, matrix = None, None
        if a > 0 or kwargs.get("max_vector_distance") is not None:
            vec = self._col.resolve_target(target_vector)
            matrix = (
                self._query_matrix(vec, vector)
                if vector is not None
                else await self._aembed_query(vec, _query_text(query))
            )
        for key in (
            "filters",
            "query_properties",
            "max_vector_distance",
            "auto_limit",
            "bm25_operator",
            "return_properties",
        ):
            kwargs.setdefault(key, None)
        kwargs.setdefault("include_vector", False)
        return self._hybrid_core(_query_text(query), vec, matrix, alpha=a, fusion=fusion, **kwargs)

    async def run_async(
        self, method: Callable[..., QueryReturn], *args: Any, **kwargs: Any
    ) -> QueryReturn:
        """Run a sync search (``near_vector``, ``bm25``, ``fetch_objects``) in a worker thread."""
        return await asyncio.to_thread(method, *args, **kwargs)
