"""LangChain integration: :class:`MultiVectorStore` (a ``VectorStore``) and :class:`MultiVectorRetriever`.

Both are thin translations over :class:`multivector.retrieval.Retriever`: LangChain arguments go
in (:mod:`.arguments`), ``RetrievedHit`` comes out as ``Document`` (:mod:`.documents`, which also
writes down the storage layout). LangChain's search methods are those of
:class:`~.scored_store.ScoredVectorStore`, all over :meth:`MultiVectorStore.scored_search`.

Relevance scores (``similarity_search_with_relevance_scores``) map the retriever's ``similarity``
into [0, 1]: vector and MMR searches ``(mean best cosine + 1) / 2``; hybrid ``relative_score``
as is; hybrid ``ranked`` times 60 (two first places make 1); keyword ``bm25 / (1 + bm25)``.
Needs ``pip install 'multivector[langchain]'``.
"""

from __future__ import annotations

import asyncio
import uuid as _uuid
from collections.abc import Iterable, Sequence
from typing import Any

from multivector._types import F32Array, Matrix
from multivector.api.client import Client
from multivector.api.collection import Collection
from multivector.api.connect import connect
from multivector.api.ingest import DataObject
from multivector.embeddings.adapters import EmbeddingsAdapter, as_matrix
from multivector.errors import ConfigError, OptionalDependencyError
from multivector.integrations.langchain.arguments import search_overrides
from multivector.retrieval import (
    RetrievedHit,
    Retriever,
    RetrieverSettings,
    relevance_score,
)
from multivector.schema.config import DataType, Property
from multivector.schema.configure import Configure
from multivector.schema.query import Filter

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from typing_extensions import Self
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise OptionalDependencyError("langchain-core", "langchain") from exc

from multivector.integrations.langchain.documents import check_inserted, text_objects, to_document
from multivector.integrations.langchain.retriever import MultiVectorRetriever
from multivector.integrations.langchain.scored_store import ScoredDocument, ScoredVectorStore

__all__ = ["EmbeddingsAdapter", "MultiVectorRetriever", "MultiVectorStore", "ScoredDocument"]

VECTOR_NAME = "multi_vector"


def _adapt(embedding: Any) -> EmbeddingsAdapter | None:
    if embedding is None or isinstance(embedding, EmbeddingsAdapter):
        return embedding
    return EmbeddingsAdapter(embedding)


class MultiVectorStore(ScoredVectorStore):
    """A LangChain ``VectorStore`` over one multivector collection (embedded or Qdrant).

    ``embedding`` is a LangChain ``Embeddings`` (each vector becomes a one-row matrix) or a
    multi-vector embedder (Jina, MiniLM tokens, your own); it may be omitted when the collection's
    space has a ``text2vec`` vectorizer. Search types: ``similarity``, ``mmr``,
    ``similarity_score_threshold``, ``hybrid`` and ``keyword``; ``filter`` takes the dict filter
    language of :mod:`multivector.integrations.langchain.filters` or a native ``Filter``.
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
        return text_objects(
            texts,
            metadatas,
            ids,
            text_key=self.text_key,
            metadata_key=self.metadata_key,
            has_metadata=self.collection.config.property(self.metadata_key) is not None,
        )

    def _attach(self, objects: list[DataObject], matrices: Sequence[Matrix]) -> None:
        for obj, matrix in zip(objects, matrices, strict=True):
            obj.vector = {self.target_vector: matrix}

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
        return check_inserted(self.collection.data.insert_many(objects), uids)

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
        return check_inserted(await self.collection.data.ainsert_many(objects), uids)

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
        return [to_document(o.uuid, o.properties, *self._keys) for o in found]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return await asyncio.to_thread(self.get_by_ids, ids)

    # ---------------------------------------------------------------- search core
    @property
    def _keys(self) -> tuple[str, str]:
        return self.text_key, self.metadata_key

    def _overrides(self, search_type: str, k: int, options: dict[str, Any]) -> RetrieverSettings:
        overrides = search_overrides(search_type, k, options, metadata_key=self.metadata_key)
        return self._retriever.with_settings(**overrides)

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
                to_document(h.uuid, h.properties, *self._keys),
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

    # ---------------------------------------------------------------- constructors
    @classmethod
    def _create(
        cls, embedding: Any, collection_name: str | None, client: Client | None, kwargs: Any
    ) -> Self:
        client = client if client is not None else connect()
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
