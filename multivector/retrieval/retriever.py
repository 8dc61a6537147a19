"""The framework-free retriever: query -> legs -> fusion -> scored hits, sync and async.

The LlamaIndex and LangChain integrations are thin translations over :class:`Retriever`; all
retrieval decisions (mode, alpha, fusion, MMR, score scales) live here, once.

Score scales (comparable across queries):
- ``vector``: ``score`` is MaxSim; ``similarity`` is MaxSim divided by the number of query tokens,
  i.e. the mean best cosine per query token for L2-normalised token vectors, in [-1, 1].
- ``keyword``: ``score`` is BM25 (unbounded); ``similarity`` is the same BM25 score.
- ``hybrid``: ``score`` is the fused score in [0, 1] (relative_score, adaptive) or the
  reciprocal-rank sum (ranked); ``similarity`` is that fused score.
- ``mmr``: as ``vector``; the order is the MMR order.

:func:`relevance_score` maps ``similarity`` into [0, 1] for frameworks that want a bounded
relevance: vector and MMR ``(mean best cosine + 1) / 2``; hybrid ``relative_score`` and
``adaptive`` as is; hybrid
``ranked`` times 60 (first place in both legs makes 1); keyword ``bm25 / (1 + bm25)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import numpy as np

import multivector.retrieval.execute as execute
from multivector._checks import check_int
from multivector._types import F32Array, MultiVectorEmbedder, StrEnum
from multivector.backends.protocol import CollectionBackend, Hit
from multivector.embeddings.calls import aembed_query, embed_query
from multivector.errors import ConfigError
from multivector.kernels.fusion import RANKED_FUSION_K
from multivector.results import ScoreExplanation, TokenHighlight
from multivector.retrieval.fusion import VECTOR_LEG
from multivector.retrieval.grouping import cap_per_group, group_name
from multivector.retrieval.mmr import mmr_select
from multivector.retrieval.plan import hybrid_plan, keyword_plan, vector_plan
from multivector.schema.config import VectorConfig
from multivector.schema.query import BM25OperatorSpec, FilterNode, HybridFusion

T = TypeVar("T")


class SearchableCollection(Protocol):
    """What a retriever needs of a collection (``multivector.Collection`` is one)."""

    @property
    def backend(self) -> CollectionBackend: ...

    def embedder(self, target_vector: str) -> MultiVectorEmbedder | None: ...

    def resolve_target(self, target_vector: str | None) -> VectorConfig: ...

    async def offload(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...


__all__ = [
    "RetrievedHit",
    "Retriever",
    "RetrieverSettings",
    "SearchMode",
    "SearchableCollection",
    "relevance_score",
]


class SearchMode(StrEnum):
    """What a retriever runs."""

    VECTOR = "vector"
    KEYWORD = "keyword"
    HYBRID = "hybrid"
    MMR = "mmr"


@dataclass(frozen=True)
class RetrieverSettings:
    """Every retrieval setting, overridable per call (``retrieve(query, limit=8, alpha=0.3)``)."""

    mode: SearchMode = SearchMode.HYBRID
    limit: int = 4
    alpha: float = 0.75
    fusion_type: HybridFusion = HybridFusion.RELATIVE_SCORE
    filters: FilterNode | None = None
    target_vector: str | None = None
    query_properties: tuple[str, ...] | None = None
    bm25_operator: BM25OperatorSpec | None = None
    fetch_k: int = 20
    mmr_lambda: float = 0.5
    max_vector_distance: float | None = None
    #: Late-interaction highlights on each hit (vector, hybrid and MMR modes).
    highlights: bool = False
    #: "At most ``max_per_group`` hits per value of property ``group_by``" (e.g. chunks per
    #: source document): the ranking of a deeper pool with each group capped, then ``limit``.
    group_by: str | None = None
    max_per_group: int | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", SearchMode(self.mode))
        except ValueError:
            raise ConfigError(
                f"unknown search mode {self.mode!r}; use one of {[m.value for m in SearchMode]}"
            ) from None
        try:
            object.__setattr__(self, "fusion_type", HybridFusion(self.fusion_type))
        except ValueError:
            raise ConfigError(
                f"unknown fusion_type {self.fusion_type!r}; use 'relative_score', 'ranked' or "
                "'adaptive'"
            ) from None
        if not isinstance(self.highlights, bool):
            raise ConfigError(f"highlights must be True or False, got {self.highlights!r}")
        if self.highlights and self.mode is SearchMode.KEYWORD:
            raise ConfigError(
                "highlights need a query matrix; use mode 'vector', 'hybrid' or 'mmr' with "
                "highlights=True, not 'keyword'"
            )
        check_int("limit (k / top_k)", self.limit, 1)
        check_int("fetch_k", self.fetch_k, 1)
        for name in ("alpha", "mmr_lambda"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0.0 <= value <= 1.0
            ):
                raise ConfigError(f"{name} must be a number within [0, 1], got {value!r}")
        if self.query_properties is not None:
            object.__setattr__(self, "query_properties", tuple(self.query_properties))
        if self.max_per_group is not None:
            check_int("max_per_group", self.max_per_group, 1)
            if not isinstance(self.group_by, str) or not self.group_by:
                raise ConfigError(
                    f"max_per_group={self.max_per_group} needs group_by=<property naming the "
                    f"group> (e.g. group_by='doc_id'), got group_by={self.group_by!r}"
                )
            if self.mode is SearchMode.MMR:
                raise ConfigError(
                    "max_per_group cannot be combined with mode 'mmr' (MMR picks its own "
                    "diverse set); use mode 'vector' or 'hybrid'"
                )


@dataclass(frozen=True)
class RetrievedHit:
    """One retrieved object with its scores (never mixed into its properties)."""

    uuid: str
    properties: dict[str, Any]
    score: float
    similarity: float
    distance: float | None
    explanation: ScoreExplanation | None
    vector: F32Array | None = None
    #: Only with ``highlights=True``: per query token, the document token that matched it best.
    highlights: tuple[TokenHighlight, ...] | None = None


class Retriever:
    """Retrieve from one collection with a fixed default setting, overridable per call."""

    def __init__(
        self,
        collection: SearchableCollection,
        settings: RetrieverSettings | None = None,
        **overrides: Any,
    ) -> None:
        self.collection = collection
        base = settings or RetrieverSettings()
        self.settings = replace(base, **overrides) if overrides else base

    def with_settings(self, **overrides: Any) -> RetrieverSettings:
        """The default settings with ``overrides`` applied (None values are ignored)."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(clean) - set(RetrieverSettings.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown retriever settings {sorted(unknown)}")
        return replace(self.settings, **clean) if clean else self.settings

    # --------------------------------------------------------------- embedding
    def needs_vector(self, s: RetrieverSettings) -> bool:
        """Whether settings ``s`` need a query matrix (vector / mmr, or hybrid with alpha > 0)."""
        return s.mode in (SearchMode.VECTOR, SearchMode.MMR) or (
            s.mode is SearchMode.HYBRID and (s.alpha > 0 or s.highlights)
        )

    def embed_query(self, query: str, s: RetrieverSettings | None = None) -> F32Array:
        """The query matrix for the target space (embedded with the collection's embedder)."""
        s = s or self.settings
        vec = self.collection.resolve_target(s.target_vector)
        return np.asarray(embed_query(self._embedder(vec.name), query), dtype=np.float32)

    async def aembed_query(self, query: str, s: RetrieverSettings | None = None) -> F32Array:
        """Async :meth:`embed_query`."""
        s = s or self.settings
        vec = self.collection.resolve_target(s.target_vector)
        raw = await aembed_query(self._embedder(vec.name), query)
        return np.asarray(raw, dtype=np.float32)

    def _embedder(self, name: str) -> Any:
        embedder = self.collection.embedder(name)
        if embedder is None:
            raise ConfigError(
                f"vector {name!r} is self-provided: pass the query matrix (vector=...) or give the "
                "retriever an embedder / a text2vec collection"
            )
        return embedder

    # ------------------------------------------------------------------ search
    def retrieve(self, query: str, *, vector: Any = None, **overrides: Any) -> list[RetrievedHit]:
        """Run the configured search; ``vector`` is a query matrix (skips embedding)."""
        s = self.with_settings(**overrides)
        matrix = None
        if self.needs_vector(s):
            matrix = (
                np.asarray(vector, dtype=np.float32)
                if vector is not None
                else self.embed_query(query, s)
            )
        return self.search(query, matrix, s)

    async def aretrieve(
        self, query: str, *, vector: Any = None, **overrides: Any
    ) -> list[RetrievedHit]:
        """Async :meth:`retrieve`: embeds with the embedder's async method, searches in a thread."""
        s = self.with_settings(**overrides)
        matrix = None
        if self.needs_vector(s):
            matrix = (
                np.asarray(vector, dtype=np.float32)
                if vector is not None
                else await self.aembed_query(query, s)
            )
        return await self.asearch(query, matrix, s)

    async def asearch(
        self, query: str, matrix: F32Array | None, s: RetrieverSettings
    ) -> list[RetrievedHit]:
        """Async :meth:`search`, off the event loop through the collection (its async client's
        bounded executor when it has one, else a worker thread).
        """
        return await self.collection.offload(self.search, query, matrix, s)

    def search(
        self, query: str, matrix: F32Array | None, s: RetrieverSettings
    ) -> list[RetrievedHit]:
        """Run settings ``s`` with an already computed query ``matrix`` (None for keyword-only)."""
        if s.max_per_group is not None and s.group_by is not None:
            return self._capped(query, matrix, s, s.group_by, s.max_per_group)
        backend = self.collection.backend
        config = backend.known_config
        props = list(s.query_properties) if s.query_properties is not None else None
        common: dict[str, Any] = {
            "limit": s.limit,
            "offset": 0,
            "filters": s.filters,
            "auto_limit": None,
            "return_properties": None,
        }
        if s.mode is SearchMode.KEYWORD:
            plan = keyword_plan(
                config,
                query,
                query_properties=props,
                operator=s.bm25_operator,
                include_vector=False,
                **common,
            )
            hits = execute.run_keyword(backend, plan)
            return [_hit(h, h.score, h.score, keyword=True) for h in hits]
        if s.mode is SearchMode.HYBRID:  # alpha == 0 needs no matrix
            hybrid = hybrid_plan(
                config,
                query,
                alpha=s.alpha,
                target_vector=s.target_vector,
                fusion_type=s.fusion_type,
                query_properties=props,
                max_vector_distance=s.max_vector_distance,
                bm25_operator=s.bm25_operator,
                include_vector=False,
                highlights=s.highlights,
                **common,
            )
            if hybrid.space is not None:
                hybrid = hybrid.bind(matrix if matrix is not None else self.embed_query(query, s))
            return [_hit(h, h.score, h.score) for h in execute.run_hybrid(backend, hybrid)]
        if matrix is None:
            raise ConfigError(f"search mode {s.mode.value!r} needs a query matrix")
        if s.mode is SearchMode.MMR:
            common["limit"] = max(s.fetch_k, s.limit)
        vector = vector_plan(
            config,
            target_vector=s.target_vector,
            distance=s.max_vector_distance if s.mode is SearchMode.VECTOR else None,
            include_vector=False if s.mode is SearchMode.VECTOR else True,
            highlights=s.highlights,
            **common,
        ).bind(matrix, query or None)
        hits = execute.run_vector(backend, vector)
        n_q = max(int(matrix.shape[0]), 1) if matrix.ndim == 2 else 1
        if s.mode is SearchMode.VECTOR:
            return [_hit(h, h.score, h.score / n_q) for h in hits]
        # MMR: relevance and diversity on the same mean-cosine scale.
        name = vector.space.name
        docs = [_vectors(h, name) for h in hits]
        rel = np.asarray([h.score / n_q for h in hits], dtype=np.float64)
        order = mmr_select(rel, docs, k=s.limit, lambda_mult=s.mmr_lambda)
        return [_hit(hits[i], hits[i].score, float(rel[i])) for i in order]

    def _capped(
        self, query: str, matrix: F32Array | None, s: RetrieverSettings, prop: str, cap: int
    ) -> list[RetrievedHit]:
        """``s`` with at most ``cap`` hits per ``prop`` value: a pool growing (x4) until
        ``limit`` hits survive the cap or the ranking is exhausted.
        """
        pool = max(4 * s.limit, 50)
        while True:
            hits = self.search(query, matrix, replace(s, limit=pool, max_per_group=None))
            capped = cap_per_group(
                hits, lambda h: group_name(h.properties.get(prop)), max_per_group=cap, limit=s.limit
            )
            if len(capped) >= s.limit or len(hits) < pool:
                return capped
            pool *= 4

    def retrieve_many(self, queries: Sequence[str], **overrides: Any) -> list[list[RetrievedHit]]:
        """Retrieve for several queries (one after another; the store serves each exactly)."""
        return [self.retrieve(query, **overrides) for query in queries]


