"""LangChain integration: :class:`MultiVectorStore` (a ``VectorStore``) and :class:`MultiVectorRetriever`.

Both are thin translations over :class:`multivector.retrieval.Retriever`: LangChain arguments go
in (:mod:`.arguments`), ``RetrievedHit`` comes out as ``Document`` (:mod:`.documents`), through
the collection's :class:`~multivector.integrations.mapping.DocumentMapping` (which property is
the text, where the metadata lives, where a filter key looks). LangChain's search methods are
those of :class:`~.scored_store.ScoredVectorStore`, all over :meth:`MultiVectorStore.scored_search`.

Relevance scores (``similarity_search_with_relevance_scores``) map the retriever's ``similarity``
into [0, 1]: vector and MMR searches ``(mean best cosine + 1) / 2``, comparable across queries;
hybrid ``relative_score`` as is (normalised per query); hybrid ``ranked`` times 60 (two first
places make 1); keyword ``bm25 / (1 + bm25)``. :meth:`MultiVectorStore.explained_search` adds
each leg's raw score. Needs ``pip install 'multivector[langchain]'``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from multivector._types import Matrix
from multivector.api.client import Client
from multivector.api.collection import Collection
from multivector.api.ingest import DataObject
from multivector.embeddings.adapters import EmbeddingsAdapter, as_embedder
from multivector.errors import ConfigError, OptionalDependencyError
from multivector.integrations.langchain.building import (
    check_options,
    open_client,
    open_collection,
)
from multivector.integrations.mapping import DocumentMapping
from multivector.retrieval import Retriever
from multivector.schema.query import Filter

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from typing_extensions import Self
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise OptionalDependencyError("langchain-core", "langchain") from exc

from multivector.integrations.langchain.documents import check_inserted, text_objects, to_document
from multivector.integrations.langchain.retriever import MultiVectorRetriever
from multivector.integrations.langchain.scored_store import ExplainedDocument, ScoredDocument
from multivector.integrations.langchain.searching import SearchingStore

__all__ = [
    "EmbeddingsAdapter",
    "ExplainedDocument",
    "MultiVectorLangChainStore",
    "MultiVectorRetriever",
    "MultiVectorStore",
    "ScoredDocument",
]


class MultiVectorStore(SearchingStore):
    """A LangChain ``VectorStore`` over one multivector collection (embedded or Qdrant), whatever
    made it: ``from_texts``, the Weaviate tutorial's calls, another app.

    ``embedding`` is a multi-vector embedder (Jina, MiniLM tokens, your own), or a LangChain
    ``Embeddings`` / LlamaIndex ``BaseEmbedding`` (each vector becomes a one-row matrix); it may
    be omitted when the collection's space embeds text itself (``text2vec*``). ``text_key`` names
    the text property; metadata lives in the OBJECT property ``metadata_key`` when the collection
    has one, else in the other properties (see :mod:`multivector.integrations.mapping`). Search
    types: ``similarity``, ``mmr``, ``similarity_score_threshold``, ``hybrid`` and ``keyword``;
    ``filter`` takes the dict filter language of :mod:`multivector.integrations.langchain.filters`
    or a native ``Filter``.
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
        if not isinstance(collection, Collection):
            raise ConfigError(
                f"MultiVectorStore(collection=...) needs a multivector Collection, got "
                f"{type(collection).__name__}; open one with client.collections.use(name) or use "
                "MultiVectorStore.from_existing_collection(name, ...)"
            )
        self.collection = collection
        self.text_key = text_key
        self.metadata_key = metadata_key
        self.mapping = DocumentMapping.of(
            collection.config, text_key=text_key, metadata_key=metadata_key
        )
        self._source_embedding = embedding
        self._embedder = as_embedder(embedding)
        self._normalize = not isinstance(self._embedder, EmbeddingsAdapter) or (
            self._embedder.normalize
        )
        space = collection.resolve_target(target_vector)
        self.target_vector = space.name
        if self._embedder is None:
            _check_collection_embeds(collection, space.name, space.has_vectorizer)
        # Embed here only when the collection would not embed with this very embedder itself.
        self._self_embed = self._embedder is not None and not (
            space.has_vectorizer and space.embedder is self._embedder
        )
        self._retriever = Retriever(collection, target_vector=space.name)
        self._owned_client: Client | None = None

    @property
    def embeddings(self) -> Embeddings | None:
        """The LangChain ``Embeddings`` given, if it is one."""
        source = self._source_embedding
        return source if isinstance(source, Embeddings) else None

    def close(self) -> None:
        """Close the client ``from_texts(path=...)`` / ``from_existing_collection`` opened (a
        client you passed in stays open).
        """
        if self._owned_client is not None:
            self._owned_client.close()
            self._owned_client = None

    # ---------------------------------------------------------------- writes
    def _objects(
        self,
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]] | None,
        ids: Sequence[str | None] | None,
    ) -> tuple[list[str], list[DataObject]]:
        return text_objects(texts, metadatas, ids, mapping=self.mapping)

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
            from multivector.embeddings.calls import aembed_documents

            self._attach(objects, await aembed_documents(self._embedder, texts))
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
        return [to_document(o.uuid, o.properties, self.mapping) for o in found]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return await asyncio.to_thread(self.get_by_ids, ids)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def _open(
        cls,
        embedding: Any,
        collection_name: str | None,
        client: Client | None,
        path: str | Path | None,
        options: dict[str, Any],
        *,
        create: bool,
    ) -> Self:
        opened = open_client(client, path)
        try:
            if create:
                collection = open_collection(
                    opened.client,
                    collection_name,
                    as_embedder(embedding),
                    text_key=options.get("text_key", "text"),
                    metadata_key=options.get("metadata_key", "metadata"),
                )
            else:
                collection = opened.client.collections.use(str(collection_name))
            store = cls(collection, embedding, **options)
        except BaseException:
            if opened.owned:
                opened.client.close()
            raise
        store._owned_client = opened.client if opened.owned else None
        return store

    @classmethod
    def from_existing_collection(
        cls,
        collection_name: str,
        embedding: Any = None,
        *,
        client: Client | None = None,
        path: str | Path | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store over an existing collection of ``client`` (or of the durable store under
        ``path``), whatever made it. ``embedding`` may be omitted when the collection embeds text
        itself, built-in embedders included (they are rebuilt from the stored configuration);
        ``kwargs``: ``target_vector``, ``text_key``, ``metadata_key``.
        """
        options = check_options("from_existing_collection()", kwargs)
        return cls._open(embedding, collection_name, client, path, options, create=False)

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
        path: str | Path | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store over collection ``collection_name`` (reused when it exists, else created; a
        fresh ``LangChain_<hex>`` name when None) holding ``texts``, in ``client``, in a new
        durable client under ``path`` (as Chroma's ``persist_directory``), or in a new in-memory
        client. ``kwargs``: ``target_vector``, ``text_key``, ``metadata_key``.
        """
        options = check_options("from_texts()", kwargs)
        store = cls._open(embedding, collection_name, client, path, options, create=True)
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
        path: str | Path | None = None,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_texts`."""
        options = check_options("afrom_texts()", kwargs)
        store = cls._open(embedding, collection_name, client, path, options, create=True)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    def as_retriever(self, **kwargs: Any) -> MultiVectorRetriever:
        """A :class:`MultiVectorRetriever` (``search_type`` defaults to ``"similarity"`` here)."""
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        kwargs.setdefault("search_type", "similarity")
        return MultiVectorRetriever(vectorstore=self, tags=tags, **kwargs)


def _check_collection_embeds(collection: Collection, space: str, has_vectorizer: bool) -> None:
    if not has_vectorizer:
        raise ConfigError(
            f"vector {space!r} of {collection.name!r} is self-provided: pass embedding=... "
            "(a multi-vector embedder or a LangChain Embeddings)"
        )
    try:
        collection.embedder(space)
    except ConfigError as exc:
        raise ConfigError(
            f"vector {space!r} of {collection.name!r} was embedded by your own embedder, which is "
            "not saved with the collection (only built-in embedders are): pass it again, e.g. "
            f"MultiVectorStore.from_existing_collection({collection.name!r}, embedding=...)"
        ) from exc


def _no_extra(where: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise ConfigError(f"{where}(): unexpected arguments {sorted(kwargs)}")


#: The same class under a name that does not clash with LlamaIndex's store.
MultiVectorLangChainStore = MultiVectorStore
