"""Residual compression of the PLAID index: codec round trips, scoring on codes against NumPy,
the persisted state's checks, and the three-stage search keeping exact scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multivector.backends.embedded.ann_compressed import ResidualStore
from multivector.backends.embedded.ann_index import CentroidIndex, PlaidParams
from multivector.backends.embedded.ann_state import export_state, restore_state, state_problem
from multivector.kernels import maxsim_scores
from multivector.kernels.ann_kmeans import assign_centroids, kmeans
from multivector.kernels.ann_residual import (
    byte_table,
    decode_residuals,
    encode_residuals,
    fit_codec,
    residual_maxsim,
)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered_tokens(rng: np.random.Generator, n: int, dim: int, k: int = 32) -> np.ndarray:
    centres = unit(rng.standard_normal((k, dim)))
    return unit(centres[rng.integers(0, k, n)] + 0.35 * rng.standard_normal((n, dim)) / dim**0.5)


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    x = clustered_tokens(rng, 6000, 64)
    centroids = kmeans(x[:3000], 32, n_iter=5, seed=0).centroids
    codes = assign_centroids(x, centroids)
    return x, centroids, codes


@pytest.mark.parametrize("nbits", [1, 2, 4])
def test_round_trip_error_shrinks_with_bits_and_beats_the_centroid_alone(trained, nbits):
    x, centroids, codes = trained
    residual = x - centroids[codes]
    codec = fit_codec(residual[:3000], nbits)
    assert codec.cutoffs.shape == (64, 2**nbits - 1) and codec.weights.shape == (64, 2**nbits)
    assert np.all(np.diff(codec.cutoffs, axis=1) >= 0)  # cut-offs ascend per dimension
    packed = encode_residuals(x.astype(np.float16), codes, centroids, codec)
    assert packed.shape == (6000, 64 * nbits // 8) and packed.dtype == np.uint8
    decoded = decode_residuals(packed, codes, centroids, codec)
    err = np.sqrt(np.sum((decoded - x) ** 2) / np.sum(residual**2))
    # relative error left of the residual's norm, per bits
    bound = {1: 0.72, 2: 0.5, 4: 0.23}[nbits]  # measured 0.67 / 0.47 / 0.20
    assert float(err) < bound, err
    # every decoded coordinate is one of its dimension's bucket weights
    used = decoded - centroids[codes]
    assert np.all(np.isclose(used[:, :, None], codec.weights[None], atol=1e-6).any(axis=2))


def test_each_value_lands_in_the_bucket_its_cutoffs_name(trained):
    x, centroids, codes = trained
    codec = fit_codec((x - centroids[codes])[:3000], 2)
    packed = encode_residuals(x[:50], codes[:50], centroids, codec)
    residual = x[:50] - centroids[codes[:50]]
    want = (residual[:, :, None] >= codec.cutoffs[None]).sum(axis=2)
    got = (packed[:, :, None] >> (np.arange(4) * 2)[None, None, :]) & 3
    np.testing.assert_array_equal(got.reshape(50, 64), want)


@settings(max_examples=30, deadline=None)
@given(
    dim=st.sampled_from([8, 12, 16, 33, 64]),
    nbits=st.sampled_from([1, 2, 4]),
    n_docs=st.integers(1, 12),
    q=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_scoring_on_codes_matches_numpy_on_the_decoded_vectors(dim, nbits, n_docs, q, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 9, n_docs)  # empty documents included
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    x = rng.standard_normal((max(total, 1), dim)).astype(np.float32)
    centroids = unit(rng.standard_normal((5, dim)))
    codes = assign_centroids(x, centroids)
    codec = fit_codec(x - centroids[codes], nbits)
    packed = encode_residuals(x[:total], codes[:total], centroids, codec)
    query = rng.standard_normal((q, dim)).astype(np.float32)  # negative similarities too
    slots = rng.permutation(n_docs).astype(np.int64)
    decoded = decode_residuals(packed, codes[:total], centroids, codec)
    for parallel in (False, True):
        got = residual_maxsim(
            query,
            codes[:total],
            packed,
            byte_table(codec),
            centroids,
            offsets,
            slots,
            parallel=parallel,
        )
        for i, s in enumerate(slots):
            rows = decoded[offsets[s] : offsets[s + 1]]
            if rows.shape[0] == 0:
                assert got[i] == -np.inf
            else:
                assert got[i] == pytest.approx(float((query @ rows.T).max(axis=1).sum()), abs=1e-3)


def corpus(rng: np.random.Generator, n_docs: int, dim: int = 32):
    lengths = rng.integers(4, 24, n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = clustered_tokens(rng, int(offsets[-1]), dim, k=64).astype(np.float16)
    return tokens, offsets


PARAMS = PlaidParams(
    n_centroids=64,
    nprobe=8,
    n_candidates=400,
    n_decode=200,
    n_rerank=40,
    flat_search_cutoff=0,
    min_train_docs=1,
    n_iter=5,
)


def test_three_stage_search_returns_exact_scores_and_good_recall():
    rng = np.random.default_rng(3)
    tokens, offsets = corpus(rng, 3000)
    index = CentroidIndex(PARAMS)
    index.train(tokens, offsets)
    parts = index.memory_parts()
    assert {"centroids", "token_codes", "residuals", "inverted_lists"} <= parts.keys()
    assert parts["residuals"] == int(offsets[-1]) * 32 * 2 // 8
    hits = []
    for d in rng.integers(0, 3000, 15).tolist():
        q = tokens[offsets[d] : offsets[d] + 6].astype(np.float32)
        got = index.search(q, tokens, offsets, k=10, mask=None, alive=None)
        exact = maxsim_scores(q, tokens, offsets)
        np.testing.assert_allclose(got.result.scores, exact[got.result.indices], rtol=1e-5)
        want = np.argsort(-exact, kind="stable")[:10]
        hits.append(len(set(got.result.indices.tolist()) & set(want.tolist())) / 10)
    assert np.mean(hits) >= 0.9


def test_adds_and_compaction_keep_codes_aligned_with_the_arena_rows():
    rng = np.random.default_rng(4)
    tokens, offsets = corpus(rng, 1200)
    index = CentroidIndex(PARAMS)
    index.train(tokens, offsets[:801])
    index.add([tokens[offsets[d] : offsets[d + 1]].astype(np.float32) for d in range(800, 1200)])
    store = index.residuals
    assert store is not None and store.n_slots == 1200
    np.testing.assert_array_equal(store.offsets(), offsets)
    assert store.added_rows == int(offsets[1200] - offsets[800]) and store.drift() > 0
    keep = np.flatnonzero(np.arange(1200) % 3 != 0).astype(np.int64)
    index.compact(keep)
    kept_rows = np.concatenate([np.arange(offsets[s], offsets[s + 1]) for s in keep])
    fresh = ResidualStore.from_arrays(*_arrays_meta(store), index.n_centroids)
    np.testing.assert_array_equal(
        index.residuals.arrays()["residuals"], fresh.arrays()["residuals"][kept_rows]
    )


def _arrays_meta(store: ResidualStore):
    return {k: np.array(v) for k, v in store.arrays().items()}, store.meta()


def test_a_persisted_state_is_used_only_when_it_fits_the_arena():
    rng = np.random.default_rng(5)
    tokens, offsets = corpus(rng, 500)
    index = CentroidIndex(PARAMS)
    index.train(tokens, offsets)
    state = export_state(index)
    assert state is not None and state_problem(state, PARAMS, offsets) is None
    back = restore_state(state, PARAMS, offsets)
    assert back is not None and back.memory_parts() == index.memory_parts()
    q = tokens[offsets[7] : offsets[8]].astype(np.float32)
    a = index.search(q, tokens, offsets, k=5, mask=None, alive=None).result
    b = back.search(q, tokens, offsets, k=5, mask=None, alive=None).result
    np.testing.assert_array_equal(a.indices, b.indices)
    other = PlaidParams(**{**PARAMS.to_params(), "nbits": 4})
    assert "settings" in (state_problem(state, other, offsets) or "")
    assert "slots" in (state_problem(state, PARAMS, offsets[:-1]) or "")
    moved = offsets.copy()
    moved[1:] += 1
    assert state_problem(state, PARAMS, moved) is not None
    bad = state.arrays.copy()
    bad["tok_codes"] = bad["tok_codes"].copy()
    bad["tok_codes"][0] = 60_000  # a centroid that does not exist
    assert "missing centroids" in (
        state_problem(type(state)(bad, state.meta), PARAMS, offsets) or ""
    )
    no_lists = {k: v for k, v in state.arrays.items() if k != "list_docs"}
    assert "incomplete" in (state_problem(type(state)(no_lists, state.meta), PARAMS, offsets) or "")