def _vectors(hit: Hit, name: str) -> F32Array:
    obj = hit.obj
    found = obj.vectors.get(name) if obj is not None else None
    if found is None:
        return np.zeros((0, 1), dtype=np.float32)
    return np.asarray(found, dtype=np.float32)


def _hit(hit: Hit, score: float, similarity: float, *, keyword: bool = False) -> RetrievedHit:
    """A retriever hit; ``distance`` is -MaxSim when the vector leg scored the object."""
    if hit.explanation is None:
        distance = None if keyword else -hit.score
    else:
        vec = hit.explanation.leg(VECTOR_LEG)
        distance = -vec.raw_score if vec is not None else None
    return RetrievedHit(
        uuid=hit.uuid,
        properties=hit.obj.properties if hit.obj is not None else {},
        score=float(score),
        similarity=float(similarity),
        distance=distance,
        explanation=hit.explanation,
        highlights=hit.highlights,
    )


def relevance_score(similarity: float, settings: RetrieverSettings) -> float:
    """A hit's ``similarity`` mapped into [0, 1] (see the module docstring)."""
    if settings.mode is SearchMode.KEYWORD:
        value = similarity / (1.0 + similarity) if similarity > 0 else 0.0
    elif settings.mode is SearchMode.HYBRID:
        ranked = settings.fusion_type is HybridFusion.RANKED
        value = similarity * RANKED_FUSION_K if ranked else similarity
    else:
        value = (similarity + 1.0) / 2.0
    return min(max(value, 0.0), 1.0)
