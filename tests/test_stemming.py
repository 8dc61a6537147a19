"""Snowball English stemming for BM25 (``Tokenization.WORD_STEM_EN``): documents and queries
alike, on both backends, score-identical to ``rank_bm25`` over the stemmed corpus.
"""

from __future__ import annotations

import numpy as np
import pytest
import snowballstemmer
from conftest import make_client
from rank_bm25 import BM25Okapi

import multivector.schema.config as config_module
from multivector.config import Configure, DataType, Property, Tokenization
from multivector.errors import OptionalDependencyError
from multivector.text.stopwords import Stopwords, bm25_query_terms
from multivector.text.tokenize import tokenize

STEM = snowballstemmer.stemmer("english")
DOCS = [
    "Running runners ran through the running tracks",
    "Languages and linguistic studies of language",
    "The runner studies languages while running",
    "Connected connections connecting the connector",
    "nothing to see here",
    "A study of the studied students",
]


def test_tokenize_stems_word_tokens():
    text = "Running LANGUAGES, connection's Café 1990s"
    words = tokenize(text, Tokenization.WORD)
    assert tokenize(text, Tokenization.WORD_STEM_EN) == STEM.stemWords(words)
    assert tokenize(text, Tokenization.WORD_STEM_EN)[:2] == ["run", "languag"]


def test_query_stopwords_go_before_stemming():
    sw = Stopwords()
    # "this" is a stopword; its stem "thi" must not survive, and "is" is dropped too
    assert bm25_query_terms("this is running", Tokenization.WORD_STEM_EN, sw) == ["run"]
    assert bm25_query_terms("this is running", Tokenization.WORD, sw) == ["running"]


def _fill(backend: str, tokenization: Tokenization, scoring: str, texts: list[str]):
    client = make_client(backend)
    col = client.collections.create(
        "Stem",
        vector_config=[Configure.MultiVectors.self_provided(name="v")],
        properties=[Property(name="text", data_type=DataType.TEXT, tokenization=tokenization)],
        inverted_index_config=Configure.inverted_index(scoring=scoring),  # type: ignore[arg-type]
    )
    for i, text in enumerate(texts):
        col.data.insert({"text": text, "i": i}, vector=np.eye(4, dtype=np.float32)[: 1 + i % 3])
    return client, col


def _scores(col, query: str) -> dict[int, float]:
    res = col.query.bm25(query, limit=10)
    return {o.properties["i"]: o.metadata.score for o in res.objects}


@pytest.mark.parametrize("backend", ["embedded", "qdrant"])
def test_rank_bm25_mode_equals_bm25okapi_over_the_stemmed_corpus(backend):
    client, col = _fill(backend, Tokenization.WORD_STEM_EN, "rank_bm25", DOCS)
    try:
        corpus = [STEM.stemWords(tokenize(d, Tokenization.WORD)) for d in DOCS]
        okapi = BM25Okapi(corpus)
        for query in ("runs", "language studied", "connect running"):
            terms = bm25_query_terms(query, Tokenization.WORD_STEM_EN, Stopwords())
            want = okapi.get_scores(terms)
            got = _scores(col, query)
            assert got  # stemming makes "runs" match "Running", "ran" does not
            for i, score in got.items():
                assert score == pytest.approx(want[i], abs=1e-12)
            # every document holding a query term is a hit (a zero idf scores 0 but matches)
            assert set(got) == {i for i, doc in enumerate(corpus) if set(terms) & set(doc)}
    finally:
        client.close()


def test_weaviate_mode_equals_word_tokens_of_pre_stemmed_text():
    stemmed = [" ".join(STEM.stemWords(tokenize(d, Tokenization.WORD))) for d in DOCS]
    a_client, a = _fill("embedded", Tokenization.WORD_STEM_EN, "weaviate", DOCS)
    b_client, b = _fill("qdrant", Tokenization.WORD_STEM_EN, "weaviate", DOCS)
    c_client, c = _fill("embedded", Tokenization.WORD, "weaviate", stemmed)
    try:
        for query in ("runners", "studies of languages", "connections"):
            pre = " ".join(bm25_query_terms(query, Tokenization.WORD_STEM_EN, Stopwords()))
            want = _scores(c, pre)
            assert want
            for col in (a, b):
                got = _scores(col, query)
                assert got.keys() == want.keys()
                assert np.allclose([got[i] for i in want], list(want.values()), atol=1e-9)
    finally:
        for client in (a_client, b_client, c_client):
            client.close()


def test_config_round_trip_and_missing_package(monkeypatch):
    prop = Property(name="text", data_type=DataType.TEXT, tokenization=Tokenization.WORD_STEM_EN)
    assert Property.from_dict(prop.to_dict()) == prop
    assert Property(name="t", data_type=DataType.TEXT, tokenization="word_stem_en") == Property(
        name="t", data_type=DataType.TEXT, tokenization=Tokenization.WORD_STEM_EN
    )
    monkeypatch.setattr(config_module, "find_spec", lambda name: None)
    with pytest.raises(OptionalDependencyError, match=r"multivector\[stemming\]"):
        Property(name="text", data_type=DataType.TEXT, tokenization=Tokenization.WORD_STEM_EN)
    Property(name="text", data_type=DataType.TEXT)  # the default tokenization needs nothing
