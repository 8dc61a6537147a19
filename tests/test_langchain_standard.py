"""LangChain's standard suites (``langchain-tests``, pinned ``>=0.3.20,<2``) on every backend.

``VectorStoreIntegrationTests`` uses its own deterministic 6-dim single-vector embeddings: each
vector becomes an L2-normalised one-row matrix, so MaxSim is cosine similarity and the suite's
expected orderings (an exact text first) hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import make_client
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)

import multivector
from multivector.integrations.langchain import MultiVectorRetriever, MultiVectorStore

_TEXTS = [
    "MaxSim scores every query token against its best document token",
    "BM25 ranks documents by term frequency and inverse document frequency",
    "Hybrid search fuses a vector leg and a keyword leg",
    "Late interaction keeps one vector per token",
    "An embedded store needs no server",
]


class _VectorStoreSuite(VectorStoreIntegrationTests):
    backend: str = "embedded"

    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:  # type: ignore[override]
        client = make_client(self.backend)
        try:
            yield MultiVectorStore.from_texts(
                [], self.get_embeddings(), collection_name="Standard", client=client
            )
        finally:
            client.close()


class TestVectorStoreEmbedded(_VectorStoreSuite):
    backend = "embedded"


class TestVectorStoreQdrant(_VectorStoreSuite):
    backend = "qdrant"


class _RetrieverSuite(RetrieversIntegrationTests):
    backend: str = "embedded"
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
        store = MultiVectorStore.from_texts(
            _TEXTS,
            VectorStoreIntegrationTests.get_embeddings(),
            collection_name="Standard",
            client=client,
        )
        return {"vectorstore": store, "search_type": "hybrid", "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "how does hybrid search fuse a vector leg with BM25?"


class TestRetrieverEmbedded(_RetrieverSuite):
    backend = "embedded"


class TestRetrieverQdrant(_RetrieverSuite):
    backend = "qdrant"
