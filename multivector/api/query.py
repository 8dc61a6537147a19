"""``collection.query``: fetch, near_vector, near_text, bm25 and hybrid, sync and async.

Every verb validates its arguments into a frozen plan (:mod:`multivector.retrieval.plan`), binds
the query matrix (the user's, or the query text embedded: sync, or async without blocking the
loop), and runs the plan (:mod:`multivector.retrieval.execute`): one snapshot of the backend per
query. The async twins build the same plans, so they accept and reject exactly what the sync verbs
do, and run the search itself in a worker thread (the client's bounded executor, see
:meth:`~multivector.api.collection.Collection.offload`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import multivector.retrieval.execute as execute
from multivector._types import MultiVectorEmbedder
from multivector.api.fetch import FetchVerbs
from multivector.api.grouped import grouped_return
from multivector.api.results import (
    hybrid_metadata,
    keyword_metadata,
    query_return,
    vector_metadata,
    wants_highlights,
)
from multivector.embeddings.calls import aembed_query, embed_query
from multivector.errors import ConfigError
from multivector.results import QueryReturn
from multivector.retrieval.arguments import query_text
from multivector.retrieval.plan import (
    HybridPlan,
    KeywordPlan,
    VectorPlan,
    hybrid_plan,
    keyword_plan,
    vector_plan,
)
from multivector.schema.config import VectorConfig
from multivector.schema.grouping import GroupBy
from multivector.schema.query import BM25OperatorSpec, FilterNode, HybridFusion, MetadataQuery

__all__ = ["QueryAPI"]


class QueryAPI(FetchVerbs):
    """Searches over one collection; results are ``QueryReturn(objects=[Object, ...])``."""

    # ------------------------------------------------------------ plumbing
    def _embedder(self, vec: VectorConfig) -> MultiVectorEmbedder:
        embedder = self._col.embedder(vec.name)
        if embedder is None:
            raise ConfigError(
                f"vector {vec.name!r} of {self._col.name!r} is self-provided, so a text query cannot be "
                "embedded; pass the query matrix (near_vector(...) or hybrid(..., vector=matrix)) or "
                "configure the space with Configure.MultiVectors.text2vec(...) / text2vec_jinaai(...)"
            )
        return embedder

    def _vector_return(self, plan: VectorPlan, group_by: GroupBy | None = None) -> QueryReturn:
        if group_by is not None:
            return grouped_return(self._col, plan, group_by, execute.run_vector, vector_metadata)
        hits = execute.run_vector(self._col.backend, plan)
        return query_return(hits, plan.returns, self._col.name, vector_metadata)

    def _keyword_return(self, plan: KeywordPlan, group_by: GroupBy | None = None) -> QueryReturn:
        if group_by is not None:
            return grouped_return(
                self._col, plan, group_by, execute.run_keyword, keyword_metadata(0)
            )
        hits = execute.run_keyword(self._col.backend, plan)
        return query_return(hits, plan.returns, self._col.name, keyword_metadata(plan.page.offset))

    def _hybrid_return(self, plan: HybridPlan, group_by: GroupBy | None = None) -> QueryReturn:
        if group_by is not None:
            return grouped_return(self._col, plan, group_by, execute.run_hybrid, hybrid_metadata)
        hits = execute.run_hybrid(self._col.backend, plan)
        return query_return(hits, plan.returns, self._col.name, hybrid_metadata)

    def _vector_plan(self, **arguments: Any) -> VectorPlan:
        return self._plan(vector_plan, **arguments)

    def _hybrid_plan(self, query: object, **arguments: Any) -> HybridPlan:
        return self._plan(hybrid_plan, query, **arguments)

    def _bind_text(self, plan: HybridPlan, query: object, vector: Any) -> HybridPlan:
        if plan.space is None:
            return plan
        if vector is not None:
            return plan.bind(vector)
        return plan.bind(embed_query(self._embedder(plan.space), query_text(query)))

    async def _abind_text(self, plan: HybridPlan, query: object, vector: Any) -> HybridPlan:
        if plan.space is None or vector is not None:
            return self._bind_text(plan, query, vector)
        return plan.bind(await aembed_query(self._embedder(plan.space), query_text(query)))

    # --------------------------------------------------- near_vector / near_text
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
        group_by: GroupBy | None = None,
    ) -> QueryReturn:
        """Exact MaxSim search with a query matrix; ``metadata.distance`` is -MaxSim."""
        if isinstance(near_vector, Mapping) and len(near_vector) == 1 and target_vector is None:
            target_vector, near_vector = next(iter(near_vector.items()))
        plan = self._vector_plan(
            target_vector=target_vector,
            limit=limit,
            offset=offset,
            filters=filters,
            distance=distance,
            auto_limit=auto_limit,
            include_vector=include_vector,
            return_properties=return_properties,
            highlights=wants_highlights(return_metadata, "near_vector"),
        )
        return self._vector_return(plan.bind(near_vector), group_by)

    async def anear_vector(self, near_vector: Any, **options: Any) -> QueryReturn:
        """Async :meth:`near_vector` (the search runs in a worker thread)."""
        return await self._col.offload(self.near_vector, near_vector, **options)

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
        group_by: GroupBy | None = None,
    ) -> QueryReturn:
        """Embed ``query`` with the space's embedder (as a query) and search with MaxSim."""
        plan = self._vector_plan(
            target_vector=target_vector,
            limit=limit,
            offset=offset,
            filters=filters,
            distance=distance,
            auto_limit=auto_limit,
            include_vector=include_vector,
            return_properties=return_properties,
            highlights=wants_highlights(return_metadata, "near_text"),
        )
        text = query_text(query)
        matrix = embed_query(self._embedder(plan.space), text)
        return self._vector_return(plan.bind(matrix, text), group_by)

    async def anear_text(
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
        group_by: GroupBy | None = None,
    ) -> QueryReturn:
        """Async :meth:`near_text`: embeds with the embedder's async method (or a worker thread),
        then searches in a worker thread.
        """
        plan = self._vector_plan(
            target_vector=target_vector,
            limit=limit,
            offset=offset,
            filters=filters,
            distance=distance,
            auto_limit=auto_limit,
            include_vector=include_vector,
            return_properties=return_properties,
            highlights=wants_highlights(return_metadata, "near_text"),
        )
        text = query_text(query)
        matrix = await aembed_query(self._embedder(plan.space), text)
        return await self._col.offload(self._vector_return, plan.bind(matrix, text), group_by)

    # ---------------------------------------------------------------- bm25
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
        group_by: GroupBy | None = None,
    ) -> QueryReturn:
        """BM25 keyword search; ``query_properties`` accepts boosts such as ``["title^2", "text"]``."""
        wants_highlights(return_metadata, "bm25")
        plan = self._plan(
            keyword_plan,
            query,
            query_properties=query_properties,
            limit=limit,
            offset=offset,
            filters=filters,
            operator=operator,
            auto_limit=auto_limit,
            include_vector=include_vector,
            return_properties=return_properties,
        )
        return self._keyword_return(plan, group_by)

    async def abm25(self, query: str, **options: Any) -> QueryReturn:
        """Async :meth:`bm25` (the search runs in a worker thread)."""
        return await self._col.offload(self.bm25, query, **options)

    # -------------------------------------------------------------- hybrid
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
        group_by: GroupBy | None = None,
    ) -> QueryReturn:
        """Weaviate-style hybrid search: MaxSim leg (weight ``alpha``) fused with BM25 (``1 - alpha``).

        ``fusion_type``: ``relative_score`` (default, Weaviate's), ``ranked`` (Weaviate's
        reciprocal rank fusion) or ``adaptive`` (relative_score with a per-query alpha centred
        on ``alpha``; see ``docs/evaluation.md``).
        """
        plan = self._hybrid_plan(
            query,
            alpha=alpha,
            target_vector=target_vector,
            fusion_type=fusion_type,
            limit=limit,
            offset=offset,
            filters=filters,
            query_properties=query_properties,
            max_vector_distance=max_vector_distance,
            auto_limit=auto_limit,
            bm25_operator=bm25_operator,
            include_vector=include_vector,
            return_properties=return_properties,
            highlights=wants_highlights(return_metadata, "hybrid"),
        )
        return self._hybrid_return(self._bind_text(plan, query, vector), group_by)

    async def ahybrid(
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
        group_by: GroupBy | None = None,
    ) -> QueryReturn:
        """Async :meth:`hybrid`: embeds with the embedder's async method (or a worker thread),
        then searches in a worker thread.
        """
        plan = self._hybrid_plan(
            query,
            alpha=alpha,
            target_vector=target_vector,
            fusion_type=fusion_type,
            limit=limit,
            offset=offset,
            filters=filters,
            query_properties=query_properties,
            max_vector_distance=max_vector_distance,
            auto_limit=auto_limit,
            bm25_operator=bm25_operator,
            include_vector=include_vector,
            return_properties=return_properties,
            highlights=wants_highlights(return_metadata, "hybrid"),
        )
        bound = await self._abind_text(plan, query, vector)
        return await self._col.offload(self._hybrid_return, bound, group_by)

    # --------------------------------------------------------------- async
    async def run_async(
        self, method: Callable[..., QueryReturn], *args: Any, **kwargs: Any
    ) -> QueryReturn:
        """Run a sync search (``near_vector``, ``bm25``, ``fetch_objects``) in a worker thread."""
        return await self._col.offload(method, *args, **kwargs)
