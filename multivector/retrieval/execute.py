"""Run query plans against the store protocol: legs, fusion, cutoffs, autocut, page, objects.

Each plan becomes one :class:`~multivector.backends.protocol.SearchRequest`; the backend answers
with a :class:`~multivector.backends.protocol.ReadView` (one snapshot: one lock, one refresh, one
filter mask for both legs); everything after that (fusion, the distance cutoff, autocut, paging)
is computed here, so every backend ranks alike. The objects of the page come from the same view.
A backend without snapshots may report an object deleted between its search and its fetch; the
query then runs again (at most :data:`ATTEMPTS` times), so a result list is never shortened by a
concurrent delete while enough matching objects remain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from multivector.backends.protocol import (
    CollectionBackend,
    Hit,
    KeywordQuery,
    ReadView,
    SearchRequest,
    VectorQuery,
)
from multivector.errors import ConfigError
from multivector.kernels.fusion import autocut
from multivector.retrieval.fusion import HYBRID_POOL, VECTOR_LEG, fuse_legs
from multivector.retrieval.highlights import attach_highlights
from multivector.retrieval.plan import HybridPlan, KeywordPlan, Page, Returns, VectorPlan

__all__ = ["ATTEMPTS", "run_hybrid", "run_keyword", "run_vector"]

#: Searches run at most this many times when objects vanish between search and fetch.
ATTEMPTS = 4


def page_hits(hits: Sequence[Hit], page: Page) -> list[Hit]:
    """Autocut (on the hits' scores), then skip ``offset`` and keep ``limit``."""
    keep = len(hits)
    if page.auto_limit is not None and hits:
        keep = int(autocut(np.asarray([h.score for h in hits], dtype=np.float64), page.auto_limit))
    return list(hits[:keep][page.offset : page.offset + page.limit])


def _run(
    backend: CollectionBackend,
    request: SearchRequest,
    rank: Callable[[ReadView], list[Hit]],
    returns: Returns,
) -> list[Hit]:
    result: list[Hit] = []
    for _ in range(ATTEMPTS):
        view = backend.search(request)
        result = view.objects(rank(view), include_vector=returns.vectors or returns.highlights)
        if all(h.obj is not None for h in result):
            return result
    return [h for h in result if h.obj is not None]


def _highlighted(
    backend: CollectionBackend, hits: list[Hit], plan: VectorPlan | HybridPlan
) -> list[Hit]:
    if not plan.returns.highlights or plan.space is None:
        return hits
    return attach_highlights(
        hits,
        space=plan.space,
        config=backend.known_config,
        query=_matrix(plan),
        query_text=plan.text,
    )


def _matrix(plan: VectorPlan | HybridPlan) -> np.ndarray:
    if plan.matrix is None:
        raise ConfigError("the query plan has no query matrix; bind one with plan.bind(matrix)")
    return plan.matrix


def run_vector(backend: CollectionBackend, plan: VectorPlan) -> list[Hit]:
    """``near_vector`` / ``near_text``: MaxSim top hits with their objects."""
    request = SearchRequest(
        plan.filters, vector=VectorQuery(plan.space.name, _matrix(plan), plan.page.depth)
    )

    def rank(view: ReadView) -> list[Hit]:
        hits = view.vector_hits or []
        if plan.distance is not None:
            hits = [h for h in hits if -h.score <= plan.distance]
        return page_hits(hits, plan.page)

    return _highlighted(backend, _run(backend, request, rank, plan.returns), plan)


def run_keyword(backend: CollectionBackend, plan: KeywordPlan) -> list[Hit]:
    """``bm25``: BM25 top hits with their objects."""
    query = KeywordQuery(plan.text, plan.properties, plan.page.depth, plan.operator)
    request = SearchRequest(plan.filters, keyword=query)
    return _run(
        backend, request, lambda view: page_hits(view.keyword_hits or [], plan.page), plan.returns
    )


def run_hybrid(backend: CollectionBackend, plan: HybridPlan) -> list[Hit]:
    """``hybrid``: both legs over a pool of ``max(100, limit + offset)`` each, fused; the vector
    distance cutoff drops keyword-only hits too far from the query (as Weaviate does).
    """
    pool = max(HYBRID_POOL, plan.page.depth)
    vector = None
    if plan.space is not None and (plan.alpha > 0 or plan.max_vector_distance is not None):
        vector = VectorQuery(plan.space.name, _matrix(plan), pool if plan.alpha > 0 else 0)
    keyword = None
    if plan.alpha < 1:
        keyword = KeywordQuery(plan.text, plan.properties, pool, plan.operator)
    request = SearchRequest(plan.filters, vector=vector, keyword=keyword)
    cutoff = plan.max_vector_distance

    def rank(view: ReadView) -> list[Hit]:
        vector_hits = view.vector_hits if plan.alpha > 0 else None
        if vector_hits is not None and cutoff is not None:
            vector_hits = [h for h in vector_hits if -h.score <= cutoff]
        fused = fuse_legs(
            vector_hits,
            view.keyword_hits,
            alpha=plan.alpha,
            fusion=plan.fusion,
            features=plan.features,
        )
        if cutoff is not None and vector is not None:
            fused = _within_distance(view, fused, cutoff)
        return page_hits(fused, plan.page)

    return _highlighted(backend, _run(backend, request, rank, plan.returns), plan)


def _within_distance(view: ReadView, fused: list[Hit], cutoff: float) -> list[Hit]:
    """Drop keyword-only hits whose vector distance is beyond the cutoff."""
    unknown = [
        h.uuid for h in fused if h.explanation is None or h.explanation.leg(VECTOR_LEG) is None
    ]
    if not unknown:
        return fused
    scores = dict(zip(unknown, view.vector_scores(unknown)))
    kept = []
    for h in fused:
        if h.uuid not in scores:
            kept.append(h)
            continue
        score = scores[h.uuid]
        if score is not None and -score <= cutoff:
            kept.append(h)
    return kept
