"""End to end with LlamaIndex: VectorStoreIndex over MultiVectorStore, retrievers, a query engine
with MockLLM, index inserts / deletes, a reopened path-backed store, QueryFusionRetriever.

Offline: the MiniLM token embedder, MockLLM, and no single-vector model or OpenAI key.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from multivector.embeddings.minilm import MiniLMTokenEmbedder
from multivector.integrations.llama_index import (
    MultiVectorNodeWithScore,
    MultiVectorRetriever,
    MultiVectorStore,
    build_index,
    no_embedding_model,
)
from tests.conftest import make_client

TEXTS = {
    "sun": "The Sun is the star at the centre of the Solar System.",
    "moon": "The Moon orbits the Earth and causes the ocean tides.",
    "water": "Water boils at one hundred degrees Celsius at sea level.",
    "atom": "An atom has a nucleus of protons and neutrons with electrons around it.",
    "sea": "Sea water is salty because rivers carry dissolved minerals into the ocean.",
}


def _documents() -> list[Document]:
    return [
        Document(id_=key, text=text, metadata={"topic": key, "page number": i})
        for i, (key, text) in enumerate(TEXTS.items())
    ]


class CachedEmbedder:
    """MiniLM with a per-text cache: the corpus and queries repeat across tests and backends."""

    def __init__(self) -> None:
        self.model = MiniLMTokenEmbedder()
        self.docs: dict[str, object] = {}
        self.queries: dict[str, object] = {}

    def embed_documents(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.docs]
        if missing:
            self.docs.update(zip(missing, self.model.embed_documents(missing)))
        return [self.docs[t] for t in texts]

    def embed_query(self, text):
        if text not in self.queries:
            self.queries[text] = self.model.embed_query(text)
        return self.queries[text]


@pytest.fixture(scope="module")
def embedder() -> CachedEmbedder:
    return CachedEmbedder()


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def index(backend_name: str, embedder) -> Iterator[VectorStoreIndex]:
    client = make_client(backend_name)
    store = MultiVectorStore.create(client, embedder=embedder)
    yield VectorStoreIndex.from_documents(
        _documents(),
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=MockEmbedding(embed_dim=1),
    )
    client.close()


def _ref_docs(nodes) -> list[str]:
    return [n.node.ref_doc_id for n in nodes]


def test_hybrid_retriever_from_the_index(index: VectorStoreIndex) -> None:
    retriever = index.as_retriever(vector_store_query_mode="hybrid", alpha=0.5, similarity_top_k=2)
    results = retriever.retrieve("Why is the sea salty?")
    assert len(results) == 2
    assert results[0].node.ref_doc_id == "sea"
    assert 0.0 < results[0].score <= 1.0
    assert results[0].node.metadata == {"topic": "sea", "page number": 4}


def test_default_and_keyword_modes_and_filters(index: VectorStoreIndex) -> None:
    dense = index.as_retriever(similarity_top_k=1).retrieve("What does the Moon do to tides?")
    assert _ref_docs(dense) == ["moon"]
    keyword = index.as_retriever(vector_store_query_mode="text_search", similarity_top_k=1)
    assert _ref_docs(keyword.retrieve("protons neutrons")) == ["atom"]
    filters = MetadataFilters(filters=[MetadataFilter(key="page number", operator="<", value=2)])
    filtered = index.as_retriever(filters=filters, similarity_top_k=5).retrieve("ocean")
    assert set(_ref_docs(filtered)) <= {"sun", "moon"} and filtered


def test_query_engine_with_mock_llm_answers(index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
    response = engine.query("At what temperature does water boil?")
    assert "one hundred degrees" in str(response)
    assert response.source_nodes[0].node.ref_doc_id == "water"


def test_insert_and_delete_through_the_index_propagate(index: VectorStoreIndex) -> None:
    store = index.vector_store
    assert isinstance(store, MultiVectorStore)
    index.insert(Document(id_="volcano", text="Volcanoes erupt molten lava and ash."))
    found = store.get_nodes(filters=None)
    assert "volcano" in {n.ref_doc_id for n in found}
    top = index.as_retriever(similarity_top_k=1).retrieve("lava from a volcano")
    assert _ref_docs(top) == ["volcano"]
    index.delete_ref_doc("volcano")
    assert "volcano" not in {n.ref_doc_id for n in store.get_nodes()}
    assert "volcano" not in _ref_docs(index.as_retriever(similarity_top_k=6).retrieve("lava"))


def test_query_fusion_with_another_retriever_has_no_duplicates(index: VectorStoreIndex) -> None:
    store = index.vector_store
    ours = MultiVectorRetriever(vector_store=store, mode="hybrid", alpha=0.5, similarity_top_k=3)
    theirs = index.as_retriever(similarity_top_k=3)  # LlamaIndex's own VectorIndexRetriever
    for mode in ("reciprocal_rerank", "relative_score", "simple"):
        fusion = QueryFusionRetriever(
            [ours, theirs], llm=MockLLM(), num_queries=1, mode=mode, similarity_top_k=5
        )
        fused = fusion.retrieve("Why is the sea salty?")
        ids = [n.node.node_id for n in fused]
        assert len(ids) == len(set(ids))
        union = {n.node.node_id for n in ours.retrieve("Why is the sea salty?")} | {
            n.node.node_id for n in theirs.retrieve("Why is the sea salty?")
        }
        assert set(ids) == union
        assert fused[0].node.ref_doc_id == "sea"


async def test_async_retrieval_through_the_index(index: VectorStoreIndex) -> None:
    retriever = index.as_retriever(vector_store_query_mode="hybrid", alpha=0.0)
    results = await retriever.aretrieve("protons and electrons")
    assert results[0].node.ref_doc_id == "atom"
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
    response = await engine.aquery("Which star is at the centre of the Solar System?")
    assert response.source_nodes[0].node.ref_doc_id == "sun"


def test_build_index_helper_needs_no_embedding_model(backend_name: str, embedder) -> None:
    client = make_client(backend_name)
    try:
        store = MultiVectorStore.create(client, embedder=embedder)
        index = build_index(store, _documents())
        assert isinstance(index._embed_model, MockEmbedding)
        engine = RetrieverQueryEngine.from_args(
            MultiVectorRetriever(vector_store=store, similarity_top_k=1), llm=MockLLM()
        )
        response = engine.query("What orbits the Earth?")
        assert response.source_nodes[0].node.ref_doc_id == "moon"
        assert isinstance(response.source_nodes[0], MultiVectorNodeWithScore)
        assert no_embedding_model().embed_dim == 1
    finally:
        client.close()


def test_reopened_path_backed_store_answers_the_same(tmp_path: Path, embedder) -> None:
    path = tmp_path / "store"
    store = MultiVectorStore.create(path=path, embedder=embedder)
    index = build_index(store, _documents())
    retriever = index.as_retriever(vector_store_query_mode="hybrid", alpha=0.5)
    before = [(n.node.node_id, n.score, n.node.metadata) for n in retriever.retrieve("salty sea")]
    store.persist(str(tmp_path / "ignored"))  # documented no-op
    store.close()

    reopened = MultiVectorStore.create(path=path, embedder=embedder)
    try:
        again = build_index(reopened).as_retriever(vector_store_query_mode="hybrid", alpha=0.5)
        after = [(n.node.node_id, n.score, n.node.metadata) for n in again.retrieve("salty sea")]
        assert [a[0] for a in after] == [b[0] for b in before]
        assert [a[1] for a in after] == pytest.approx([b[1] for b in before], abs=1e-6)
        assert [a[2] for a in after] == [b[2] for b in before]
    finally:
        reopened.close()
    assert not (tmp_path / "ignored").exists()


def test_example_runs_offline(capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "llamaindex_rag.py"
    argv = sys.argv
    sys.argv = [str(example), "--passages", "6", "Why is the sea salty?"]
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(example), run_name="__main__")
    finally:
        sys.argv = argv
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "Why is the sea salty?" in out
    assert "score" in out and "answer" in out.lower()
    assert "OPENAI_API_KEY" not in os.environ
