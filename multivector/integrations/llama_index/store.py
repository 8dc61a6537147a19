"""LlamaIndex integration: a vector store over one multivector collection.

``pip install 'multivector[llama-index]'``. Everything retrieval-related runs through
:class:`multivector.retrieval.Retriever`; this module only translates.

- :class:`MultiVectorStore` (a ``BasePydanticVectorStore``) keeps the node's text, metadata and
  JSON in any collection, placed by the shared :class:`~multivector.integrations.mapping.DocumentMapping`
  (``stores_text=True``), and embeds with a multi-vector model (``is_embedding_query=False``:
  ``node.embedding`` / ``query_embedding`` are ignored).
- :class:`~.retriever.MultiVectorRetriever` is a ``BaseRetriever`` with fixed search settings;
  :mod:`.indexing` fills LlamaIndex's single-vector slot without a model (``MultiVectorEmbedding``).

Similarities (``VectorStoreQueryResult.similarities``, ``NodeWithScore.score``) are
``RetrievedHit.similarity``: for vector and MMR modes the mean best cosine per query token
(MaxSim / query tokens, in [-1, 1] for normalised vectors, comparable across queries, so a
``similarity_cutoff`` means the same for every query); for hybrid the fused score in [0, 1]
(relative_score, normalised per query) or the reciprocal-rank sum (ranked); for keyword modes the
BM25 score.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.schema import BaseNode, NodeWithScore
    from llama_index.core.vector_stores.types import (
        BasePydanticVectorStore,
        MetadataFilters,
        VectorStoreQuery,
        VectorStoreQueryResult,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from multivector.errors import OptionalDependencyError

    raise OptionalDependencyError("llama-index-core", "llama-index") from exc

from multivector._types import MatrixLike, MultiVectorEmbedder
from multivector.api.client import Client
from multivector.api.collection import Collection
from multivector.embeddings.adapters import check_multi_vector
from multivector.errors import ConfigError
from multivector.integrations.llama_index.node_collection import (
    open_existing,
    open_node_collection,
    with_client,
)
from multivector.integrations.llama_index.node_selection import (
    delete_all,
    delete_document,
    delete_selected,
    get_selected,
)
from multivector.integrations.llama_index.nodes import (
    NODE_PROPERTIES,
    TEXT_PROPERTY,
    AddPlan,
    MultiVectorNodeWithScore,
    check_node_schema,
    check_writable,
    plan_add,
    query_result,
    raise_failures,
)
from multivector.integrations.llama_index.querying import (
    QueryContext,
    aembedded,
    arun_query,
    check_collection_embeds,
    embedded,
    run_query,
)
from multivector.integrations.mapping import DocumentMapping
from multivector.retrieval import RetrievedHit, Retriever
from multivector.schema.config import VectorDType

__all__ = [
    "NODE_PROPERTIES",
    "MultiVectorLlamaIndexStore",
    "MultiVectorNodeWithScore",
    "MultiVectorStore",
]


class MultiVectorStore(BasePydanticVectorStore):
    """LlamaIndex vector store over a multivector collection (MaxSim + BM25, filters, MMR).

    Build it over any collection (:meth:`from_existing_collection`, or the constructor), or let
    :meth:`create` make one with :data:`NODE_PROPERTIES`. ``text_key`` names the text property;
    metadata lives in a ``metadata`` OBJECT property when the collection has one, else in the
    other properties. ``embedder`` is a multi-vector embedder that embeds node texts and query
    strings (a single-vector model is refused); it may be omitted when the collection's space
    embeds text itself (``text2vec*``), or when every call passes matrices
    (``add(nodes, matrices={node_id: matrix})``, ``query(q, query_matrix=matrix)``).
    """

    stores_text: bool = True
    is_embedding_query: bool = False
    flat_metadata: bool = False

    _collection: Collection = PrivateAttr()
    _embedder: MultiVectorEmbedder | None = PrivateAttr(default=None)
    _retriever: Retriever = PrivateAttr()
    _space: str = PrivateAttr()
    _mapping: DocumentMapping = PrivateAttr()
    _owned_client: Client | None = PrivateAttr(default=None)

    def __init__(
        self,
        collection: Collection,
        embedder: MultiVectorEmbedder | None = None,
        *,
        target_vector: str | None = None,
        text_key: str = TEXT_PROPERTY,
    ) -> None:
        super().__init__(stores_text=True, is_embedding_query=False)
        if not isinstance(collection, Collection):
            raise ConfigError(
                f"MultiVectorStore(collection=...) needs a multivector Collection, got "
                f"{type(collection).__name__}; open one with client.collections.use(name) or use "
                "MultiVectorStore.from_existing_collection(name, ...)"
            )
        embedder = check_multi_vector(embedder, where="MultiVectorStore(...)")
        space = collection.resolve_target(target_vector)
        config = collection.config
        self._mapping = DocumentMapping.of(config, text_key=text_key)
        check_node_schema(
            config, has_embedder=embedder is not None, space=space.name, text_key=text_key
        )
        if embedder is None and space.has_vectorizer:
            check_collection_embeds(collection, space.name)
        self._collection = collection
        self._embedder = embedder
        self._space = space.name
        self._retriever = Retriever(collection, target_vector=space.name)

    # ------------------------------------------------------------- building
    @classmethod
    def create(
        cls,
        client: Client | None = None,
        *,
        path: str | Path | None = None,
        collection_name: str = "LlamaIndexNodes",
        embedder: MultiVectorEmbedder | None = None,
        vector_name: str = "default",
        dtype: VectorDType = "float16",
    ) -> MultiVectorStore:
        """Open ``collection_name`` in ``client`` (or in a new client: in memory, or durable under
        ``path``), creating it with the node schema when missing (:mod:`.node_collection`).

        A new collection gets a ``text2vec`` space over ``text`` when ``embedder`` is given, else a
        self-provided one. :meth:`close` closes a client this method opened.
        """
        embedder = check_multi_vector(embedder, where="MultiVectorStore.create(...)")

        def build(opened: Client) -> MultiVectorStore:
            collection, own_embedder = open_node_collection(
                opened, collection_name, embedder=embedder, vector_name=vector_name, dtype=dtype
            )
            return cls(collection, own_embedder, target_vector=vector_name)

        store, owned = with_client(client, path, build)
        store._owned_client = owned
        return store

    @classmethod
    def from_existing_collection(
        cls,
        collection_name: str,
        embedder: MultiVectorEmbedder | None = None,
        *,
        client: Client | None = None,
        path: str | Path | None = None,
        target_vector: str | None = None,
        text_key: str = TEXT_PROPERTY,
    ) -> MultiVectorStore:
        """A store over an existing collection of ``client`` (or of the durable store under
        ``path``), whatever made it: the seed's ``DemoCollection``, a ``from_texts`` one, a
        collection on Qdrant. ``embedder`` may be omitted when the collection embeds text itself
        (built-in embedders are rebuilt from the stored configuration) or for read-only use with
        query matrices. :meth:`close` closes a client this method opened.
        """
        embedder = check_multi_vector(
            embedder, where="MultiVectorStore.from_existing_collection(...)"
        )

        def build(opened: Client) -> MultiVectorStore:
            collection, own_embedder = open_existing(
                opened, collection_name, embedder=embedder, space=target_vector
            )
            return cls(collection, own_embedder, target_vector=target_vector, text_key=text_key)

        store, owned = with_client(client, path, build)
        store._owned_client = owned
        return store

    def close(self) -> None:
        """Close the client :meth:`create` / :meth:`from_existing_collection` opened (a client
        you passed in stays open).
        """
        if self._owned_client is not None:
            self._owned_client.close()
            self._owned_client = None

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex component name."""
        return "MultiVectorStore"

    @property
    def client(self) -> Collection:
        """The collection this store reads and writes (LlamaIndex's ``client``)."""
        return self._collection

    @property
    def collection(self) -> Collection:
        """The collection this store reads and writes."""
        return self._collection

    @property
    def retriever(self) -> Retriever:
        """The framework-free retriever every query runs through."""
        return self._retriever

    @property
    def mapping(self) -> DocumentMapping:
        """Where this collection keeps the text and the metadata (and where filters look)."""
        return self._mapping

    # ---------------------------------------------------------------- writes
    def add(
        self,
        nodes: Sequence[BaseNode],
        *,
        matrices: Mapping[str, MatrixLike] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Store ``nodes`` (text, metadata, relationships) and return their ids in order.

        ``matrices`` maps node ids to token matrices the caller computed; other nodes are
        embedded with the store's embedder or the collection's ``text2vec`` vectorizer.
        ``node.embedding`` (a single vector) is ignored. An existing id is replaced.
        """
        _no_extra("add", kwargs)
        plan = self._plan_add(nodes, matrices)
        if plan.pending and self._embedder is not None:  # pending only with an embedder
            plan.attach(embedded(self._embedder.embed_documents, plan.texts))
        raise_failures(self._collection.data.insert_many(plan.objects).errors, plan.ids)
        return plan.ids

    async def async_add(
        self,
        nodes: Sequence[BaseNode],
        *,
        matrices: Mapping[str, MatrixLike] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add` (uses the embedder's async method when it has one)."""
        _no_extra("async_add", kwargs)
        plan = self._plan_add(nodes, matrices)
        if plan.pending and self._embedder is not None:
            plan.attach(await aembedded(self._embedder, plan.texts))
        result = await self._collection.data.ainsert_many(plan.objects)
        raise_failures(result.errors, plan.ids)
        return plan.ids

    def _plan_add(
        self, nodes: Sequence[BaseNode], matrices: Mapping[str, MatrixLike] | None
    ) -> AddPlan:
        if nodes:
            check_writable(self._collection.config, self._mapping)
        return plan_add(
            nodes,
            matrices,
            space=self._space,
            has_embedder=self._embedder is not None,
            vectorizes=self._collection.resolve_target(self._space).has_vectorizer,
            mapping=self._mapping,
        )

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node whose source document is ``ref_doc_id``."""
        _no_extra("delete", delete_kwargs)
        delete_document(self._collection, ref_doc_id)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Async :meth:`delete`."""
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete the nodes with these ids and / or matching ``filters`` (both: the intersection).

        An empty ``node_ids`` list deletes nothing; with neither argument this raises (use
        :meth:`clear` to delete everything).
        """
        _no_extra("delete_nodes", delete_kwargs)
        delete_selected(self._collection, node_ids, filters, self._mapping)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Async :meth:`delete_nodes`."""
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """The stored nodes with these ids and / or matching ``filters`` (neither: all of them).

        With ``node_ids`` the nodes come back in that order (missing ids are skipped; an empty
        list gives no nodes); otherwise in insertion order.
        """
        return get_selected(self._collection, node_ids, filters, self._mapping)

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Async :meth:`get_nodes`."""
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    def clear(self) -> None:
        """Delete every node (the collection and its schema stay)."""
        delete_all(self._collection)

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await asyncio.to_thread(self.clear)

    def persist(self, persist_path: str, fs: Any = None) -> None:
        """No-op: a path-backed collection (``multivector.connect(path)``) is durable after every
        acknowledged write; an in-memory one cannot be persisted (open it from a path instead).
        """
        return None

    # --------------------------------------------------------------- queries
    def _context(self) -> QueryContext:
        known = self._collection.backend.known_config  # what the query plan is validated against
        return QueryContext(self._retriever, self._embedder, self._mapping, known)

    def search(self, query: VectorStoreQuery, **kwargs: Any) -> list[RetrievedHit]:
        """Run ``query`` and return the retriever's hits (scores and explanations included).

        ``kwargs``: ``query_matrix`` (skip embedding), ``fusion_type`` (hybrid),
        ``fetch_k`` / ``mmr_prefetch_k`` / ``mmr_prefetch_factor`` (MMR candidates).
        """
        return run_query(self._context(), query, kwargs).hits

    async def asearch(self, query: VectorStoreQuery, **kwargs: Any) -> list[RetrievedHit]:
        """Async :meth:`search`."""
        return (await arun_query(self._context(), query, kwargs)).hits

    def search_nodes(self, query: VectorStoreQuery, **kwargs: Any) -> list[NodeWithScore]:
        """Run ``query`` and return :class:`MultiVectorNodeWithScore` s: the similarity as
        ``score``, plus the raw score, the hybrid explanation and each leg's raw score.
        """
        return run_query(self._context(), query, kwargs).nodes(self._mapping)

    async def asearch_nodes(self, query: VectorStoreQuery, **kwargs: Any) -> list[NodeWithScore]:
        """Async :meth:`search_nodes`."""
        return (await arun_query(self._context(), query, kwargs)).nodes(self._mapping)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Query the store: DEFAULT -> MaxSim, HYBRID -> hybrid (``alpha``), SPARSE / TEXT_SEARCH
        -> BM25, MMR -> maximal marginal relevance; filters, ``doc_ids`` and ``node_ids`` apply.
        """
        return query_result(self.search(query, **kwargs), self._mapping)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Async :meth:`query`."""
        return query_result(await self.asearch(query, **kwargs), self._mapping)


def _no_extra(method: str, kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise ConfigError(f"MultiVectorStore.{method}(): unsupported arguments {sorted(kwargs)}")


#: The same class under a name that does not clash with LangChain's store.
MultiVectorLlamaIndexStore = MultiVectorStore
