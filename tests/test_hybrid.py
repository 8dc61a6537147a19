"""bm25 and hybrid through the collection API, against an independent reference in this file."""

from __future__ import annotations

import math

import numpy as np
import pytest

from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError
from multivector.query import BM25Operator, Filter, HybridFusion
from tests.conftest import unit_rows

DIM = 12
TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "a quick brown dog outpaces a quick red fox",
    "lorem ipsum dolor sit amet",
    "the fox and the hound are friends",
    "brown bread and butter",
    "an unrelated sentence about databases",
    "vector databases store embeddings for search",
    "hybrid search fuses keyword and vector search",
    "quick quick quick",
    "nothing to see here",
]


@pytest.fixture
def col(any_client, rng):
    c = any_client.collections.create(
        "Hyb",
        vector_config=Configure.MultiVectors.self_provided(name="mv", dtype="float32"),
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="title", data_type=DataType.TEXT),
            Property(name="n", data_type=DataType.INT),
        ],
    )
    for i, text in enumerate(TEXTS):
        c.data.insert(
            {"text": text, "title": f"title {i} fox" if i % 3 == 0 else f"title {i}", "n": i},
            uuid=f"id{i:02d}",
            vector=unit_rows(rng, 2 + i % 3, DIM),
        )
    return c


def _maxsim_ref(col, q, uuids):
    out = {}
    for uid in uuids:
        d = np.asarray(
            col.query.fetch_object_by_id(uid, include_vector=True).vector["mv"], dtype=np.float64
        )
        out[uid] = float((q.astype(np.float64) @ d.T).max(axis=1).sum())
    return out


def _norm(scores):
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    return {u: 1.0 if hi == lo else (s - lo) / (hi - lo) for u, s in scores.items()}


def _reference(col, q, query, alpha, fusion, flt=None):
    uuids = [o.uuid for o in col.query.fetch_objects(filters=flt).objects]
    vec = _maxsim_ref(col, q, uuids) if alpha > 0 else {}
    kw = (
        {o.uuid: o.metadata.score for o in col.query.bm25(query, limit=100, filters=flt).objects}
        if alpha < 1
        else {}
    )
    fused = {}
    if fusion == "relative":
        nv, nk = _norm(vec), _norm(kw)
        for u in set(vec) | set(kw):
            fused[u] = alpha * nv.get(u, 0.0) + (1 - alpha) * nk.get(u, 0.0)
    else:
        rv = {u: r for r, u in enumerate(sorted(vec, key=lambda u: (-vec[u], u)))}
        rk = {u: r for r, u in enumerate(sorted(kw, key=lambda u: (-kw[u], u)))}
        for u in set(vec) | set(kw):
            fused[u] = (alpha / (rv[u] + 60) if u in rv else 0.0) + (
                (1 - alpha) / (rk[u] + 60) if u in rk else 0.0
            )
    order = sorted(
        fused, key=lambda u: (-fused[u], -vec.get(u, -math.inf), -kw.get(u, -math.inf), u)
    )
    return [(u, fused[u]) for u in order]


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.75, 1.0])
@pytest.mark.parametrize("fusion", ["relative", "ranked"])
def test_hybrid_matches_reference(col, rng, alpha, fusion):
    q = unit_rows(rng, 3, DIM)
    ft = HybridFusion.RELATIVE_SCORE if fusion == "relative" else HybridFusion.RANKED
    res = col.query.hybrid("quick fox", vector=q, alpha=alpha, fusion_type=ft, limit=10)
    ref = _reference(col, q, "quick fox", alpha, fusion)[:10]
    assert [o.uuid for o in res.objects] == [u for u, _ in ref]
    assert [o.metadata.score for o in res.objects] == pytest.approx([s for _, s in ref], abs=1e-6)
    if alpha == 0.0:
        assert all(o.metadata.distance is None for o in res.objects)
        assert {o.uuid for o in res.objects} <= {
            o.uuid for o in col.query.bm25("quick fox", limit=100).objects
        }
    for obj in res.objects:
        legs = {leg.leg: leg for leg in obj.metadata.explain_score.legs}
        assert sum(leg.contribution for leg in legs.values()) == pytest.approx(obj.metadata.score)
        if alpha == 1.0:
            assert set(legs) == {"vector"}


