"""Late-interaction highlights: the right characters on known texts (multi-byte included), on
both backends, through the retriever and LlamaIndex, and absent unless asked for.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import make_client

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError
from multivector.query import MetadataQuery
from multivector.retrieval import Retriever
from multivector.retrieval.highlights import best_matches

WORD = re.compile(r"\w+")
DIM = 64


def _vector(word: str) -> np.ndarray:
    """A unit vector per lowercase word (a fixed random code: equal words, equal vectors)."""
    seed = sum((i + 1) * ord(c) for i, c in enumerate(word.lower()))
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class WordEmbedder:
    """One row per word plus a leading marker row (like [CLS]); knows its character offsets."""

    def _matrix(self, text: str) -> np.ndarray:
        marker = np.full(DIM, 0.01, dtype=np.float32)
        return np.stack([marker, *(_vector(m.group()) for m in WORD.finditer(text))])

    def embed_documents(self, texts):
        return [self._matrix(t) for t in texts]

    def embed_query(self, text):
        return self._matrix(text)

    def token_offsets(self, texts):
        out = []
        for text in texts:
            spans = [(0, 0)] + [(m.start(), m.end()) for m in WORD.finditer(text)]
            out.append(np.asarray(spans, dtype=np.int64))
        return out


DOCS = [
    {"title": "Zürich", "body": "Ein Café in Zürich serves crème brûlée 🎉 daily"},
    {"title": "東京 guide", "body": "Tokyo 東京 has naïve ramen and sushi"},
    {"title": "Plain", "body": "nothing special here at all"},
]


@pytest.fixture(params=["embedded", "qdrant"])
def col(request):
    client = make_client(request.param)
    c = client.collections.create(
        "Lit",
        vector_config=[
            Configure.MultiVectors.text2vec(
                name="w",
                embedder=WordEmbedder(),
                source_properties=["title", "body"],
                dtype="float32",
            )
        ],
        properties=[
            Property(name="title", data_type=DataType.TEXT),
            Property(name="body", data_type=DataType.TEXT),
        ],
    )
    for i, props in enumerate(DOCS):
        c.data.insert(props, uuid=multivector.generate_uuid5(i))
    yield c
    client.close()


def _by_query_text(obj):
    return {h.query_text: h for h in obj.metadata.highlights}


def test_spans_point_at_the_matching_characters(col):
    res = col.query.near_text(
        "crème Café 🎉 brûlée", limit=3, return_metadata=MetadataQuery(highlights=True)
    )
    top = res.objects[0]
    assert top.properties["title"] == "Zürich"
    body = top.properties["body"]
    marks = _by_query_text(top)
    assert set(marks) == {None, "crème", "Café", "brûlée"}  # the marker row and three words
    for word in ("crème", "Café", "brûlée"):
        h = marks[word]
        assert h.property == "body" and h.element is None
        assert body[h.start : h.end] == word == h.text
        assert h.score == pytest.approx(1.0, abs=1e-5)
    assert body.index("brûlée") == marks["brûlée"].start  # str indices, not UTF-8 bytes
    assert len(top.metadata.highlights) == 4  # one per query row, in query order
    assert [h.query_token for h in top.metadata.highlights] == [0, 1, 2, 3]


def test_spans_in_the_other_source_property_and_cjk(col):
    res = col.query.hybrid(
        "東京 ramen", alpha=0.75, limit=3, return_metadata=MetadataQuery(highlights=True)
    )
    top = res.objects[0]
    marks = _by_query_text(top)
    tokyo, ramen = marks["東京"], marks["ramen"]
    # "東京" occurs in the title (first source property) before the body
    assert (tokyo.property, tokyo.start, tokyo.end, tokyo.text) == ("title", 0, 2, "東京")
    assert ramen.property == "body"
    assert top.properties["body"][ramen.start : ramen.end] == "ramen"


def test_highlights_are_absent_unless_asked_for(col):
    assert all(o.metadata.highlights is None for o in col.query.near_text("Café", limit=3).objects)
    plain = col.query.hybrid("Café", limit=3, return_metadata=MetadataQuery())
    assert all(o.metadata.highlights is None for o in plain.objects)
    listed = col.query.hybrid("Café", limit=2, return_metadata=["score", "highlights"])
    assert all(o.metadata.highlights for o in listed.objects)
    # vectors were fetched to compute them but are not returned unless asked for
    assert all(o.vector == {} for o in listed.objects)
    with pytest.raises(ConfigError, match="highlights"):
        col.query.bm25("Café", return_metadata=MetadataQuery(highlights=True))
    with pytest.raises(ConfigError, match="MetadataQuery"):
        col.query.near_text("Café", return_metadata="highlights")


def test_retriever_option(col):
    hits = Retriever(col, mode="vector", highlights=True).retrieve("sushi")
    assert hits[0].highlights and any(h.text == "sushi" for h in hits[0].highlights)
    assert Retriever(col, mode="hybrid").retrieve("sushi")[0].highlights is None
    with pytest.raises(ConfigError, match="keyword"):
        Retriever(col, mode="keyword", highlights=True)


def test_self_provided_space_gives_token_indices_only():
    client = multivector.connect()
    try:
        c = client.collections.create(
            "Own",
            vector_config=[Configure.MultiVectors.self_provided(name="v", dtype="float32")],
            properties=[Property(name="text", data_type=DataType.TEXT)],
        )
        doc = np.stack([_vector("alpha"), _vector("beta"), _vector("gamma")])
        c.data.insert({"text": "alpha beta gamma"}, vector=doc)
        q = np.stack([_vector("gamma"), _vector("alpha")])
        hit = c.query.near_vector(q, return_metadata=MetadataQuery(highlights=True)).objects[0]
        assert [(h.query_token, h.doc_token) for h in hit.metadata.highlights] == [(0, 2), (1, 0)]
        assert all(h.start is None and h.text is None for h in hit.metadata.highlights)
    finally:
        client.close()


def test_best_matches_is_maxsims_argmax():
    rng = np.random.default_rng(0)
    q, d = rng.normal(size=(5, 8)).astype(np.float32), rng.normal(size=(7, 8)).astype(np.float32)
    idx, scores = best_matches(q, d)
    sims = q @ d.T
    assert idx.tolist() == sims.argmax(axis=1).tolist()
    assert np.allclose(scores.sum(), sims.max(axis=1).sum())  # their sum is MaxSim


def test_minilm_offsets_match_the_text():
    from multivector.embeddings.minilm import MiniLMTokenEmbedder

    e = MiniLMTokenEmbedder()
    text = "Zoë ate crème brûlée in 東京 🎉 naïvely"
    spans = e.token_offsets([text])[0]
    assert spans.shape == (e.embed_documents([text])[0].shape[0], 2)
    pieces = [text[a:b] for a, b in spans.tolist()]
    assert pieces[0] == "" and pieces[-1] == ""  # [CLS] and [SEP]
    assert "Zoë" in pieces and "東" in pieces and "京" in pieces and "🎉" in pieces
    joined = "".join(p for p in pieces)
    assert joined == re.sub(r"\s+", "", text)  # every character covered once, in order
    with pytest.raises(ConfigError):
        e.token_offsets("bare string")  # type: ignore[arg-type]


def test_llama_index_nodes_carry_highlights_without_touching_metadata():
    pytest.importorskip("llama_index.core")
    from llama_index.core.schema import TextNode

    from multivector.integrations.llama_index import MultiVectorRetriever, MultiVectorStore

    store = MultiVectorStore.create(embedder=WordEmbedder())
    store.add([TextNode(text="Ein Café in Zürich", metadata={"k": 1}), TextNode(text="sushi bar")])
    plain = MultiVectorRetriever(store, mode="vector").retrieve("Café")
    assert plain[0].highlights is None and plain[0].node.metadata == {"k": 1}
    found = MultiVectorRetriever(store, mode="vector", highlights=True).retrieve("Café")
    marks = {h.query_text: h for h in found[0].highlights}
    assert found[0].node.get_content()[marks["Café"].start : marks["Café"].end] == "Café"
    assert found[0].node.metadata == {"k": 1}


def test_langchain_explained_search_carries_highlights_without_touching_metadata():
    pytest.importorskip("langchain_core")
    from multivector.integrations.langchain import MultiVectorStore

    store = MultiVectorStore.from_texts(
        ["Ein Café in Zürich", "sushi bar"], WordEmbedder(), metadatas=[{"k": 1}, {"k": 2}]
    )
    plain = store.explained_search("Café", "similarity", k=1)
    assert plain[0].highlights is None and plain[0].document.metadata == {"k": 1}
    found = store.explained_search("Café", "hybrid", k=1, highlights=True)
    marks = {h.query_text: h for h in found[0].highlights}
    text = found[0].document.page_content
    assert text[marks["Café"].start : marks["Café"].end] == "Café"
    assert found[0].document.metadata == {"k": 1}
    docs = store.similarity_search("Café", k=1, highlights=True)  # plain Documents stay plain
    assert docs[0].metadata == {"k": 1}
