"""LangChain's standard suites (``langchain-tests``, pinned ``>=0.3.20,<2``) on every backend and
over every collection layout of :mod:`integration_layouts`: our ``from_texts`` layout, the Weaviate
tutorial's ``DemoCollection`` (``text`` + ``docid``, self-provided) and a ``text2vec`` collection.

``VectorStoreIntegrationTests`` uses its own deterministic 6-dim single-vector embeddings: each
vector becomes an L2-normalised one-row matrix, so MaxSim is cosine similarity and the suite's
expected orderings (an exact text first) hold. Its documents carry metadata ``{"id": 1}``: ``id`` is
a reserved property name, so on the flat layouts it round-trips through ``_metadata``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import make_client
from integration_layouts import langchain_store
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)

import multivector
from multivector.integrations.langchain import MultiVectorRetriever

_TEXTS = [
    "MaxSim scores every query token against its best document token",
    "BM25 ranks documents by term frequency and inverse document frequency",
    "Hybrid search fuses a vector leg and a keyword leg",
    "Late interaction keeps one vector per token",
    "An embedded store needs no server",
]


class _VectorStoreSuite(VectorStoreIntegrationTests):
    backend: str = "embedded"
    layout: str = "ours"

    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:  # type: ignore[override]
        client = make_client(self.backend)
        try:
            store = langchain_store(client, self.layout, self.get_embeddings())
            assert store.mapping.nested is (self.layout == "ours")
            yield store
        finally:
            client.close()


class TestVectorStoreEmbedded(_VectorStoreSuite):
    backend = "embedded"


class TestVectorStoreQdrant(_VectorStoreSuite):
    backend = "qdrant"


class TestVectorStoreEmbeddedSeed(_VectorStoreSuite):
    backend, layout = "embedded", "seed"


class TestVectorStoreQdrantSeed(_VectorStoreSuite):
    backend, layout = "qdrant", "seed"


class TestVectorStoreEmbeddedText2vec(_VectorStoreSuite):
    backend, layout = "embedded", "text2vec"


class TestVectorStoreQdrantText2vec(_VectorStoreSuite):
    backend, layout = "qdrant", "text2vec"


class _RetrieverSuite(RetrieversIntegrationTests):
    backend: str = "embedded"
    layout: str = "ours"
    _clients: list[multivector.Client]

    @pytest.fixture(autouse=True)
    def _close_clients(self) -> Iterator[None]:
        self._clients = []
        yield
        for client in self._clients:
            client.close()

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return MultiVectorRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        client = make_client(self.backend)
        self._clients.append(client)
        store = langchain_store(client, self.layout, VectorStoreIntegrationTests.get_embeddings())
        store.add_texts(_TEXTS, metadatas=[{"docid": f"doc{i}"} for i in range(len(_TEXTS))])
        return {"vectorstore": store, "search_type": "hybrid", "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "how does hybrid search fuse a vector leg with BM25?"


class TestRetrieverEmbedded(_RetrieverSuite):
    backend = "embedded"


class TestRetrieverQdrant(_RetrieverSuite):
    backend = "qdrant"


class TestRetrieverEmbeddedSeed(_RetrieverSuite):
    backend, layout = "embedded", "seed"


class TestRetrieverQdrantSeed(_RetrieverSuite):
    backend, layout = "qdrant", "seed"


class TestRetrieverEmbeddedText2vec(_RetrieverSuite):
    backend, layout = "embedded", "text2vec"


class TestRetrieverQdrantText2vec(_RetrieverSuite):
    backend, layout = "qdrant", "text2vec"