def test_hybrid_filters_apply_to_both_legs(col, rng):
    q = unit_rows(rng, 3, DIM)
    flt = Filter.by_property("n").greater_than(2)
    res = col.query.hybrid("quick fox", vector=q, alpha=0.5, filters=flt)
    ref = _reference(col, q, "quick fox", 0.5, "relative", flt)
    assert [o.uuid for o in res.objects] == [u for u, _ in ref][:10]
    assert all(o.properties["n"] > 2 for o in res.objects)


def test_hybrid_offset_and_limit(col, rng):
    q = unit_rows(rng, 3, DIM)
    full = [o.uuid for o in col.query.hybrid("quick fox", vector=q, alpha=0.5, limit=10).objects]
    page = [
        o.uuid
        for o in col.query.hybrid("quick fox", vector=q, alpha=0.5, limit=3, offset=2).objects
    ]
    assert page == full[2:5]


def test_all_equal_scores_normalise_to_one(any_client):
    c = any_client.collections.create(
        "Eq", vector_config=Configure.MultiVectors.self_provided(name="mv", dtype="float32")
    )
    same = np.ones((2, 4), dtype=np.float32) / 2
    for i in range(3):
        c.data.insert({"text": "same words"}, uuid=f"u{i}", vector=same)
    res = c.query.hybrid("same", vector=same, alpha=0.3)
    assert [o.metadata.score for o in res.objects] == pytest.approx([1.0, 1.0, 1.0])
    assert [o.uuid for o in res.objects] == ["u0", "u1", "u2"]  # ties broken by uuid


def test_empty_keyword_leg(col, rng):
    q = unit_rows(rng, 3, DIM)
    res = col.query.hybrid("zzzunknownzzz", vector=q, alpha=0.5)
    vec_only = col.query.near_vector(q, limit=10)
    assert [o.uuid for o in res.objects] == [o.uuid for o in vec_only.objects]
    assert res.objects[0].metadata.score == pytest.approx(0.5)


def test_max_vector_distance_drops_far_hits_including_keyword_only(col, rng):
    q = unit_rows(rng, 3, DIM)
    uuids = [o.uuid for o in col.query.fetch_objects().objects]
    ms = _maxsim_ref(col, q, uuids)
    cutoff = -sorted(ms.values(), reverse=True)[3]  # keep the 4 nearest
    res = col.query.hybrid("quick fox", vector=q, alpha=0.5, max_vector_distance=cutoff + 1e-6)
    kept = {o.uuid for o in res.objects}
    assert kept and all(-ms[u] <= cutoff + 1e-5 for u in kept)
    assert kept <= {u for u in ms if -ms[u] <= cutoff + 1e-5}


def test_auto_limit_cuts_and_requires_relative_score(col, rng):
    q = unit_rows(rng, 3, DIM)
    full = col.query.hybrid("quick fox", vector=q, alpha=0.5, limit=10)
    cut = col.query.hybrid("quick fox", vector=q, alpha=0.5, limit=10, auto_limit=1)
    assert 1 <= len(cut.objects) <= len(full.objects)
    assert [o.uuid for o in cut.objects] == [o.uuid for o in full.objects][: len(cut.objects)]
    with pytest.raises(ConfigError, match="auto_limit"):
        col.query.hybrid("quick fox", vector=q, fusion_type=HybridFusion.RANKED, auto_limit=1)


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "0.5", None])
def test_alpha_validation_keeps_zero(col, rng, bad):
    with pytest.raises(ConfigError, match="alpha"):
        col.query.hybrid("fox", vector=unit_rows(rng, 2, DIM), alpha=bad)


def test_alpha_zero_needs_no_vector(col):
    res = col.query.hybrid("quick fox", alpha=0.0)  # no vector, no embedder: keyword only
    assert res.objects and all(o.metadata.distance is None for o in res.objects)


