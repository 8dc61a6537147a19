"""Approximate search: every candidate-generation kernel against a NumPy reference, the centroid
index's recall against exact search, incremental maintenance, filters, and the collection hook.

The kernel tests (names containing ``kernel``) run once more with ``NUMBA_DISABLE_JIT=1`` in a
subprocess, see :func:`test_kernel_tests_pass_without_jit`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multivector
from multivector import Configure
from multivector.backends.embedded.ann_index import CentroidIndex, PlaidParams, make_ann_index
from multivector.config import CollectionConfig, VectorIndexConfig
from multivector.errors import ConfigError
from multivector.kernels import maxsim_scores, maxsim_search
from multivector.kernels.ann_centroid import centroid_scores, distinct_codes
from multivector.kernels.ann_kmeans import assign_centroids, kmeans, sample_rows
from multivector.kernels.ann_probe import (
    clamped_similarity,
    inverted_lists,
    probe_centroids,
    probe_scores,
    query_similarity,
)
from multivector.query import Filter

NOJIT_CHILD = "MULTIVECTOR_TEST_ANN_NOJIT_CHILD"
IN_CHILD = os.environ.get(NOJIT_CHILD) == "1"
SETTINGS = settings(deadline=None, max_examples=6 if IN_CHILD else 40)
ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- references
def ref_distinct(token_codes, offsets):
    rel = offsets - offsets[0]
    return [np.unique(token_codes[rel[i] : rel[i + 1]]) for i in range(len(offsets) - 1)]


def ref_centroid_scores(sim, per_doc, mask=None):
    out = np.full(len(per_doc), -np.inf)
    for d, codes in enumerate(per_doc):
        if len(codes) and (mask is None or mask[d]):
            out[d] = sim[codes].astype(np.float64).max(axis=0).sum()
    return out


def pack(per_doc):
    offsets = np.zeros(len(per_doc) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in per_doc], out=offsets[1:])
    codes = np.concatenate([*per_doc, np.zeros(0)]).astype(np.int32)
    return codes, offsets


@st.composite
def coded_docs(draw):
    """Documents as token-code sequences (some empty), a centroid count and query rows."""
    k = draw(st.integers(1, 12))
    n_docs = draw(st.integers(0, 9))
    lengths = draw(st.lists(st.integers(0, 7), min_size=n_docs, max_size=n_docs))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    token_codes = rng.integers(0, k, int(offsets[-1])).astype(np.int32)
    n_rows = draw(st.integers(1, 5))
    sim = rng.normal(size=(k, n_rows)).astype(np.float32) - draw(st.sampled_from([0.0, 3.0]))
    mask = rng.random(n_docs) < 0.7 if draw(st.booleans()) else None
    return token_codes, offsets, sim, mask


# ------------------------------------------------------------------------------- kernels
@SETTINGS
@given(coded_docs())
def test_kernel_distinct_codes_match_unique(case):
    token_codes, offsets, _, _ = case
    packed = distinct_codes(token_codes, offsets)
    expected = ref_distinct(token_codes, offsets)
    got = [packed.codes[packed.offsets[i] : packed.offsets[i + 1]] for i in range(len(expected))]
    assert all(np.array_equal(g, e) for g, e in zip(got, expected))
    assert packed.offsets[0] == 0 and packed.offsets[-1] == len(packed.codes)


def test_kernel_distinct_codes_offsets_need_not_start_at_zero():
    token_codes = np.array([5, 5, 1, 2, 2], dtype=np.int32)  # rows 10..14 of some arena
    packed = distinct_codes(token_codes, np.array([10, 13, 13, 15], dtype=np.int64))
    assert packed.codes.tolist() == [1, 5, 2]
    assert packed.offsets.tolist() == [0, 2, 2, 3]


@SETTINGS
@given(coded_docs(), st.booleans())
def test_kernel_centroid_scores_match_reference(case, parallel):
    token_codes, offsets, sim, mask = case
    per_doc = ref_distinct(token_codes, offsets)
    codes, code_offsets = pack(per_doc)
    got = centroid_scores(np.ascontiguousarray(sim), codes, code_offsets, mask, parallel=parallel)
    want = ref_centroid_scores(sim, per_doc, mask)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5)


@SETTINGS
@given(coded_docs(), st.integers(1, 14))
def test_kernel_probe_scores_equal_clamped_centroid_scores(case, nprobe):
    token_codes, offsets, sim, mask = case
    k = sim.shape[0]
    per_doc = ref_distinct(token_codes, offsets)
    codes, code_offsets = pack(per_doc)
    probe = probe_centroids(np.ascontiguousarray(sim.T), nprobe)
    docs, list_offsets = inverted_lists(codes, code_offsets, k)
    got = probe_scores(docs, list_offsets, probe, len(per_doc), mask)
    full = ref_centroid_scores(
        clamped_similarity(np.ascontiguousarray(sim.T), probe), per_doc, mask
    )
    probed = [set(probe.ids[r].tolist()) for r in range(sim.shape[1])]
    for d, doc_codes in enumerate(per_doc):
        touched = any(set(doc_codes.tolist()) & p for p in probed)
        if touched and (mask is None or mask[d]):
            assert got[d] == pytest.approx(full[d], rel=1e-5, abs=1e-5)
        else:
            assert got[d] == -np.inf


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 6), st.integers(1, 12), st.integers(0, 2**16))
def test_kernel_probe_centroids_pick_the_best(k, n_rows, nprobe, seed):
    rows = np.random.default_rng(seed).normal(size=(n_rows, k)).astype(np.float32)
    probe = probe_centroids(rows, nprobe)
    p = min(nprobe, k)
    ordered = -np.sort(-rows, axis=1)
    assert probe.ids.shape == (n_rows, p)
    np.testing.assert_array_equal(probe.sims, ordered[:, :p])
    np.testing.assert_array_equal(probe.sims, np.take_along_axis(rows, probe.ids, axis=1))
    expected_fallback = ordered[:, p] if p < k else ordered[:, -1]
    np.testing.assert_array_equal(probe.fallback, expected_fallback)


def test_kernel_inverted_lists_name_every_holder():
    per_doc = [np.array([0, 2]), np.array([], dtype=np.int64), np.array([2]), np.array([1, 2])]
    codes, offsets = pack(per_doc)
    docs, list_offsets = inverted_lists(codes, offsets, 4)
    lists = [docs[list_offsets[c] : list_offsets[c + 1]].tolist() for c in range(4)]
    assert lists == [[0], [3], [0, 2, 3], []]


def test_kernel_query_similarity_is_a_matrix_product(rng):
    q = rng.normal(size=(7, 24)).astype(np.float32)
    c = rng.normal(size=(33, 24)).astype(np.float32)
    np.testing.assert_allclose(query_similarity(q, c), q @ c.T, rtol=1e-5, atol=1e-5)


def test_kernel_assign_centroids_is_argmax_and_reads_float16(rng):
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    cents = rng.normal(size=(9, 16)).astype(np.float32)
    np.testing.assert_array_equal(assign_centroids(vectors, cents), np.argmax(vectors @ cents.T, 1))
    half = vectors.astype(np.float16)
    want = np.argmax(half.astype(np.float32) @ cents.T, axis=1)
    np.testing.assert_array_equal(assign_centroids(half, cents), want)
    with pytest.raises(ConfigError, match="width"):
        assign_centroids(vectors[:, :8], cents)


def test_kernel_kmeans_recovers_separated_clusters(rng):
    centers = np.eye(8, dtype=np.float32)[:4]
    labels = rng.integers(0, 4, 800)
    data = centers[labels] + rng.normal(scale=0.05, size=(800, 8)).astype(np.float32)
    result = kmeans(data, 4, n_iter=10, seed=3)
    np.testing.assert_allclose(np.linalg.norm(result.centroids, axis=1), 1.0, rtol=1e-5)
    found = assign_centroids(data, result.centroids)
    # every true cluster maps to exactly one centroid and vice versa
    pairs = {(int(a), int(b)) for a, b in zip(labels, found)}
    assert len(pairs) == 4 and len({b for _, b in pairs}) == 4
    assert int(result.sizes.sum()) == 800
    assert np.array_equal(kmeans(data, 4, seed=3).centroids, result.centroids)  # deterministic


def test_kernel_kmeans_keeps_every_centroid_and_checks_k(rng):
    data = np.repeat(np.eye(4, dtype=np.float32), 5, axis=0)  # 4 distinct points, 20 rows
    result = kmeans(data, 4, n_iter=5, seed=0)
    assert (result.sizes > 0).all()
    with pytest.raises(ConfigError, match="k="):
        kmeans(data, 21)
    with pytest.raises(ConfigError, match="n_iter"):
        kmeans(data, 2, n_iter=-1)
    assert sample_rows(10, 20, seed=0).tolist() == list(range(10))
    picked = sample_rows(1000, 50, seed=0)
    assert len(set(picked.tolist())) == 50 and np.all(np.diff(picked) > 0)


def test_kernel_tests_pass_without_jit():
    """Re-run the kernel tests interpreted, so plain-Python semantics hold too."""
    if IN_CHILD:
        assert numba.config.DISABLE_JIT
        return
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", NOJIT_CHILD: "1"}
    command = [sys.executable, "-m", "pytest", "tests/test_ann.py", "-k", "kernel", "-q", "-x"]
    command += ["-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


# ------------------------------------------------------------------------- clustered data
DIM = 32


def clustered(rng, n_docs, *, n_topics=40, dtype=np.float16):
    """Documents of 8-24 tokens around 2-3 of ``n_topics`` unit topics; queries near documents."""
    topics = rng.normal(size=(n_topics, DIM)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    lengths = rng.integers(8, 25, n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    rows = []
    for length in lengths:
        mine = rng.choice(n_topics, size=int(rng.integers(2, 4)), replace=False)
        rows.append(topics[rng.choice(mine, size=int(length))])
    tokens = np.concatenate(rows) + rng.normal(scale=0.5 / np.sqrt(DIM), size=(offsets[-1], DIM))
    tokens /= np.linalg.norm(tokens, axis=1, keepdims=True)
    return np.ascontiguousarray(tokens.astype(dtype)), offsets


def query_near(rng, tokens, offsets, doc):
    rows = tokens[rng.integers(offsets[doc], offsets[doc + 1], 8)].astype(np.float32)
    return rows + rng.normal(scale=0.2 / np.sqrt(DIM), size=rows.shape).astype(np.float32)


def recall_at_10(index, tokens, offsets, queries, mask=None):
    hits = []
    for q in queries:
        got = index.search(q, tokens, offsets, k=10, mask=mask, alive=None)
        assert got.approximate
        want = maxsim_search(q, tokens, offsets, 10, mask)
        # scores are exact: each returned document's score is its true MaxSim
        exact = maxsim_scores(q, tokens, offsets)
        np.testing.assert_allclose(got.result.scores, exact[got.result.indices], rtol=1e-6)
        hits.append(len(set(got.result.indices.tolist()) & set(want.indices.tolist())) / 10)
    return float(np.mean(hits))


PARAMS = PlaidParams(
    n_centroids=64, nprobe=4, n_candidates=100, flat_search_cutoff=0, min_train_docs=1, n_iter=6
)


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(7)
    tokens, offsets = clustered(rng, 3000)
    queries = [query_near(rng, tokens, offsets, int(d)) for d in rng.integers(0, 3000, 20)]
    return tokens, offsets, queries


def test_recall_of_the_approximate_path_against_exact(corpus):
    tokens, offsets, queries = corpus
    index = CentroidIndex(PARAMS)
    report = index.train(tokens, offsets)
    assert report.n_centroids == 64 and report.n_assigned == offsets[-1]
    assert recall_at_10(index, tokens, offsets, queries) >= 0.95
    # compressed (2-bit residuals of 32 dims: 8 B plus a 2-byte centroid id per token) against
    # 64 B per float16 token; centroid ids alone are far smaller still
    assert 0 < index.nbytes < tokens.nbytes / 4
    ids_only = CentroidIndex(dataclass_replace(PARAMS, nbits=None))
    ids_only.train(tokens, offsets)
    assert 0 < ids_only.nbytes < tokens.nbytes / 20
    assert recall_at_10(ids_only, tokens, offsets, queries) >= 0.95


def test_recall_under_a_filter_and_candidates_respect_the_mask(corpus):
    tokens, offsets, queries = corpus
    index = CentroidIndex(PARAMS)
    index.train(tokens, offsets)
    mask = np.arange(3000) % 3 != 0
    for q in queries[:5]:
        assert mask[index.candidates(q, 200, mask)].all()
    assert recall_at_10(index, tokens, offsets, queries, mask) >= 0.95


def test_selective_filter_and_untrained_index_search_exactly(corpus):
    tokens, offsets, queries = corpus
    index = CentroidIndex(PlaidParams(min_train_docs=5000, flat_search_cutoff=100))
    got = index.search(queries[0], tokens, offsets, k=10, mask=None, alive=None)
    assert not got.approximate and not index.trained  # 3000 live < min_train_docs
    assert index.wants_training(3000) is None and index.wants_training(5000) == "untrained"
    index = CentroidIndex(dataclass_replace(PARAMS, flat_search_cutoff=100))
    got = index.search(queries[0], tokens, offsets, k=10, mask=None, alive=None)
    assert not got.approximate and not index.trained  # a search never trains
    index.train(tokens, offsets)
    few = np.zeros(3000, dtype=bool)
    few[::40] = True  # 75 matching objects <= cutoff
    got = index.search(queries[0], tokens, offsets, k=10, mask=few, alive=None)
    want = maxsim_search(queries[0], tokens, offsets, 10, few)
    assert index.trained and not got.approximate
    np.testing.assert_array_equal(got.result.indices, want.indices)


def dataclass_replace(params, **changes):
    return PlaidParams(**{**params.to_params(), **changes})


def test_incremental_adds_are_found_without_retraining(corpus):
    tokens, offsets, _ = corpus
    rng = np.random.default_rng(3)
    index = CentroidIndex(PARAMS)
    index.train(tokens, offsets[:2001])  # the first 2000 documents
    centroids = index.n_centroids
    for lo, hi in ((2000, 2010), (2010, 3000)):  # a tail scan, then a list rebuild
        index.add([np.asarray(tokens[offsets[d] : offsets[d + 1]]) for d in range(lo, hi)])
        for d in rng.integers(lo, hi, 5).tolist():
            q = query_near(rng, tokens, offsets, d)
            assert d in index.candidates(q, 20).tolist()
    assert index.n_slots == 3000 and index.n_centroids == centroids
    full = CentroidIndex(PARAMS)
    full.train(tokens, offsets)
    q = query_near(rng, tokens, offsets, 2500)
    same = index.search(q, tokens, offsets, k=10, mask=None, alive=None).result
    assert set(same.indices.tolist()) & set(
        full.search(q, tokens, offsets, k=10, mask=None, alive=None).result.indices.tolist()
    )


def test_compaction_remaps_slots(corpus):
    tokens, offsets, queries = corpus
    index = CentroidIndex(PARAMS)
    index.add([None])  # an empty slot before training
    index = CentroidIndex(PARAMS)
    index.train(tokens, offsets)
    keep = np.flatnonzero(np.arange(3000) % 2 == 0).astype(np.int64)
    before = [
        set(keep.searchsorted(c).tolist())
        for c in (index.candidates(q, 50, np.isin(np.arange(3000), keep)) for q in queries[:5])
    ]
    index.compact(keep)
    assert index.n_slots == len(keep)
    after = [set(index.candidates(q, 50).tolist()) for q in queries[:5]]
    assert before == after


def test_params_are_validated_and_round_trip_through_json():
    config = Configure.VectorIndex.plaid(nprobe=8, n_candidates=300)
    assert PlaidParams.from_params(config.params) == PlaidParams(nprobe=8, n_candidates=300)
    assert PlaidParams.from_params(Configure.VectorIndex.plaid().params) == PlaidParams()
    vec = Configure.MultiVectors.self_provided(name="mv", index=config)
    cfg = CollectionConfig(name="Docs", vectors=(vec,))
    assert CollectionConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert make_ann_index(VectorIndexConfig()) is None
    with pytest.raises(ConfigError, match="hnsw"):
        make_ann_index(VectorIndexConfig(kind="hnsw"))
    with pytest.raises(ConfigError, match="nprob"):
        make_ann_index(VectorIndexConfig(kind="plaid", params={"nprob": 4}))
    for bad in (
        {"nprobe": 0},
        {"n_candidates": "many"},
        {"retrain_growth": 1.0},
        {"n_centroids": True},
        {"flat_search_cutoff": -1},
    ):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            PlaidParams.from_params(bad)
    assert PlaidParams().centroids_for(10) == 10
    assert PlaidParams().centroids_for(10**8) == 8192
    assert PlaidParams().centroids_for(12_800_000) == 8192  # 2 * sqrt(12.8M) = 7155
    assert PlaidParams().samples_for(8192) == 262_144 and PlaidParams().samples_for(16) == 131_072


# ------------------------------------------------------------------------ collection hook
def _collections(client, rng, n_docs, *, index):
    exact = client.collections.create(
        "Exact", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
    )
    approx = client.collections.create(
        "Approx", vector_config=[Configure.MultiVectors.self_provided(name="mv", index=index)]
    )
    tokens, offsets = clustered(rng, n_docs, dtype=np.float32)
    objects = [
        multivector.DataObject(
            {"part": i % 4},
            uuid=multivector.generate_uuid5(i),
            vector={"mv": tokens[offsets[i] : offsets[i + 1]]},
        )
        for i in range(n_docs)
    ]
    for col in (exact, approx):
        assert not col.data.insert_many(objects).has_errors
    return exact, approx, tokens, offsets


def _ids(result):
    return [str(o.uuid) for o in result.objects]


def test_collection_uses_the_index_with_deletes_filters_and_compaction(client, rng):
    index = Configure.VectorIndex.plaid(
        n_centroids=64, n_candidates=150, flat_search_cutoff=50, min_train_docs=500
    )
    exact, approx, tokens, offsets = _collections(client, rng, 800, index=index)
    backend = approx.backend
    queries = [query_near(rng, tokens, offsets, int(d)) for d in rng.integers(0, 800, 10)]
    first = approx.query.near_vector(queries[0], limit=10)  # exact: the index is untrained
    assert _ids(first) == _ids(exact.query.near_vector(queries[0], limit=10))
    backend.wait_for_index()  # the first search asked for training in the background
    assert backend._ann.get("mv").trained  # 800 >= min_train_docs
    assert backend.index_stats()["mv"]["trained"]
    agree = []
    for q in queries:
        a = approx.query.near_vector(
            q, limit=10, return_metadata=multivector.MetadataQuery(distance=True)
        )
        e = exact.query.near_vector(q, limit=10)
        agree.append(len(set(_ids(a)) & set(_ids(e))) / 10)
    assert np.mean(agree) >= 0.9
    gone = [multivector.generate_uuid5(i) for i in range(0, 800, 2)]
    for col in (exact, approx):
        col.data.delete_many(where=Filter.by_id().contains_any(gone))
    only = Filter.by_property("part").equal(1)
    for q in queries[:4]:
        a = _ids(approx.query.near_vector(q, limit=10, filters=only))
        assert not set(a) & set(gone)
        assert len(a) == 10
        assert set(a) <= set(_ids(exact.query.near_vector(q, limit=200, filters=only)))
    backend.compact()
    assert backend._ann.get("mv").n_slots == 400
    reports = backend.retrain_index("mv")
    assert reports["mv"].n_assigned == int(np.diff(offsets)[1::2].sum())
    q = queries[0]
    assert _ids(approx.query.near_vector(q, limit=5)) == _ids(exact.query.near_vector(q, limit=5))
    with pytest.raises(ConfigError, match="nope"):
        backend.retrain_index("nope")


def test_durable_store_keeps_the_config_and_rebuilds_the_index_on_reopen(tmp_path, rng):
    index = Configure.VectorIndex.plaid(
        n_centroids=16, n_candidates=60, flat_search_cutoff=10, min_train_docs=100
    )
    tokens, offsets = clustered(rng, 300, dtype=np.float32)
    q = query_near(rng, tokens, offsets, 7)
    with multivector.connect(path=str(tmp_path)) as first:
        col = first.collections.create(
            "Docs", vector_config=[Configure.MultiVectors.self_provided(name="mv", index=index)]
        )
        objects = [
            multivector.DataObject({"i": i}, vector={"mv": tokens[offsets[i] : offsets[i + 1]]})
            for i in range(300)
        ]
        assert not col.data.insert_many(objects).has_errors
        col.query.near_vector(q, limit=5)
        col.backend.wait_for_index()
        assert col.backend._ann.get("mv").trained
        before = _ids(col.query.near_vector(q, limit=5))
        stats = col.backend.index_stats()["mv"]
    with multivector.connect(path=str(tmp_path)) as again:
        col = again.collections.use("Docs")
        assert col.config.vector("mv").index == index
        # persisted with the store's cache at close: mapped back, not trained again
        assert _ids(col.query.near_vector(q, limit=5)) == before
        assert col.backend._ann.get("mv").trained
        assert col.backend.index_stats()["mv"]["bytes"] == stats["bytes"]
