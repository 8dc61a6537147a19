"""LlamaIndex integration: a vector store over one multivector collection.

``pip install 'multivector[llama-index]'``. Everything retrieval-related runs through
:class:`multivector.retrieval.Retriever`; this module only translates.

- :class:`MultiVectorStore` is a ``BasePydanticVectorStore``. It keeps the node's text, metadata
  and JSON in the collection (``stores_text=True``) and embeds with a multi-vector model itself
  (``is_embedding_query=False``), so LlamaIndex passes ``query_str`` and the single-vector
  ``node.embedding`` / ``query_embedding`` are ignored.
- :class:`~.retriever.MultiVectorRetriever` (in :mod:`.retriever`) is a ``BaseRetriever`` with the
  mode, alpha, fusion, top-k and filters fixed at construction; its ``NodeWithScore`` carry the
  score explanation beside the node. :func:`~.retriever.build_index` builds a ``VectorStoreIndex``
  with no single-vector embedding model at all.

Similarities (``VectorStoreQueryResult.similarities``, ``NodeWithScore.score``) are
``RetrievedHit.similarity``: for vector and MMR modes the mean best cosine per query token
(MaxSim / query tokens, in [-1, 1] for normalised vectors); for hybrid the fused score in [0, 1]
(relative_score) or the reciprocal-rank sum (ranked); for keyword modes the BM25 score.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.schema import BaseNode
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
from multivector.api.connect import connect
from multivector.embeddings.calls import aembed_documents, aembed_query
from multivector.errors import ConfigError, InvalidObjectError
from multivector.integrations.llama_index.filters import SearchCall, plan_query
from multivector.integrations.llama_index.node_collection import open_node_collection
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
    plan_add,
    query_result,
)
from multivector.retrieval import RetrievedHit, Retriever, RetrieverSettings
from multivector.schema.config import VectorDType

__all__ = ["NODE_PROPERTIES", "MultiVectorNodeWithScore", "MultiVectorStore"]


class MultiVectorStore(BasePydanticVectorStore):
    """LlamaIndex vector store over a multivector collection (MaxSim + BM25, filters, MMR).

    Build it over a collection with :attr:`NODE_PROPERTIES` (or let :meth:`create` make one).
    ``embedder`` embeds node texts and query strings; it may be omitted when the collection's
    space has a ``text2vec`` vectorizer, or when every call passes matrices
    (``add(nodes, matrices={node_id: matrix})``, ``query(q, query_matrix=matrix)``).
    """

    stores_text: bool = True
    is_embedding_query: bool = False
    flat_metadata: bool = False

    _collection: Collection = PrivateAttr()
    _embedder: MultiVectorEmbedder | None = PrivateAttr(default=None)
    _retriever: Retriever = PrivateAttr()
    _space: str = PrivateAttr()
    _owned_client: Client | None = PrivateAttr(default=None)

    def __init__(
        self,
        collection: Collection,
        embedder: MultiVectorEmbedder | None = None,
        *,
        target_vector: str | None = None,
    ) -> None:
        super().__init__(stores_text=True, is_embedding_query=False)
        if not isinstance(collection, Collection):
            raise ConfigError(
                f"MultiVectorStore(collection=...) needs a multivector Collection, got "
                f"{type(collection).__name__}; open one with client.collections.use(name)"
            )
        space = collection.resolve_target(target_vector)
        check_node_schema(collection.config, has_embedder=embedder is not None, space=space.name)
        self._collection = collection
        self._embedder = embedder
        self._space = space.name
        self._retriever = Retriever(
            collection, target_vector=space.name, query_properties=(TEXT_PROPERTY,)
        )

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
        owned = client is None
        if client is None:
            client = connect(path)
        elif path is not None:
            raise ConfigError("pass either client=... or path=..., not both")
        try:
            collection, own_embedder = open_node_collection(
                client, collection_name, embedder=embedder, vector_name=vector_name, dtype=dtype
            )
            store = cls(collection, own_embedder, target_vector=vector_name)
        except BaseException:
            if owned:
                client.close()
            raise
        store._owned_client = client if owned else None
        return store

    def close(self) -> None:
        """Close the client :meth:`create` opened (a client you passed in stays open)."""
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
        if plan.pending:
            plan.attach(self._own_embedder().embed_documents(plan.texts))
        _raise_failures(self._collection.data.insert_many(plan.objects).errors)
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
        if plan.pending:
            plan.attach(await aembed_documents(self._own_embedder(), plan.texts))
        result = await self._collection.data.ainsert_many(plan.objects)
        _raise_failures(result.errors)
        return plan.ids

    def _plan_add(
        self, nodes: Sequence[BaseNode], matrices: Mapping[str, MatrixLike] | None
    ) -> AddPlan:
        return plan_add(
            nodes,
            matrices,
            space=self._space,
            has_embedder=self._embedder is not None,
            vectorizes=self._collection.resolve_target(self._space).has_vectorizer,
        )

    def _own_embedder(self) -> MultiVectorEmbedder:
        if self._embedder is None:  # pragma: no cover - plans defer work only to an embedder
            raise ConfigError("this MultiVectorStore has no embedder")
        return self._embedder

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
        delete_selected(self._collection, node_ids, filters)

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
        return get_selected(self._collection, node_ids, filters)

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
    def search(self, query: VectorStoreQuery, **kwargs: Any) -> list[RetrievedHit]:
        """Run ``query`` and return the retriever's hits (scores and explanations included).

        ``kwargs``: ``query_matrix`` (skip embedding), ``fusion_type`` (hybrid),
        ``fetch_k`` / ``mmr_prefetch_k`` / ``mmr_prefetch_factor`` (MMR candidates).
        """
        call, settings = self._plan(query, kwargs)
        matrix = call.matrix
        if matrix is None and self._retriever.needs_vector(settings):
            matrix = (
                self._embedder.embed_query(call.text)
                if self._embedder is not None
                else self._retriever.embed_query(call.text, settings)
            )
        return self._retriever.search(call.text, matrix, settings)

    async def asearch(self, query: VectorStoreQuery, **kwargs: Any) -> list[RetrievedHit]:
        """Async :meth:`search`."""
        call, settings = self._plan(query, kwargs)
        matrix = call.matrix
        if matrix is None and self._retriever.needs_vector(settings):
            embedder = self._embedder
            if embedder is None:
                matrix = await self._retriever.aembed_query(call.text, settings)
            else:
                matrix = await aembed_query(embedder, call.text)
        return await asyncio.to_thread(self._retriever.search, call.text, matrix, settings)

    def _plan(
        self, query: VectorStoreQuery, kwargs: Mapping[str, Any]
    ) -> tuple[SearchCall, RetrieverSettings]:
        call = plan_query(query, kwargs)
        return call, self._retriever.with_settings(**call.overrides)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Query the store: DEFAULT -> MaxSim, HYBRID -> hybrid (``alpha``), SPARSE / TEXT_SEARCH
        -> BM25, MMR -> maximal marginal relevance; filters, ``doc_ids`` and ``node_ids`` apply.
        """
        return query_result(self.search(query, **kwargs))

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Async :meth:`query`."""
        return query_result(await self.asearch(query, **kwargs))


def _no_extra(method: str, kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise ConfigError(f"MultiVectorStore.{method}(): unsupported arguments {sorted(kwargs)}")


def _raise_failures(errors: Mapping[int, Any]) -> None:
    if errors:
        first = errors[min(errors)]
        raise InvalidObjectError(
            f"{len(errors)} node(s) were rejected (the others were stored); first: node "
            f"{first.uuid!r}: {first.message}"
        )