def test_bm25_boosts_operators_and_edge_cases(col, any_client):
    plain = col.query.bm25("fox", query_properties=["text"])
    boosted = col.query.bm25("fox", query_properties=["text", "title^3"])
    assert [o.uuid for o in plain.objects] != [o.uuid for o in boosted.objects]
    assert boosted.objects[0].properties["title"].endswith("fox")
    both = col.query.bm25("quick fox", operator=BM25Operator.and_())
    assert both.objects and all(
        "quick" in (o.properties["text"] + " " + o.properties["title"])
        and "fox" in (o.properties["text"] + " " + o.properties["title"])
        for o in both.objects
    )
    mm = col.query.bm25(
        "quick brown fox", operator=BM25Operator.or_(minimum_match=2), query_properties=["text"]
    )
    for o in mm.objects:
        assert sum(w in o.properties["text"].split() for w in ("quick", "brown", "fox")) >= 2
    assert col.query.bm25("").objects == []
    assert col.query.bm25("the and a").objects == []  # only stopwords
    assert (
        col.query.bm25("fox", limit=2, offset=1).objects
        == col.query.bm25("fox", limit=3).objects[1:]
    )
    empty = any_client.collections.create(
        "Empty", properties=[Property(name="text", data_type=DataType.TEXT)]
    )
    assert empty.query.bm25("fox").objects == []
    with pytest.raises(ConfigError, match="boost"):
        col.query.bm25("fox", query_properties=["text^x"])
    with pytest.raises(ConfigError, match="not a text property"):
        col.query.bm25("fox", query_properties=["n"])


def test_bm25_text_array_is_never_split_into_characters(client):
    c = client.collections.create(
        "Arr", properties=[Property(name="tags", data_type=DataType.TEXT_ARRAY)]
    )
    c.data.insert({"tags": ["alpha beta", "gamma"]}, uuid="a")
    c.data.insert({"tags": ["a", "b"]}, uuid="b")
    assert [o.uuid for o in c.query.bm25("gamma").objects] == ["a"]
    assert [o.uuid for o in c.query.bm25("g").objects] == []


def test_bm25_follows_replace_and_delete(col):
    assert "id05" in {o.uuid for o in col.query.bm25("databases").objects}
    col.data.replace("id05", {"text": "now about gardening"})
    assert "id05" not in {o.uuid for o in col.query.bm25("databases").objects}
    assert [o.uuid for o in col.query.bm25("gardening").objects] == ["id05"]
    col.data.delete_by_id("id05")
    assert col.query.bm25("gardening").objects == []


def test_weaviate_bm25_scores_match_formula(client):
    c = client.collections.create(
        "Formula",
        properties=[Property(name="text", data_type=DataType.TEXT)],
        inverted_index_config=Configure.inverted_index(stopwords_preset="none"),
    )
    for i, t in enumerate(TEXTS):
        c.data.insert({"text": t}, uuid=f"d{i}")
    docs = [t.split() for t in TEXTS]
    n = len(docs)
    avgdl = sum(map(len, docs)) / n
    k1, b = 1.2, 0.75
    query = ["quick", "fox", "the"]

    def ref(doc):
        s = 0.0
        for term in dict.fromkeys(query):
            df = sum(term in d for d in docs)
            tf = doc.count(term)
            if tf:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                s += idf * tf / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        return s

    got = {o.uuid: o.metadata.score for o in c.query.bm25("quick fox the", limit=100).objects}
    expected = {f"d{i}": ref(d) for i, d in enumerate(docs) if ref(d) > 0}
    assert got.keys() == expected.keys()
    for u in got:
        assert got[u] == pytest.approx(expected[u], rel=1e-9)


def test_stopwords_only_removed_for_word_tokenization(any_client):
    c = any_client.collections.create(
        "Tok",
        properties=[
            Property(name="word", data_type=DataType.TEXT),
            Property(name="exact", data_type=DataType.TEXT, tokenization="field"),
        ],
    )
    c.data.insert({"word": "the cat", "exact": "the"}, uuid="a")
    c.data.insert({"word": "a dog", "exact": "dog"}, uuid="b")
    assert c.query.bm25("the", query_properties=["word"]).objects == []
    assert [o.uuid for o in c.query.bm25("the", query_properties=["exact"]).objects] == ["a"]
