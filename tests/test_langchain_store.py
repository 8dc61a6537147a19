"""Our own tests of the LangChain integration, on every backend: storage facts, search types,
the dict filter language, user matrices, relevance bounds, async twins, a chain and an agent tool.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_client
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError, FilterError, InvalidObjectError
from multivector.integrations.langchain import (
    EmbeddingsAdapter,
    MultiVectorRetriever,
    MultiVectorStore,
)
from multivector.integrations.langchain.filters import translate_filter
from multivector.query import Filter

ROOT = Path(__file__).resolve().parent.parent


class WordEmbedder:
    """A deterministic multi-vector embedder: one unit vector per word (shared words match)."""

    dim = 16

    def __init__(self) -> None:
        self.calls = 0

    def _vec(self, word: str) -> np.ndarray:
        v = np.random.default_rng(zlib.crc32(word.encode())).normal(size=self.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def matrix(self, text: str) -> np.ndarray:
        words = re.findall(r"\w+", text.lower()) or ["<empty>"]
        return np.stack([self._vec(w) for w in words])

    def embed_documents(self, texts):
        self.calls += 1
        return [self.matrix(t) for t in texts]

    def embed_query(self, text):
        self.calls += 1
        return self.matrix(text)


def maxsim(q: np.ndarray, d: np.ndarray) -> float:
    return float((q @ d.T).max(axis=1).sum())


CORPUS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "d1",
        "apple banana cherry",
        {"source": "a.pdf", "page": 1, "tags": ["fruit", "red"], "w": 0.5, "draft": False},
    ),
    (
        "d2",
        "banana smoothie recipe",
        {"source": "a.pdf", "page": 2, "tags": ["fruit", "drink"], "w": 1.5, "draft": True},
    ),
    (
        "d3",
        "late interaction retrieval with maxsim",
        {"source": "b.pdf", "page": 7, "tags": ["ir"], "w": 2.5},
    ),
    (
        "d4",
        "bm25 keyword retrieval",
        {"source": "b.pdf", "page": 9, "tags": ["ir", "sparse"], "draft": False},
    ),
    (
        "d5",
        "hybrid fusion of dense and sparse retrieval",
        {"source": "c.txt", "page": 3, "w": -1.0, "id": 7},
    ),
    (
        "d6",
        "cherry pie with apple",
        {"source": "C.TXT", "page": 4, "tags": ["fruit", "dessert"], "nested": {"a": 1}},
    ),
]


@pytest.fixture
def mv_client(backend_name: str) -> Iterator[multivector.Client]:
    client = make_client(backend_name)
    yield client
    client.close()


@pytest.fixture
def store(mv_client: multivector.Client) -> MultiVectorStore:
    return MultiVectorStore.from_texts(
        [t for _, t, _ in CORPUS],
        WordEmbedder(),
        metadatas=[m for _, _, m in CORPUS],
        ids=[i for i, _, _ in CORPUS],
        collection_name="Corpus",
        client=mv_client,
    )


def ids(docs: list[Document]) -> list[str]:
    return [d.id for d in docs if d.id is not None]


# ----------------------------------------------------------------------------- storage facts
def test_metadata_round_trips_exactly_and_ids_are_kept(mv_client: multivector.Client) -> None:
    meta = {
        "id": 3,
        "_private": {"deep": [1, 2.5, None, {"x": [True, "y"]}]},
        "page number": 12,
        "score": 0.25,
        "empty": {},
        "unicode": "héllo ✓",
    }
    store = MultiVectorStore.from_texts(
        ["alpha beta", "gamma"], WordEmbedder(), metadatas=[meta, {}], client=mv_client
    )
    found = store.similarity_search("alpha beta", k=2)
    assert found[0].metadata == meta and found[0].page_content == "alpha beta"
    assert found[1].metadata == {}
    assert all(isinstance(d.id, str) and d.id for d in found)
    got = store.get_by_ids([found[0].id])  # type: ignore[list-item]
    assert got == [found[0]]
    for _doc, score in store.similarity_search_with_score("alpha", k=2):
        assert "score" not in _doc.metadata or _doc.metadata == meta
        assert isinstance(score, float)


def test_readding_an_id_replaces_it_in_every_index(store: MultiVectorStore) -> None:
    n = len(store.collection)
    store.add_documents([Document(id="d1", page_content="zucchini soup", metadata={"v": 2})])
    assert len(store.collection) == n
    assert "d1" not in ids(store.search("apple", "keyword", k=10))
    assert store.search("zucchini", "keyword", k=1)[0] == Document(
        id="d1", page_content="zucchini soup", metadata={"v": 2}
    )
    assert store.similarity_search("zucchini soup", k=1)[0].id == "d1"
    assert ids(store.similarity_search("x", k=10, filter={"v": 2})) == ["d1"]


def test_ids_argument_wins_over_document_id_and_missing_ids_never_raise(
    store: MultiVectorStore,
) -> None:
    docs = [Document(id="inner", page_content="one"), Document(page_content="two")]
    assert store.add_documents(docs, ids=["outer", "other"]) == ["outer", "other"]
    assert store.get_by_ids(["inner"]) == []
    mixed = store.add_documents(
        [Document(id="given", page_content="x"), Document(page_content="y")]
    )
    assert mixed[0] == "given" and len(mixed[1]) == 36
    assert store.delete(["nope", "given"]) is True
    assert ids(store.get_by_ids(["nope", "d2", "given", "d1"])) == ["d2", "d1"]
    with pytest.raises(ConfigError, match="needs a list of ids"):
        store.delete(None)
    with pytest.raises(ConfigError, match="metadatas"):
        store.add_texts(["a", "b"], metadatas=[{}])


def test_unknown_search_arguments_and_types_raise(store: MultiVectorStore) -> None:
    with pytest.raises(ConfigError, match="unknown search argument 'topk'"):
        store.similarity_search("apple", topk=2)
    with pytest.raises(ConfigError, match="unknown search_type 'semantic'"):
        store.search("apple", "semantic")
    with pytest.raises(ValueError, match="unknown search_type"):  # pydantic wraps it
        MultiVectorRetriever(vectorstore=store, search_type="semantic")


# ----------------------------------------------------------------------------- search types
def test_similarity_matches_a_numpy_maxsim_reference(store: MultiVectorStore) -> None:
    emb = WordEmbedder()
    query = "apple cherry retrieval"
    q = emb.matrix(query)
    ref = {i: maxsim(q, emb.matrix(t)) for i, t, _ in CORPUS}
    found = store.similarity_search_with_score(query, k=4)
    expected = sorted(ref.values(), reverse=True)[:4]
    np.testing.assert_allclose([s for _, s in found], expected, atol=2e-2)
    for doc, score in found:
        assert score == pytest.approx(ref[doc.id], abs=2e-2)


def test_keyword_search_is_bm25_of_the_store(store: MultiVectorStore) -> None:
    found = store.similarity_search_with_score("retrieval sparse", k=10, search_type="keyword")
    ref = store.collection.query.bm25("retrieval sparse", limit=10)
    assert [d.id for d, _ in found] == [o.uuid for o in ref.objects]
    assert [s for _, s in found] == pytest.approx([o.metadata.score for o in ref.objects])
    assert set(ids([d for d, _ in found])) == {"d3", "d4", "d5"}
    assert store.search("banana", "keyword", k=10, filter={"page": {"$gt": 1}})[0].id == "d2"


def test_hybrid_search_follows_alpha_and_the_core_fusion(store: MultiVectorStore) -> None:
    q = "cherry retrieval"
    vector = ids(store.similarity_search(q, k=6))
    keyword = ids(store.search(q, "keyword", k=6))
    assert ids(store.search(q, "hybrid", k=6, alpha=1.0)) == vector
    assert ids(store.search(q, "hybrid", k=len(keyword), alpha=0.0)) == keyword
    for fusion in ("relative_score", "ranked"):
        found = store.similarity_search_with_score(
            q, k=5, search_type="hybrid", fusion_type=fusion, alpha=0.4
        )
        ref = store.collection.query.hybrid(
            q, alpha=0.4, fusion_type=fusion, limit=5, vector=WordEmbedder().matrix(q)
        )
        assert [d.id for d, _ in found] == [o.uuid for o in ref.objects]
        assert [s for _, s in found] == pytest.approx([o.metadata.score for o in ref.objects])


def test_mmr_prefers_diverse_documents(mv_client: multivector.Client) -> None:
    texts = ["red apple pie", "red apple pie", "green pear tart"]
    store = MultiVectorStore.from_texts(
        texts, WordEmbedder(), ids=["a", "b", "c"], client=mv_client
    )
    assert set(ids(store.similarity_search("red apple", k=2))) == {"a", "b"}
    diverse = ids(store.max_marginal_relevance_search("red apple", k=2, fetch_k=3, lambda_mult=0.1))
    assert diverse[0] in {"a", "b"} and diverse[1] == "c"
    by_vec = store.max_marginal_relevance_search_by_vector(
        WordEmbedder().matrix("red apple"), k=2, fetch_k=3, lambda_mult=0.1
    )
    assert ids(by_vec) == diverse
    assert ids(store.search("red apple", "mmr", k=2, fetch_k=3, lambda_mult=0.1)) == diverse


# ----------------------------------------------------------------------------- user matrices
def test_search_by_a_user_matrix(store: MultiVectorStore) -> None:
    emb = WordEmbedder()
    q = emb.matrix("banana smoothie")
    assert q.shape[0] == 2
    assert store.similarity_search_by_vector(q, k=1)[0].id == "d2"
    assert store.similarity_search_by_vector(q.tolist(), k=1)[0].id == "d2"
    assert store.similarity_search_by_vector(q[0], k=6, filter={"page": 1})[0].id == "d1"


def test_documents_keep_their_token_matrices(store: MultiVectorStore) -> None:
    obj = store.collection.query.fetch_object_by_id("d3", include_vector=True)
    assert obj is not None
    stored = np.asarray(obj.vector["multi_vector"])
    np.testing.assert_allclose(stored, WordEmbedder().matrix(CORPUS[2][1]), atol=1e-3)


def test_self_provided_collection_with_a_langchain_embeddings(
    mv_client: multivector.Client,
) -> None:
    col = mv_client.collections.create(
        "Own",
        vector_config=Configure.MultiVectors.self_provided(name="mv"),
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="metadata", data_type=DataType.OBJECT),
        ],
        auto_schema=False,
    )
    with pytest.raises(ConfigError, match="self-provided"):
        MultiVectorStore(collection=col)
    emb = DeterministicFakeEmbedding(size=8)
    store = MultiVectorStore(collection=col, embedding=emb)
    assert store.embeddings is emb
    store.add_texts(["one", "two", "three"], ids=["1", "2", "3"])
    vec = np.asarray(col.query.fetch_object_by_id("2", include_vector=True).vector["mv"])  # type: ignore[union-attr]
    assert vec.shape == (1, 8) and np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-3)
    assert store.similarity_search("two", k=1)[0].id == "2"
    assert store.similarity_search_by_vector(emb.embed_query("three"), k=1)[0].id == "3"


def test_text2vec_collection_needs_no_embedding(mv_client: multivector.Client) -> None:
    emb = WordEmbedder()
    col = mv_client.collections.create(
        "Vectorized",
        vector_config=Configure.MultiVectors.text2vec(
            name="mv", embedder=emb, source_properties=["text"]
        ),
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="metadata", data_type=DataType.OBJECT),
        ],
        auto_schema=False,
    )
    store = MultiVectorStore(collection=col)
    assert store.embeddings is None
    store.add_texts(["apple pie", "pear tart"], metadatas=[{"k": 1}, {"k": 2}])
    assert store.similarity_search("pear", k=1)[0].metadata == {"k": 2}
    assert emb.calls == 2


def test_adapter_wraps_vectors_and_passes_matrices() -> None:
    adapter = EmbeddingsAdapter(DeterministicFakeEmbedding(size=4))
    m = adapter.embed_query("x")
    assert m.shape == (1, 4) and float(np.linalg.norm(m)) == pytest.approx(1.0, abs=1e-5)
    raw = EmbeddingsAdapter(DeterministicFakeEmbedding(size=4), normalize=False).embed_query("x")
    np.testing.assert_allclose(
        raw[0], DeterministicFakeEmbedding(size=4).embed_query("x"), rtol=1e-6
    )
    multi = EmbeddingsAdapter(WordEmbedder()).embed_documents(["a b c"])[0]
    assert multi.shape == (3, 16)
    with pytest.raises(ConfigError, match="embed_documents"):
        EmbeddingsAdapter(object())


# ----------------------------------------------------------------------------- relevance
@pytest.mark.parametrize(
    "options",
    [
        {"search_type": "similarity"},
        {"search_type": "hybrid"},
        {"search_type": "hybrid", "fusion_type": "ranked"},
        {"search_type": "keyword"},
        {"search_type": "mmr"},
    ],
)
def test_relevance_scores_are_within_bounds(
    store: MultiVectorStore, options: dict[str, Any]
) -> None:
    found = store.similarity_search_with_relevance_scores("apple retrieval", k=6, **options)
    assert found
    assert all(0.0 <= r <= 1.0 for _, r in found)
    if options["search_type"] != "mmr":
        scores = [r for _, r in found]
        assert scores == sorted(scores, reverse=True)


def test_relevance_of_an_exact_match_and_threshold(store: MultiVectorStore) -> None:
    top = store.similarity_search_with_relevance_scores("bm25 keyword retrieval", k=6)
    assert top[0][0].id == "d4" and top[0][1] == pytest.approx(1.0, abs=2e-3)
    kept = store.similarity_search_with_relevance_scores(
        "bm25 keyword retrieval", k=6, score_threshold=0.9
    )
    assert ids([d for d, _ in kept]) == ["d4"]
    hybrid = store.similarity_search_with_relevance_scores(
        "bm25 keyword retrieval", k=6, search_type="hybrid", fusion_type="ranked", alpha=0.5
    )
    assert hybrid[0][1] == pytest.approx(1.0)  # first in both legs


# ----------------------------------------------------------------------------- filters
def _in(v: Any, values: list[Any]) -> bool:
    return any(e in values for e in (v if isinstance(v, list) else [v]))


FILTER_CASES: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
    ({"source": "a.pdf"}, lambda m: m.get("source") == "a.pdf"),
    ({"source": {"$eq": "b.pdf"}}, lambda m: m.get("source") == "b.pdf"),
    ({"source": {"$ne": "a.pdf"}}, lambda m: m.get("source") != "a.pdf"),
    ({"page": {"$gt": 3}}, lambda m: m["page"] > 3),
    ({"page": {"$gte": 3}}, lambda m: m["page"] >= 3),
    ({"page": {"$lt": 3}}, lambda m: m["page"] < 3),
    ({"page": {"$lte": 3}}, lambda m: m["page"] <= 3),
    ({"w": {"$gt": 0.5, "$lte": 2.5}}, lambda m: "w" in m and 0.5 < m["w"] <= 2.5),
    ({"tags": {"$in": ["drink", "ir"]}}, lambda m: _in(m.get("tags"), ["drink", "ir"])),
    ({"page": {"$in": [1, 9]}}, lambda m: m["page"] in (1, 9)),
    ({"tags": {"$nin": ["fruit"]}}, lambda m: not _in(m.get("tags"), ["fruit"])),
    ({"tags": "fruit"}, lambda m: "fruit" in m.get("tags", [])),
    (
        {"tags": {"$contains": ["fruit", "red"]}},
        lambda m: {"fruit", "red"} <= set(m.get("tags", [])),
    ),
    ({"source": {"$like": "c.*"}}, lambda m: fnmatch.fnmatch(m["source"].lower(), "c.*")),
    ({"draft": {"$exists": True}}, lambda m: m.get("draft") is not None),
    ({"draft": {"$exists": False}}, lambda m: m.get("draft") is None),
    ({"draft": None}, lambda m: m.get("draft") is None),
    ({"draft": {"$ne": None}}, lambda m: m.get("draft") is not None),
    ({"id": 7}, lambda m: m.get("id") == 7),
    ({"source": "a.pdf", "page": 2}, lambda m: m["source"] == "a.pdf" and m["page"] == 2),
    (
        {"$and": [{"source": "b.pdf"}, {"page": {"$gt": 7}}]},
        lambda m: m["source"] == "b.pdf" and m["page"] > 7,
    ),
    (
        {"$or": [{"page": 1}, {"tags": {"$in": ["sparse"]}}]},
        lambda m: m["page"] == 1 or "sparse" in m.get("tags", []),
    ),
    ({"$not": {"source": "a.pdf"}}, lambda m: m["source"] != "a.pdf"),
    (
        {"$not": [{"source": "a.pdf"}, {"page": 1}]},
        lambda m: not (m["source"] == "a.pdf" and m["page"] == 1),
    ),
    (
        {"$or": [{"$and": [{"draft": False}, {"$not": {"page": {"$lt": 5}}}]}, {"w": {"$lt": 0}}]},
        lambda m: (m.get("draft") is False and not m["page"] < 5) or m.get("w", 0) < 0,
    ),
]


@pytest.mark.parametrize(("spec", "reference"), FILTER_CASES)
def test_dict_filters_match_a_python_reference(
    store: MultiVectorStore, spec: dict[str, Any], reference: Callable[[dict[str, Any]], bool]
) -> None:
    expected = {i for i, _, m in CORPUS if reference(m)}
    for search_type in ("similarity", "keyword", "hybrid", "mmr"):
        found = store.search(
            "apple banana retrieval sparse", search_type, k=10, filter=spec, fetch_k=10
        )
        if search_type == "keyword":
            assert set(ids(found)) <= expected
        else:
            assert set(ids(found)) == expected, (search_type, spec)


def test_native_filters_are_accepted_and_reach_nested_metadata(store: MultiVectorStore) -> None:
    nested = Filter.by_property("metadata", path=["nested", "a"]).equal(1)
    assert ids(store.similarity_search("apple", k=10, filter=nested)) == ["d6"]
    assert translate_filter({}) is None and translate_filter(None) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"page": {"$regex": "x"}}, "unknown filter operator '\\$regex' on metadata key 'page'"),
        ({"$nor": [{"page": 1}]}, "unknown filter operator '\\$nor'"),
        ({"$and": []}, "non-empty list"),
        ({"$or": [1]}, "every item must be a filter dict"),
        ({"page": {"$in": 3}}, "takes a list"),
        ({"page": {}}, "empty operator dict"),
        ({"page": {"$exists": "yes"}}, "True or False"),
        ({"page": {"$eq": {"a": 1}}}, "metadata key 'page'"),
        ({"$not": 3}, "one filter dict"),
    ],
)
def test_bad_filters_raise(store: MultiVectorStore, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        store.similarity_search("apple", filter=spec)


def test_filter_must_be_a_dict() -> None:
    with pytest.raises(FilterError, match="must be a dict"):
        translate_filter([("page", 1)])


# ----------------------------------------------------------------------------- async twins
async def test_async_twins_agree_with_sync(mv_client: multivector.Client) -> None:
    store = await MultiVectorStore.afrom_texts(
        [t for _, t, _ in CORPUS],
        WordEmbedder(),
        metadatas=[m for _, _, m in CORPUS],
        ids=[i for i, _, _ in CORPUS],
        client=mv_client,
    )
    q = "apple retrieval"
    assert await store.asimilarity_search(q, k=3) == store.similarity_search(q, k=3)
    assert await store.asimilarity_search_with_score(q, k=3) == store.similarity_search_with_score(
        q, k=3
    )
    assert await store.asimilarity_search_with_relevance_scores(
        q, k=3
    ) == store.similarity_search_with_relevance_scores(q, k=3)
    assert await store.asearch(q, "hybrid", k=3, alpha=0.3) == store.search(
        q, "hybrid", k=3, alpha=0.3
    )
    assert await store.asearch(q, "keyword", k=3) == store.search(q, "keyword", k=3)
    m = WordEmbedder().matrix(q)
    assert await store.asimilarity_search_by_vector(m, k=2) == store.similarity_search_by_vector(
        m, k=2
    )
    assert await store.amax_marginal_relevance_search(
        q, k=3
    ) == store.max_marginal_relevance_search(q, k=3)
    assert await store.amax_marginal_relevance_search_by_vector(
        m, k=3
    ) == store.max_marginal_relevance_search_by_vector(m, k=3)
    new = await store.aadd_documents([Document(id="x", page_content="kiwi", metadata={"a": [1]})])
    assert new == ["x"] and await store.aget_by_ids(["x", "nope"]) == [
        Document(id="x", page_content="kiwi", metadata={"a": [1]})
    ]
    assert await store.adelete(["x", "nope"]) is True and await store.aget_by_ids(["x"]) == []
    docs = await MultiVectorStore.afrom_documents(
        [Document(id="q", page_content="quince")], WordEmbedder(), client=mv_client
    )
    assert ids(await docs.asimilarity_search("quince", k=1)) == ["q"]


def test_from_texts_reuses_an_existing_collection(mv_client: multivector.Client) -> None:
    MultiVectorStore.from_texts(
        ["one"], WordEmbedder(), ids=["1"], collection_name="Shared", client=mv_client
    )
    again = MultiVectorStore.from_documents(
        [Document(page_content="two", id="2")],
        WordEmbedder(),
        collection_name="Shared",
        client=mv_client,
    )
    assert ids(again.get_by_ids(["1", "2"])) == ["1", "2"]


def test_from_texts_with_langchain_embeddings_and_custom_keys(
    mv_client: multivector.Client,
) -> None:
    emb = DeterministicFakeEmbedding(size=6)
    store = MultiVectorStore.from_texts(
        ["foo", "bar"],
        emb,
        metadatas=[{"a": 1}, {"a": 2}],
        ids=["f", "b"],
        collection_name="Keys",
        client=mv_client,
        text_key="body",
        metadata_key="meta",
    )
    assert store.embeddings is emb
    assert {p.name for p in store.collection.config.properties} == {"body", "meta"}
    assert store.similarity_search("bar", k=1) == [
        Document(id="b", page_content="bar", metadata={"a": 2})
    ]
    reopened = MultiVectorStore.from_texts(
        [], emb, collection_name="Keys", client=mv_client, text_key="body", metadata_key="meta"
    )
    assert reopened.embeddings is emb and ids(reopened.get_by_ids(["f"])) == ["f"]


def test_failed_objects_raise(mv_client: multivector.Client) -> None:
    store = MultiVectorStore.from_texts([], WordEmbedder(), client=mv_client)
    with pytest.raises(InvalidObjectError, match="failed"):
        store.add_texts(["x"], metadatas=[{"bad": float("nan")}])


# ----------------------------------------------------------------------------- retriever
def test_retriever_settings_and_per_call_overrides(store: MultiVectorStore) -> None:
    r = MultiVectorRetriever(vectorstore=store, k=2, alpha=0.75, filter={"source": "b.pdf"})
    assert r.search_type == "hybrid"
    assert set(ids(r.invoke("retrieval"))) == {"d3", "d4"}
    assert len(r.invoke("retrieval", k=1)) == 1
    assert ids(r.invoke("banana", filter={"page": 2}, search_type="keyword")) == ["d2"]
    assert ids(r.invoke("apple", k=6, filter=None)) != [] and len(r.invoke("apple", k=6)) == 2
    kw = MultiVectorRetriever(vectorstore=store, search_type="keyword", k=10)
    assert ids(kw.invoke("smoothie")) == ["d2"]
    thr = MultiVectorRetriever(
        vectorstore=store, search_type="similarity_score_threshold", score_threshold=0.9
    )
    assert ids(thr.invoke("bm25 keyword retrieval")) == ["d4"]
    with pytest.raises(ConfigError, match="unknown search argument"):
        r.invoke("apple", colour="red")


async def test_retriever_async_and_as_retriever(store: MultiVectorStore) -> None:
    r = MultiVectorRetriever(vectorstore=store, k=3, alpha=0.5, fusion_type="ranked")
    assert await r.ainvoke("apple") == r.invoke("apple")
    assert await r.ainvoke("apple", k=1, search_type="mmr") == r.invoke(
        "apple", k=1, search_type="mmr"
    )
    default = store.as_retriever(search_kwargs={"k": 2})
    assert isinstance(default, MultiVectorRetriever) and default.search_type == "similarity"
    assert default.invoke("apple") == store.similarity_search("apple", k=2)
    hybrid = store.as_retriever(search_type="hybrid", search_kwargs={"k": 2, "alpha": 0.2})
    assert await hybrid.ainvoke("apple") == store.search("apple", "hybrid", k=2, alpha=0.2)


def test_chain_with_a_fake_chat_model(store: MultiVectorStore) -> None:
    from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    retriever = MultiVectorRetriever(vectorstore=store, k=1, search_type="keyword")
    chain = (
        {
            "context": retriever | (lambda docs: "\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | ParrotFakeChatModel()
        | StrOutputParser()
    )
    out = chain.invoke("smoothie")
    assert "banana smoothie recipe" in out and "Question: smoothie" in out


def test_agent_tool_runs_offline(store: MultiVectorStore) -> None:
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import create_retriever_tool

    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from langchain_agent_tool import ToolCallingFakeChatModel
    finally:
        sys.path.remove(str(ROOT / "examples"))

    tool = create_retriever_tool(
        MultiVectorRetriever(vectorstore=store, k=2, search_type="keyword"),
        "search_notes",
        "Search the notes.",
    )
    model = ToolCallingFakeChatModel(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[{"name": "search_notes", "args": {"query": "bm25"}, "id": "c1"}],
                ),
                AIMessage(content="BM25 is a keyword ranking."),
            ]
        )
    )
    agent = create_agent(model, tools=[tool])
    result = agent.invoke({"messages": [("user", "What is BM25?")]})
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1 and "bm25 keyword retrieval" in tool_messages[0].content
    assert result["messages"][-1].content == "BM25 is a keyword ranking."


# ----------------------------------------------------------------------------- packaging
def test_example_script_runs_offline() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "langchain_agent_tool.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "tool result:" in out.stdout and "late interaction" in out.stdout.lower()
    assert "final answer:" in out.stdout


def test_import_multivector_does_not_import_langchain_and_missing_extra_is_named() -> None:
    code = (
        "import sys, multivector, multivector.integrations\n"
        "assert not [m for m in sys.modules if m.startswith('langchain')], 'langchain imported'\n"
        "sys.modules['langchain_core'] = None\n"
        "from multivector.errors import OptionalDependencyError\n"
        "try:\n"
        "    import multivector.integrations.langchain\n"
        "except OptionalDependencyError as exc:\n"
        "    assert exc.extra == 'langchain' and \"multivector[langchain]\" in str(exc), exc\n"
        "    print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "ok", out.stderr
