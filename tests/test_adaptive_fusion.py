"""Adaptive hybrid fusion against an independent reference, on constructed score lists and
through both backends; Weaviate's relative_score and ranked stay as they were.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_client, unit_rows
from hypothesis import given, settings
from hypothesis import strategies as st

import multivector
from multivector.backends.protocol import Hit
from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError
from multivector.kernels.fusion import ADAPTIVE_MODEL, adaptive_alpha
from multivector.query import HybridFusion, MetadataQuery
from multivector.retrieval.fusion import fuse_legs
from multivector.text.query_features import QueryFeatures, query_features
from multivector.text.stopwords import Stopwords


# ------------------------------------------------------------------ the reference
def ref_alpha(alpha: float, n_terms: int, cap: float) -> float:
    """The model written out again, from its documented formula."""
    if alpha in (0.0, 1.0):
        return alpha
    c = ADAPTIVE_MODEL
    z = math.log(alpha) - math.log(1 - alpha) + c.intercept + c.terms * math.log(1 + n_terms)
    z += c.capitalised * cap
    return 0.0 if z < -700 else 1 / (1 + math.exp(-z))  # exp(-z) would overflow


def ref_fuse(vec, kw, alpha, n_terms, cap):
    """Weighted min-max fusion in plain Python: [(uuid, score)] best first."""
    w = ref_alpha(alpha, n_terms, cap)

    def norm(leg):
        if not leg:
            return {}
        lo, hi = min(s for _, s in leg), max(s for _, s in leg)
        return {u: 1.0 if hi == lo else (s - lo) / (hi - lo) for u, s in leg}

    nv, nk = norm(vec), norm(kw)
    raw_v, raw_k = dict(vec), dict(kw)
    total = {u: w * nv.get(u, 0.0) for u in nv}
    for u, x in nk.items():
        total[u] = total.get(u, 0.0) + (1 - w) * x

    def key(u):
        return (-total[u], -raw_v.get(u, -math.inf), -raw_k.get(u, -math.inf), u)

    return [(u, total[u]) for u in sorted(total, key=key)]


def hits(pairs):
    return [Hit(u, s) for u, s in pairs]


def check(vec, kw, alpha, n_terms, cap):
    feats = QueryFeatures(n_terms, cap)
    got = fuse_legs(hits(vec), hits(kw), alpha=alpha, fusion=HybridFusion.ADAPTIVE, features=feats)
    want = ref_fuse(vec, kw, alpha, n_terms, cap)
    assert [h.uuid for h in got] == [u for u, _ in want]
    assert np.allclose([h.score for h in got], [s for _, s in want], atol=1e-12, rtol=0)
    return got


VEC = [("a", 3.0), ("b", 2.5), ("c", 1.0)]
KW = [("c", 9.0), ("d", 4.0), ("a", 1.0)]


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.75, 1.0])
@pytest.mark.parametrize(("n_terms", "cap"), [(0, 0.0), (2, 1.0), (14, 0.1)])
def test_matches_reference_on_constructed_lists(alpha, n_terms, cap):
    check(VEC, KW, alpha, n_terms, cap)


def test_empty_legs():
    assert check([], KW, 0.75, 3, 0.0)[0].uuid == "c"
    assert check(VEC, [], 0.75, 3, 0.0)[0].uuid == "a"
    assert check([], [], 0.75, 3, 0.0) == []
    none = fuse_legs(
        None, None, alpha=0.5, fusion=HybridFusion.ADAPTIVE, features=QueryFeatures(1, 0)
    )
    assert none == []


def test_single_hit_and_all_equal_scores_normalise_to_one():
    got = check([("x", -4.0)], [("x", 2.0)], 0.6, 2, 0.5)
    assert got[0].score == pytest.approx(1.0)
    same = check([("a", 1.0), ("b", 1.0)], [("b", 0.5), ("c", 0.5)], 0.3, 1, 0.0)
    # b is in both legs; one short lowercase term leans to the keyword leg, so c before a
    assert [h.uuid for h in same] == ["b", "c", "a"]
    assert same[0].score == pytest.approx(1.0)


def test_ties_break_by_raw_vector_then_keyword_then_uuid():
    # alpha 0.5 with 0 terms and no capitals: w != 0.5, so build ties inside one leg only
    got = check([("b", 1.0), ("a", 1.0)], [], 0.5, 0, 0.0)
    assert [h.uuid for h in got] == ["a", "b"]
    got = check([], [("z", 2.0), ("y", 2.0)], 0.5, 0, 0.0)
    assert [h.uuid for h in got] == ["y", "z"]


def test_alpha_extremes_are_pure_legs_and_equal_relative_score():
    for alpha in (0.0, 1.0):
        feats = QueryFeatures(7, 0.4)
        ada = fuse_legs(
            hits(VEC), hits(KW), alpha=alpha, fusion=HybridFusion.ADAPTIVE, features=feats
        )
        rel = fuse_legs(hits(VEC), hits(KW), alpha=alpha, fusion=HybridFusion.RELATIVE_SCORE)
        assert [(h.uuid, h.score) for h in ada] == [(h.uuid, h.score) for h in rel]
        assert ada[0].explanation.alpha == alpha


finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


@settings(deadline=None, max_examples=150)
@given(
    st.lists(finite, max_size=12),
    st.lists(finite, max_size=12),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=0, max_value=40),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=0, max_value=6),
)
def test_matches_reference_on_random_lists(v, k, alpha, n_terms, cap, shift):
    vec = sorted(((f"u{i}", s) for i, s in enumerate(v)), key=lambda p: -p[1])
    kw = sorted(((f"u{i + shift}", s) for i, s in enumerate(k)), key=lambda p: -p[1])
    check(vec, kw, alpha, n_terms, cap)


def test_explanation_shows_the_weights_used():
    got = check(VEC, KW, 0.75, 2, 1.0)
    exp = got[0].explanation
    w = ref_alpha(0.75, 2, 1.0)
    assert exp.fusion == "adaptive" and exp.alpha == pytest.approx(w)
    assert {leg.leg: leg.weight for leg in exp.legs}["vector"] == pytest.approx(w)
    assert dict(exp.details) == {"requested_alpha": 0.75, "query_terms": 2.0, "capitalised": 1.0}
    assert f"alpha={w:.6g}" in str(exp) and "requested_alpha=0.75" in str(exp)
    plain = fuse_legs(hits(VEC), hits(KW), alpha=0.75, fusion=HybridFusion.RELATIVE_SCORE)
    assert plain[0].explanation.alpha is None and "alpha=" not in str(plain[0].explanation)


def test_adaptive_needs_features():
    with pytest.raises(ConfigError, match="features"):
        fuse_legs(hits(VEC), hits(KW), alpha=0.5, fusion=HybridFusion.ADAPTIVE)


def test_adaptive_alpha_model_and_validation():
    assert adaptive_alpha(0.0, 5, 1.0) == 0.0 and adaptive_alpha(1.0, 5, 1.0) == 1.0
    grid = [adaptive_alpha(0.75, n, 0.0) for n in range(30)]
    assert (np.diff(grid) > 0).all()  # longer queries lean to the vector leg
    assert adaptive_alpha(0.75, 3, 1.0) > adaptive_alpha(0.75, 3, 0.0)
    assert 0 < adaptive_alpha(1e-9, 0, 0.0) < adaptive_alpha(1 - 1e-9, 400, 1.0) < 1
    for bad in (-0.1, 1.1, True, "0.5"):
        with pytest.raises(ConfigError, match="alpha"):
            adaptive_alpha(bad, 2, 0.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_terms"):
        adaptive_alpha(0.5, -1, 0.0)
    with pytest.raises(ConfigError, match="capitalised"):
        adaptive_alpha(0.5, 1, 1.5)


def test_query_features():
    sw = Stopwords()
    assert query_features("Luigi Galvani", sw) == QueryFeatures(2, 1.0)
    assert query_features("the cat sat on the mat", sw) == QueryFeatures(3, 0.0)  # "on" is one
    assert query_features("Sea: Physical science > Tsunami", sw) == QueryFeatures(4, 0.75)
    assert query_features("", sw) == QueryFeatures(0, 0.0)
    assert query_features("Éclair 1990 über", sw) == QueryFeatures(3, 1 / 3)


# ------------------------------------------------------------------ through the API
DIM = 8
TEXTS = [
    "Luigi Galvani studied frog legs in Bologna",
    "the quick brown fox jumps over the lazy dog",
    "Alessandro Volta built the first battery",
    "frogs and foxes in the Bologna countryside",
    "a lazy afternoon with a quick nap",
    "Galvani and Volta argued about animal electricity",
]


def _collection(backend: str):
    client = make_client(backend)
    col = client.collections.create(
        "Adaptive",
        vector_config=[Configure.MultiVectors.self_provided(name="v", dtype="float32")],
        properties=[Property(name="text", data_type=DataType.TEXT)],
    )
    rng = np.random.default_rng(3)
    for i, text in enumerate(TEXTS):
        col.data.insert(
            {"text": text}, uuid=multivector.generate_uuid5(i), vector=unit_rows(rng, 3 + i, DIM)
        )
    return client, col


@pytest.mark.parametrize("query", ["Galvani Bologna", "quick lazy fox jumps over a dog", "Volta"])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.75, 1.0])
def test_identical_rankings_on_both_backends(query, alpha):
    q = unit_rows(np.random.default_rng(9), 4, DIM)
    results = []
    for backend in ("embedded", "qdrant"):
        client, col = _collection(backend)
        try:
            res = col.query.hybrid(query, vector=q, alpha=alpha, fusion_type="adaptive", limit=6)
            results.append(
                [(o.uuid, o.metadata.score, o.metadata.explain_score.alpha) for o in res.objects]
            )
        finally:
            client.close()
    a, b = results
    assert [u for u, _, _ in a] == [u for u, _, _ in b] and a
    assert np.allclose([s for _, s, _ in a], [s for _, s, _ in b], atol=1e-5)
    feats = query_features(query, Stopwords())
    assert a[0][2] == pytest.approx(adaptive_alpha(alpha, feats.n_terms, feats.capitalised))


def test_api_adaptive_matches_fuse_legs_on_the_legs():
    client, col = _collection("embedded")
    try:
        q = unit_rows(np.random.default_rng(2), 3, DIM)
        text = "Galvani frog legs"
        vec = [(o.uuid, o.metadata.score) for o in col.query.near_vector(q, limit=100).objects]
        kw = [(o.uuid, o.metadata.score) for o in col.query.bm25(text, limit=100).objects]
        feats = query_features(text, Stopwords())
        want = ref_fuse(vec, kw, 0.6, feats.n_terms, feats.capitalised)
        got = col.query.hybrid(
            text, vector=q, alpha=0.6, fusion_type=HybridFusion.ADAPTIVE, limit=6
        )
        assert [o.uuid for o in got.objects] == [u for u, _ in want][:6]
        cut = col.query.hybrid(
            text, vector=q, alpha=0.6, fusion_type="adaptive", limit=6, auto_limit=1
        )
        assert [o.uuid for o in cut.objects] == [o.uuid for o in got.objects][: len(cut.objects)]
        with pytest.raises(ConfigError, match="ADAPTIVE"):
            col.query.hybrid(text, vector=q, fusion_type="dbsf")
        # relative_score, the default, is untouched
        default = col.query.hybrid(
            text, vector=q, alpha=0.6, limit=6, return_metadata=MetadataQuery()
        )
        assert default.objects[0].metadata.explain_score.fusion == "relative_score"
    finally:
        client.close()


def test_retriever_accepts_adaptive():
    from multivector.retrieval import Retriever

    client, col = _collection("embedded")
    try:
        q = unit_rows(np.random.default_rng(2), 3, DIM)
        got = Retriever(col, fusion_type="adaptive").retrieve("Volta battery", vector=q)
        assert got and got[0].explanation.fusion == "adaptive"
        with pytest.raises(ConfigError, match="adaptive"):
            Retriever(col, fusion_type="nope")
    finally:
        client.close()
