"""LangChain integration: :class:`MultiVectorStore` (a ``VectorStore``) and :class:`MultiVectorRetriever`.

Both are thin translations over :class:`multivector.retrievers.Retriever`: LangChain arguments go
in (:meth:`MultiVectorStore._overrides`), ``RetrievedHit`` comes out as ``Document`` (:func:`_document`).
Storage layout: property ``text`` (TEXT, BM25-searchable) holds ``page_content``, property
``metadata`` (OBJECT) holds ``Document.metadata`` verbatim, and ``Document.id`` is the object's id.

Relevance scores (``similarity_search_with_relevance_scores``) map the retriever's ``similarity``
into [0, 1]: vector and MMR searches ``(mean best cosine + 1) / 2``; hybrid ``relative_score``
as is; hybrid ``ranked`` times 60 (two first places make 1); keyword ``bm25 / (1 + bm25)``.
Needs ``pip install 'multivector[langchain]'``.
"""

from __future__ import annotations

import asyncio
import uuid as _uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from multivector._types import F32Array, Matrix
from multivector.config import Configure, DataType, Property
from multivector.embeddings.adapters import EmbeddingsAdapter, as_matrix
from multivector.errors import ConfigError, InvalidObjectError, OptionalDependencyError
from multivector.integrations._langchain_filters import translate_filter
from multivector.query import Filter
from multivector.retrievers import (
    RetrievedHit,
    Retriever,
    RetrieverSettings,
    relevance_score,
)
from multivector.stores.client import Client
from multivector.stores.collection import Collection
from multivector.stores.ingest import DataObject

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import VectorStore
    from typing_extensions import Self
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise OptionalDependencyError("langchain-core", "langchain") from exc

from multivector.integrations._langchain_retriever import SEARCH_TYPES

__all__ = ["EmbeddingsAdapter", "MultiVectorRetriever", "MultiVectorStore", "ScoredDocument"]

#: LangChain keyword -> Retriever setting (names not listed pass through unchanged).
_RENAMES = {"k": "limit", "filter": "filters", "lambda_mult": "mmr_lambda"}
_PASS_THROUGH: tuple[str, ...] = (
    "alpha",
    "fusion_type",
    "fetch_k",
    "query_properties",
    "bm25_operator",
    "max_vector_distance",
    "mmr_lambda",
)
VECTOR_NAME = "multi_vector"


class ScoredDocument(NamedTuple):
    """A result: the Document, the raw score of its search type and its relevance in [0, 1]."""

    document: Document
    score: float
    relevance: float


def _adapt(embedding: Any) -> EmbeddingsAdapter | None:
    if embedding is None or isinstance(embedding, EmbeddingsAdapter):
        return embedding
    return EmbeddingsAdapter(embedding)


def _document(uid: str, props: dict[str, Any], text_key: str, metadata_key: str) -> Document:
    if metadata_key in props:
        metadata = props[metadata_key] or {}
    else:  # a collection made elsewhere: its other properties are the metadata
        metadata = {k: v for k, v in props.items() if k != text_key}
    return Document(id=uid, page_content=props.get(text_key) or "", metadata=metadata)


