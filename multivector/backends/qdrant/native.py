"""Qdrant's own hybrid fusion (RRF / DBSF), offered explicitly next to our fusion.

``collection.query.hybrid`` fuses client-side with multivector's semantics (alpha,
``relative_score`` / ``ranked``, pool size, ties), identical on both backends. When a Qdrant
deployment should fuse server-side instead, :func:`native_hybrid` runs one ``query_points`` with a
MaxSim prefetch and a BM25 sparse prefetch under Qdrant's ``FusionQuery``. Its scores follow
Qdrant's definitions (reciprocal rank fusion, distribution-based score fusion) and its BM25 leg is
Qdrant's candidate ranking, not our exact rescoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

from qdrant_client import models

from multivector._checks import check_int
from multivector._types import MultiVectorEmbedder
from multivector.backends.protocol import CollectionBackend, Hit
from multivector.backends.qdrant.bm25 import SPARSE_VECTOR, bm25_fields, query_terms, sparse_query
from multivector.backends.qdrant.collection import QdrantCollection
from multivector.backends.qdrant.payload import ID_KEY
from multivector.errors import ConfigError
from multivector.schema.filter_validation import validate_filter
from multivector.schema.query import FilterNode
from multivector.schema.targets import resolve_target
from multivector.schema.validation import validate_matrix
from multivector.text.stopwords import Stopwords

__all__ = ["native_hybrid"]


class _Searchable(Protocol):
    """What native hybrid search needs of a collection (``multivector.Collection`` is one)."""

    @property
    def backend(self) -> CollectionBackend: ...

    def embedder(self, target_vector: str) -> MultiVectorEmbedder | None: ...


_FUSIONS = {"rrf": models.Fusion.RRF, "dbsf": models.Fusion.DBSF}


def native_hybrid(
    collection: _Searchable,
    query: str,
    *,
    vector: Any = None,
    fusion: Literal["rrf", "dbsf"] = "rrf",
    limit: int = 10,
    pool: int = 100,
    filters: FilterNode | None = None,
    target_vector: str | None = None,
    query_properties: Sequence[str] | None = None,
) -> list[Hit]:
    """Hybrid search fused by Qdrant: ``Hit(uuid, fused score)`` best first.

    ``vector`` is the query matrix (embedded from ``query`` when None and the space has an
    embedder); ``pool`` candidates are drawn from each leg.
    """
    backend = collection.backend
    if not isinstance(backend, QdrantCollection):
        raise ConfigError(
            "native_hybrid() needs a collection on the Qdrant backend "
            "(open the client with multivector.connect_to_qdrant); use collection.query.hybrid"
        )
    if fusion not in _FUSIONS:
        raise ConfigError(f"fusion={fusion!r} is unknown; use 'rrf' or 'dbsf'")
    check_int("limit", limit, 1)
    config = backend.known_config
    vec = resolve_target(config, target_vector)
    if vector is None:
        embedder = collection.embedder(vec.name)
        if embedder is None:
            raise ConfigError(
                f"vector {vec.name!r} is self-provided; pass the query matrix with vector=..."
            )
        vector = embedder.embed_query(query)
    matrix = validate_matrix(vector, where="native_hybrid query", dimension=vec.dimension)
    names = list(query_properties) if query_properties else [p.name for p in bm25_fields(config)]
    fields = query_terms(
        query, [(n, 1.0) for n in names], config, Stopwords.from_config(config.inverted_index)
    )
    native = backend.native_filter(validate_filter(filters, config))
    if backend.is_nothing(native):
        return []
    prefetch = [models.Prefetch(query=matrix.tolist(), using=vec.name, filter=native, limit=pool)]
    if fields:
        prefetch.append(
            models.Prefetch(
                query=sparse_query(fields), using=SPARSE_VECTOR, filter=native, limit=pool
            )
        )
    response = backend.run_query(
        "native hybrid search",
        prefetch=prefetch,
        query=models.FusionQuery(fusion=_FUSIONS[fusion]),
        limit=limit,
        with_payload=[ID_KEY],
    )
    return [Hit(str((p.payload or {}).get(ID_KEY)), float(p.score)) for p in response.points]