class MultiVectorStore(VectorStore):
    """A LangChain ``VectorStore`` over one multivector collection (embedded or Qdrant).

    ``embedding`` is a LangChain ``Embeddings`` (each vector becomes a one-row matrix) or a
    multi-vector embedder (Jina, MiniLM tokens, your own); it may be omitted when the collection's
    space has a ``text2vec`` vectorizer. Search types: ``similarity``, ``mmr``,
    ``similarity_score_threshold``, ``hybrid`` and ``keyword``; ``filter`` takes the dict filter
    language of :mod:`multivector.integrations._langchain_filters` or a native ``Filter``.
    """

    def __init__(
        self,
        collection: Collection,
        embedding: Any = None,
        *,
        target_vector: str | None = None,
        text_key: str = "text",
        metadata_key: str = "metadata",
    ) -> None:
        self.collection = collection
        self.text_key = text_key
        self.metadata_key = metadata_key
        self._source_embedding = embedding
        self._embedder = _adapt(embedding)
        space = collection.resolve_target(target_vector)
        self.target_vector = space.name
        if self._embedder is None and not space.has_vectorizer:
            raise ConfigError(
                f"vector {space.name!r} of {collection.name!r} is self-provided: pass embedding=... "
                "(a LangChain Embeddings or a MultiVectorEmbedder)"
            )
        # Embed here only when the collection would not embed with this very embedder itself.
        self._self_embed = self._embedder is not None and not (
            space.has_vectorizer and space.embedder is self._embedder
        )
        self._retriever = Retriever(collection, target_vector=space.name)

    @property
    def embeddings(self) -> Embeddings | None:
        """The LangChain ``Embeddings`` given, if it is one."""
        source = self._source_embedding
        return source if isinstance(source, Embeddings) else None

    # ---------------------------------------------------------------- writes
    def _objects(
        self,
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]] | None,
        ids: Sequence[str | None] | None,
    ) -> tuple[list[str], list[DataObject]]:
        n = len(texts)
        if metadatas is not None and len(metadatas) != n:
            raise ConfigError(f"got {len(metadatas)} metadatas for {n} texts; pass one per text")
        if ids is not None and len(ids) != n:
            raise ConfigError(f"got {len(ids)} ids for {n} texts; pass one per text (or None)")
        uids = [i if i else str(_uuid.uuid4()) for i in (ids or [None] * n)]
        has_metadata = self.collection.config.property(self.metadata_key) is not None
        objects = []
        for i, text in enumerate(texts):
            meta = dict(metadatas[i]) if metadatas is not None and metadatas[i] else {}
            props = {self.text_key: text, **({self.metadata_key: meta} if has_metadata else meta)}
            objects.append(DataObject(properties=props, uuid=uids[i]))
        return uids, objects

    def _attach(self, objects: list[DataObject], matrices: Sequence[Matrix]) -> None:
        for obj, matrix in zip(objects, matrices, strict=True):
            obj.vector = {self.target_vector: matrix}

    @staticmethod
    def _check(result: Any, ids: list[str]) -> list[str]:
        if result.has_errors:
            failures = "; ".join(f.message for f in list(result.errors.values())[:3])
            raise InvalidObjectError(f"{len(result.errors)} of {len(ids)} texts failed: {failures}")
        return ids

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store texts; an id that exists is replaced in every index. Returns the ids."""
        _no_extra("add_texts", kwargs)
        texts = list(texts)
        uids, objects = self._objects(texts, metadatas, ids)
        if not objects:
            return []
        if self._self_embed and self._embedder is not None:
            self._attach(objects, self._embedder.embed_documents(texts))
        return self._check(self.collection.data.insert_many(objects), uids)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts`."""
        _no_extra("aadd_texts", kwargs)
        texts = list(texts)
        uids, objects = self._objects(texts, metadatas, ids)
        if not objects:
            return []
        if self._self_embed and self._embedder is not None:
            self._attach(objects, await self._embedder.aembed_documents(texts))
        return self._check(await self.collection.data.ainsert_many(objects), uids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete these ids (missing ones are ignored). ``ids=None`` is refused, not "delete all"."""
        _no_extra("delete", kwargs)
        if ids is None:
            raise ConfigError(
                "delete() needs a list of ids; to empty the store, delete the collection "
                "(client.collections.delete(name))"
            )
        if ids:
            self.collection.data.delete_many(where=Filter.by_id().contains_any(list(ids)))
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Async :meth:`delete`."""
        return await asyncio.to_thread(self.delete, ids, **kwargs)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents among ``ids``, in that order (missing ids are skipped)."""
        found = self.collection.query.fetch_objects_by_ids(list(ids)).objects
        return [_document(o.uuid, o.properties, *self._keys) for o in found]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return await asyncio.to_thread(self.get_by_ids, ids)

    # ---------------------------------------------------------------- search core
    @property
    def _keys(self) -> tuple[str, str]:
        return self.text_key, self.metadata_key

    def _overrides(self, search_type: str, k: int, options: dict[str, Any]) -> RetrieverSettings:
        mode = SEARCH_TYPES.get(search_type)
        if mode is None:
            raise ConfigError(
                f"unknown search_type {search_type!r}; use one of {sorted(SEARCH_TYPES)}"
            )
        out: dict[str, Any] = {"mode": mode, "limit": k}
        for key, value in options.items():
            name = _RENAMES.get(key, key)
            if name not in _PASS_THROUGH and name not in ("limit", "filters"):
                raise ConfigError(
                    f"unknown search argument {key!r}; known: k, filter, lambda_mult, "
                    f"{', '.join(_PASS_THROUGH)}, score_threshold"
                )
            if name == "filters":
                value = translate_filter(value, metadata_property=self.metadata_key)
            out[name] = value
        return self._retriever.with_settings(**out)

    def _embed(self, query: str, s: RetrieverSettings) -> F32Array | None:
        # A query matrix when the settings need one: ours when we embed, else the collection's
        # embedder through the Retriever.
        if not self._retriever.needs_vector(s):
            return None
        if self._self_embed and self._embedder is not None:
            return self._embedder.as_matrix(self._embedder.embed_query(query))
        return self._retriever.embed_query(query, s)

    async def _aembed(self, query: str, s: RetrieverSettings) -> F32Array | None:
        if not self._retriever.needs_vector(s):
            return None
        if self._self_embed and self._embedder is not None:
            return self._embedder.as_matrix(await self._embedder.aembed_query(query))
        return await self._retriever.aembed_query(query, s)

    def _query_matrix(self, vector: Any) -> F32Array:
        return as_matrix(vector, normalize=self._embedder is not None and self._embedder.normalize)

    def _finish(
        self, hits: list[RetrievedHit], s: RetrieverSettings, threshold: float | None
    ) -> list[ScoredDocument]:
        out = [
            ScoredDocument(
                _document(h.uuid, h.properties, *self._keys),
                h.score,
                relevance_score(h.similarity, s),
            )
            for h in hits
        ]
        return out if threshold is None else [d for d in out if d.relevance >= threshold]

    def scored_search(
        self,
        query: str,
        search_type: str = "similarity",
        *,
        k: int = 4,
        vector: Any = None,
        score_threshold: float | None = None,
        **options: Any,
    ) -> list[ScoredDocument]:
        """The one search core: any search type, a query text or matrix, every option."""
        s = self._overrides(search_type, k, options)
        matrix = self._query_matrix(vector) if vector is not None else None
        if matrix is None:
            matrix = self._embed(query, s)
        hits = self._retriever.search(query, matrix, s)
        return self._finish(hits, s, score_threshold)

    async def ascored_search(
        self,
        query: str,
        search_type: str = "similarity",
        *,
        k: int = 4,
        vector: Any = None,
        score_threshold: float | None = None,
        **options: Any,
    ) -> list[ScoredDocument]:
        """Async :meth:`scored_search`."""
        s = self._overrides(search_type, k, options)
        matrix = self._query_matrix(vector) if vector is not None else None
        if matrix is None:
            matrix = await self._aembed(query, s)
        hits = await asyncio.to_thread(self._retriever.search, query, matrix, s)
        return self._finish(hits, s, score_threshold)

    # ---------------------------------------------------------------- LangChain search API
    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Any search type, ``"hybrid"`` and ``"keyword"`` included."""
        return [d.document for d in self.scored_search(query, search_type, **kwargs)]

    async def asearch(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Async :meth:`search`."""
        return [d.document for d in await self.ascored_search(query, search_type, **kwargs)]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Top-``k`` by MaxSim (``search_type=`` selects another search)."""
        kwargs.setdefault("search_type", "similarity")
        return [d.document for d in self.scored_search(query, k=k, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Async :meth:`similarity_search`."""
        kwargs.setdefault("search_type", "similarity")
        return [d.document for d in await self.ascored_search(query, k=k, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with their raw score (MaxSim; fused score for hybrid; BM25 for keyword)."""
        kwargs.setdefault("search_type", "similarity")
        return [(d.document, d.score) for d in self.scored_search(query, k=k, **kwargs)]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score`."""
        kwargs.setdefault("search_type", "similarity")
        return [(d.document, d.score) for d in await self.ascored_search(query, k=k, **kwargs)]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        kwargs.setdefault("search_type", "similarity")
        return [(d.document, d.relevance) for d in self.scored_search(query, k=k, **kwargs)]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        kwargs.setdefault("search_type", "similarity")
        found = await self.ascored_search(query, k=k, **kwargs)
        return [(d.document, d.relevance) for d in found]

    def similarity_search_by_vector(
        self, embedding: Any, k: int = 4, **kwargs: Any
    ) -> list[Document]:
        """Top-``k`` for a query matrix ``[n_tokens, dim]`` (a 1-D vector is one row)."""
        found = self.scored_search("", "similarity", k=k, vector=embedding, **kwargs)
        return [d.document for d in found]

    async def asimilarity_search_by_vector(
        self, embedding: Any, k: int = 4, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`."""
        found = await self.ascored_search("", "similarity", k=k, vector=embedding, **kwargs)
        return [d.document for d in found]

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """MMR over the ``fetch_k`` best by MaxSim (diversity by symmetric MaxSim)."""
        found = self.scored_search(
            query, "mmr", k=k, fetch_k=fetch_k, lambda_mult=lambda_mult, **kwargs
        )
        return [d.document for d in found]

    async def amax_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`."""
        found = await self.ascored_search(
            query, "mmr", k=k, fetch_k=fetch_k, lambda_mult=lambda_mult, **kwargs
        )
        return [d.document for d in found]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: Any,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR for a query matrix."""
        found = self.scored_search(
            "", "mmr", k=k, vector=embedding, fetch_k=fetch_k, lambda_mult=lambda_mult, **kwargs
        )
        return [d.document for d in found]

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: Any,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`."""
        found = await self.ascored_search(
            "", "mmr", k=k, vector=embedding, fetch_k=fetch_k, lambda_mult=lambda_mult, **kwargs
        )
        return [d.document for d in found]

    # ---------------------------------------------------------------- constructors
    @classmethod
    def _create(
        cls, embedding: Any, collection_name: str | None, client: Client | None, kwargs: Any
    ) -> Self:
        import multivector

        client = client if client is not None else multivector.connect()
        name = collection_name or f"LangChain_{_uuid.uuid4().hex}"
        adapter = _adapt(embedding)
        if client.collections.exists(name):
            collection = client.collections.use(name)
        elif adapter is None:
            raise ConfigError("from_texts() needs an embedding to create a collection")
        else:
            text_key = kwargs.get("text_key", "text")
            collection = client.collections.create(
                name,
                vector_config=Configure.MultiVectors.text2vec(
                    name=VECTOR_NAME, embedder=adapter, source_properties=[text_key]
                ),
                properties=[
                    Property(name=text_key, data_type=DataType.TEXT),
                    Property(
                        name=kwargs.get("metadata_key", "metadata"), data_type=DataType.OBJECT
                    ),
                ],
                auto_schema=False,
            )
        store = cls(collection, adapter, **kwargs)
        store._source_embedding = embedding
        return store

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Any,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        collection_name: str | None = None,
        client: Client | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store over a new collection (in a new in-memory client unless ``client`` is given;
        an existing ``collection_name`` is reused) holding ``texts``.
        """
        store = cls._create(embedding, collection_name, client, kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Any,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        collection_name: str | None = None,
        client: Client | None = None,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_texts`."""
        store = cls._create(embedding, collection_name, client, kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    def as_retriever(self, **kwargs: Any) -> MultiVectorRetriever:
        """A :class:`MultiVectorRetriever` (``search_type`` defaults to ``"similarity"`` here)."""
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        kwargs.setdefault("search_type", "similarity")
        return MultiVectorRetriever(vectorstore=self, tags=tags, **kwargs)


def _no_extra(where: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise ConfigError(f"{where}(): unexpected arguments {sorted(kwargs)}")


from multivector.integrations._langchain_retriever import MultiVectorRetriever  # noqa: E402

MultiVectorRetriever.model_rebuild(_types_namespace={"MultiVectorStore": MultiVectorStore})
