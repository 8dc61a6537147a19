"""Exact MaxSim kernels against a tiny NumPy reference (float32 and float16 arenas, masks, batches).

The whole module (and test_kernels_topk.py) runs once more with ``NUMBA_DISABLE_JIT=1`` in a
subprocess, see :func:`test_same_tests_pass_without_jit`.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multivector.errors import ConfigError, DimensionMismatchError, InvalidVectorError
from multivector.kernels import (
    SearchResult,
    maxsim_scores,
    maxsim_scores_batch,
    maxsim_search,
    maxsim_search_batch,
)
from multivector.kernels import _sched as sched_module
from multivector.kernels import maxsim as maxsim_module
from multivector.kernels._sched import claim, new_counter

#: Set in the no-JIT child run: fewer examples, and the child must not spawn itself again.
NOJIT_CHILD = "MULTIVECTOR_TEST_NOJIT_CHILD"
IN_CHILD = os.environ.get(NOJIT_CHILD) == "1"
SETTINGS = settings(deadline=None, max_examples=8 if IN_CHILD else 60)
ROOT = Path(__file__).resolve().parents[1]


def reference_scores(query, tokens, offsets, mask=None):
    """MaxSim per document in float64, -inf for empty / excluded documents."""
    q = np.asarray(query, dtype=np.float64)
    arena = np.asarray(tokens, dtype=np.float64)
    out = np.full(len(offsets) - 1, -np.inf)
    for i in range(len(offsets) - 1):
        if offsets[i + 1] > offsets[i] and (mask is None or mask[i]):
            sims = q @ arena[offsets[i] : offsets[i + 1]].T
            out[i] = sims.max(axis=1).sum()
    return out


def reference_search(scores, k):
    """Best first, ties by lower index, never -inf."""
    order = sorted(
        (i for i in range(len(scores)) if scores[i] > -np.inf), key=lambda i: (-scores[i], i)
    )
    return np.array(order[:k], dtype=np.int64)


def tolerance(query, tokens, offsets, *, rel):
    """An absolute tolerance per document: rel * sum over query rows of max |q|.|t| bound."""
    qn = np.linalg.norm(np.asarray(query, dtype=np.float64), axis=1).sum()
    tn = np.linalg.norm(np.asarray(tokens, dtype=np.float64), axis=1)
    top = tn[: offsets[-1]].max() if offsets[-1] else 0.0
    return rel * (qn * top + 1e-6)


@dataclass
class Case:
    query: np.ndarray
    tokens: np.ndarray  # float32 or float16, with spare rows past offsets[-1]
    offsets: np.ndarray
    mask: np.ndarray | None
    integer_valued: bool  # every dot product is exact in float32: rankings must match exactly


@st.composite
def cases(draw, *, dtype=None):
    n_docs = draw(st.integers(0, 10))
    lengths = draw(st.lists(st.integers(0, 21), min_size=n_docs, max_size=n_docs))  # every tail
    dim = draw(st.integers(1, 9))
    n_query = draw(st.one_of(st.integers(1, 9), st.integers(10, 40)))  # 1-3 groups of 16 lanes
    spare = draw(st.integers(0, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["normal", "integers", "negative", "scaled"]))
    dtype = dtype or draw(st.sampled_from([np.float32, np.float16]))
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    rng = np.random.default_rng(seed)
    rows = int(offsets[-1]) + spare
    if kind == "integers":  # small integers: exact dot products, many ties
        query = rng.integers(-2, 3, (n_query, dim)).astype(np.float32)
        tokens = rng.integers(-2, 3, (rows, dim)).astype(np.float32)
    elif kind == "negative":  # every similarity negative: a max starting at 0 would be wrong
        query = np.abs(rng.standard_normal((n_query, dim))).astype(np.float32) + 0.1
        tokens = -np.abs(rng.standard_normal((rows, dim))).astype(np.float32) - 0.1
    else:  # unnormalised, possibly large or tiny
        scale = 10.0 ** rng.integers(-2, 3) if kind == "scaled" else 1.0
        query = (rng.standard_normal((n_query, dim)) * scale).astype(np.float32)
        tokens = (rng.standard_normal((rows, dim)) * scale).astype(np.float32)
    if spare:  # garbage in the spare capacity must never be read
        tokens[offsets[-1] :] = 1e4
    mask = None
    if draw(st.booleans()):
        mask = np.array(draw(st.lists(st.booleans(), min_size=n_docs, max_size=n_docs)), dtype=bool)
    return Case(query, tokens.astype(dtype), offsets, mask, kind == "integers")


def check_scores(case: Case, got: np.ndarray) -> None:
    expected = reference_scores(case.query, case.tokens, case.offsets, case.mask)
    assert got.dtype == np.float32
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    rel = 1e-3 if case.tokens.dtype == np.float16 else 1e-5
    atol = tolerance(case.query, case.tokens, case.offsets, rel=rel)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=rel, atol=atol)
    if case.integer_valued:
        np.testing.assert_array_equal(got[finite], expected[finite])


@SETTINGS
@given(cases())
def test_scores_match_reference(case):
    got = maxsim_scores(case.query, case.tokens, case.offsets, case.mask)
    check_scores(case, got)


@contextmanager
def pool_always(threads: int = 2):
    """Run every parallel call on ``threads`` threads, however small (tiny cases stay serial)."""
    saved, before = maxsim_module._PARALLEL_WORK, numba.get_num_threads()
    maxsim_module._PARALLEL_WORK = 0
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        maxsim_module._PARALLEL_WORK = saved
        numba.set_num_threads(before)


@SETTINGS
@given(cases())
def test_serial_and_parallel_agree_exactly(case):
    with pool_always():
        parallel = maxsim_scores(case.query, case.tokens, case.offsets, case.mask, parallel=True)
    serial = maxsim_scores(case.query, case.tokens, case.offsets, case.mask, parallel=False)
    np.testing.assert_array_equal(parallel, serial)
    check_scores(case, serial)


def test_work_claiming_scores_every_document_once_under_contention():
    # many small units, 3 threads, while 4 other threads search the same arena concurrently
    rng = np.random.default_rng(7)
    lengths = rng.integers(0, 30, 700)
    offsets = np.zeros(701, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = rng.standard_normal((int(offsets[-1]), 12)).astype(np.float32)
    mask = rng.random(700) < 0.9
    queries = [rng.standard_normal((int(n), 12)).astype(np.float32) for n in (1, 5, 17, 33)]
    serial = [maxsim_scores(q, tokens, offsets, mask, parallel=False) for q in queries]
    with pool_always(3), ThreadPoolExecutor(max_workers=4) as callers:
        found = list(callers.map(lambda q: maxsim_scores(q, tokens, offsets, mask), queries * 3))
    for got, want in zip(found, serial * 3, strict=True):
        np.testing.assert_array_equal(got, want)
    counter = new_counter()
    assert [claim(counter) for _ in range(3)] == [0, 1, 2]
    assert counter[0] == 3


@SETTINGS
@given(cases(), st.integers(0, 14))
def test_search_returns_best_first_ties_by_index(case, k):
    result = maxsim_search(case.query, case.tokens, case.offsets, k, case.mask)
    assert isinstance(result, SearchResult)
    assert result.indices.dtype == np.int64
    assert result.scores.dtype == np.float32
    scores = maxsim_scores(case.query, case.tokens, case.offsets, case.mask)
    np.testing.assert_array_equal(result.indices, reference_search(scores, k))
    np.testing.assert_array_equal(result.scores, scores[result.indices])
    eligible = np.isfinite(reference_scores(case.query, case.tokens, case.offsets, case.mask))
    assert len(result.indices) == min(k, int(eligible.sum()))  # k > N, empty and masked docs
    assert eligible[result.indices].all()
    if case.integer_valued:
        expected = reference_scores(case.query, case.tokens, case.offsets, case.mask)
        np.testing.assert_array_equal(result.indices, reference_search(expected, k))


@SETTINGS
@given(cases(), st.integers(1, 4), st.integers(0, 12), st.integers(0, 2**32 - 1))
def test_batch_equals_single(case, n_queries, k, seed):
    rng = np.random.default_rng(seed)
    dim = case.query.shape[1]
    queries = [case.query] + [
        rng.integers(-2, 3, (int(rng.integers(1, 7)), dim)).astype(np.float32)
        if case.integer_valued
        else rng.standard_normal((int(rng.integers(1, 7)), dim)).astype(np.float32)
        for _ in range(n_queries - 1)
    ]
    batch = maxsim_scores_batch(queries, case.tokens, case.offsets, case.mask)
    assert batch.shape == (n_queries, len(case.offsets) - 1)
    searches = maxsim_search_batch(queries, case.tokens, case.offsets, k, case.mask)
    assert len(searches) == n_queries
    for query, row, found in zip(queries, batch, searches, strict=True):
        single = maxsim_scores(query, case.tokens, case.offsets, case.mask)
        np.testing.assert_array_equal(np.isneginf(row), np.isneginf(single))
        finite = np.isfinite(single)
        np.testing.assert_allclose(row[finite], single[finite], rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(found.indices, reference_search(row, k))
        if case.integer_valued:
            np.testing.assert_array_equal(row, single)


@SETTINGS
@given(cases(dtype=np.float16))
def test_float16_storage_matches_reference_on_rounded_values(case):
    # the reference sees exactly the float16-rounded values the arena holds
    got = maxsim_scores(case.query, case.tokens, case.offsets, case.mask)
    check_scores(case, got)
    widened = case.tokens.astype(np.float32)
    as_f32 = maxsim_scores(case.query, widened, case.offsets, case.mask)
    finite = np.isfinite(as_f32)
    np.testing.assert_allclose(got[finite], as_f32[finite], rtol=1e-5, atol=1e-4)


def test_masks_that_match_nothing_return_nothing():
    rng = np.random.default_rng(0)
    tokens = rng.standard_normal((20, 4)).astype(np.float32)
    offsets = np.array([0, 5, 10, 20], dtype=np.int64)
    query = rng.standard_normal((3, 4)).astype(np.float32)
    mask = np.zeros(3, dtype=bool)
    assert np.isneginf(maxsim_scores(query, tokens, offsets, mask)).all()
    result = maxsim_search(query, tokens, offsets, 5, mask)
    assert result.indices.size == 0 and result.scores.size == 0
    assert maxsim_search(query, tokens, np.zeros(1, dtype=np.int64), 3).indices.size == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_single_vector_documents_and_long_queries(dtype):
    # one row per document (a single-vector space) and a 33-row query: three lane groups
    rng = np.random.default_rng(3)
    tokens = rng.standard_normal((40, 24)).astype(dtype)
    offsets = np.arange(41, dtype=np.int64)
    query = rng.standard_normal((33, 24)).astype(np.float32)
    expected = query.astype(np.float64) @ tokens.astype(np.float64).T  # [33, 40]
    got = maxsim_scores(query, tokens, offsets)
    np.testing.assert_allclose(got, expected.sum(axis=0), rtol=1e-4, atol=1e-3)


def test_all_negative_similarities_are_not_clamped_at_zero():
    query = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    tokens = np.array([[-1.0, -2.0], [-3.0, -0.5], [-2.0, -2.0]], dtype=np.float32)
    offsets = np.array([0, 2, 3], dtype=np.int64)
    scores = maxsim_scores(query, tokens, offsets)
    np.testing.assert_array_equal(scores, np.array([-1.0 + -0.5, -4.0], dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_read_only_and_memory_mapped_arrays(tmp_path, dtype):
    rng = np.random.default_rng(1)
    lengths = rng.integers(0, 12, 30)
    offsets = np.zeros(31, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = rng.standard_normal((int(offsets[-1]) + 2, 16)).astype(dtype)
    query = rng.standard_normal((6, 16)).astype(np.float32)
    mask = rng.random(30) < 0.7
    expected = maxsim_scores(query, tokens, offsets, mask)
    path = tmp_path / "arena.npy"
    np.save(path, tokens)
    mapped = np.load(path, mmap_mode="r")
    assert not mapped.flags.writeable
    frozen = [offsets.copy(), mask.copy()]
    for array in frozen:
        array.flags.writeable = False
    for parallel in (True, False):
        got = maxsim_scores(query, mapped, frozen[0], frozen[1], parallel=parallel)
        np.testing.assert_array_equal(got, expected)
    found = maxsim_search_batch([query, query[:2]], mapped, frozen[0], 4, frozen[1])
    np.testing.assert_array_equal(
        found[0].indices, maxsim_search(query, tokens, offsets, 4, mask).indices
    )


def test_concurrent_searches_from_threads_agree():
    # the kernels release the GIL (nogil=True); the store may search from several threads at once
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 20, 200)
    offsets = np.zeros(201, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = rng.standard_normal((int(offsets[-1]), 16)).astype(np.float16)
    queries = [rng.standard_normal((5, 16)).astype(np.float32) for _ in range(8)]
    expected = [maxsim_search(q, tokens, offsets, 7) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda q: maxsim_search(q, tokens, offsets, 7), queries))
    for got, want in zip(found, expected, strict=True):
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.scores, want.scores)


def test_query_dtype_and_layout_are_converted():
    rng = np.random.default_rng(2)
    tokens = rng.standard_normal((12, 8)).astype(np.float32)
    offsets = np.array([0, 4, 12], dtype=np.int64)
    query = rng.standard_normal((8, 3))  # float64, transposed below: not C-contiguous
    expected = maxsim_scores(query.T.astype(np.float32).copy(), tokens, offsets)
    np.testing.assert_allclose(maxsim_scores(query.T, tokens, offsets), expected, rtol=1e-6)


def test_nan_query_is_the_stores_job_but_never_surfaces_as_a_hit():
    # the kernels do not check for NaN (the store rejects it); a NaN score is never returned
    tokens = np.ones((6, 3), dtype=np.float32)
    offsets = np.array([0, 3, 6], dtype=np.int64)
    query = np.full((2, 3), np.nan, dtype=np.float32)
    result = maxsim_search(query, tokens, offsets, 5)
    assert not np.isnan(result.scores).any()


@pytest.mark.parametrize(
    ("query", "error", "match"),
    [
        (np.ones((2, 5), dtype=np.float32), DimensionMismatchError, "width 5"),
        (np.ones(4, dtype=np.float32), InvalidVectorError, "2-D"),
        (np.ones((0, 4), dtype=np.float32), InvalidVectorError, "non-empty"),
        (np.ones((2, 4, 1), dtype=np.float32), InvalidVectorError, "2-D"),
        (np.array([["a"] * 4]), InvalidVectorError, "numbers"),
    ],
)
def test_bad_queries_raise(query, error, match):
    tokens = np.ones((8, 4), dtype=np.float32)
    offsets = np.array([0, 8], dtype=np.int64)
    with pytest.raises(error, match=match):
        maxsim_scores(query, tokens, offsets)
    with pytest.raises(error, match=match):
        maxsim_search_batch([np.ones((1, 4), dtype=np.float32), query], tokens, offsets, 1)


def test_bad_k_raises():
    tokens = np.ones((8, 4), dtype=np.float32)
    offsets = np.array([0, 8], dtype=np.int64)
    query = np.ones((1, 4), dtype=np.float32)
    for k in (-1, 1.5, True, "3"):
        with pytest.raises(ConfigError, match="k must be"):
            maxsim_search(query, tokens, offsets, k)
    assert maxsim_search(query, tokens, offsets, 0).indices.size == 0
    assert maxsim_search_batch([], tokens, offsets, 3) == []


@pytest.mark.parametrize(
    ("tokens", "offsets", "mask", "match"),
    [
        (np.ones((8, 4), dtype=np.float64), [0, 8], None, "float32, float16 or int8"),
        (np.ones((4, 8), dtype=np.float32).T, [0, 8], None, "C-contiguous"),
        (np.ones(8, dtype=np.float32), [0, 8], None, "2-D"),
        (np.ones((8, 4), dtype=np.float32), [0, 9], None, "exceeds"),
        (np.ones((8, 4), dtype=np.float32), [1, 8], None, "start with 0"),
        (np.ones((8, 4), dtype=np.float32), [0, 5, 3], None, "non-decreasing"),
        (np.ones((8, 4), dtype=np.float32), np.array([0, 8], dtype=np.int32), None, "int64"),
        (np.ones((8, 4), dtype=np.float32), [0, 8], np.ones(2, dtype=bool), "shape"),
        (np.ones((8, 4), dtype=np.float32), [0, 8], np.ones(1, dtype=np.int8), "bool"),
    ],
)
def test_bad_arena_raises(tokens, offsets, mask, match):
    offsets = offsets if isinstance(offsets, np.ndarray) else np.array(offsets, dtype=np.int64)
    with pytest.raises(ConfigError, match=match):
        maxsim_scores(np.ones((1, 4), dtype=np.float32), tokens, offsets, mask)


def test_same_tests_pass_without_jit():
    """Re-run both kernel test modules interpreted, so coverage and plain-Python semantics hold."""
    if IN_CHILD:  # inside the child run: prove the JIT really is off, never recurse
        assert numba.config.DISABLE_JIT
        return
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", NOJIT_CHILD: "1"}
    command = [sys.executable, "-m", "pytest", "tests/test_kernels_maxsim.py"]
    command += ["tests/test_kernels_topk.py", "-q", "-x", "-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


def test_the_approximate_index_reranks_through_the_same_kernels(monkeypatch):
    # ann_index calls maxsim_search on its candidate rows: the rerank takes the claimed kernels
    # (our thread pool) like every exact search, with no path of its own
    from multivector.backends.embedded.ann_index import CentroidIndex, PlaidParams

    rng = np.random.default_rng(8)
    lengths = rng.integers(4, 40, 600)
    offsets = np.zeros(601, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = rng.standard_normal((int(offsets[-1]), 16)).astype(np.float16)
    params = PlaidParams(n_centroids=16, nprobe=4, n_candidates=50, flat_search_cutoff=0)
    index = CentroidIndex(dataclasses.replace(params, min_train_docs=1, n_iter=4))
    index.train(tokens, offsets)
    seen = []
    real = maxsim_module.run_claimed

    def spy(kernel, args, *, threads):
        seen.append(kernel)
        real(kernel, args, threads=threads)

    monkeypatch.setattr(maxsim_module, "run_claimed", spy)
    query = rng.standard_normal((5, 16)).astype(np.float32)
    found = index.search(query, tokens, offsets, k=5, mask=None, alive=None)
    assert found.approximate and len(found.result.indices) == 5
    assert [k.__name__ if hasattr(k, "__name__") else k.py_func.__name__ for k in seen] == [
        "maxsim_claimed"
    ]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_searches_on_a_pool_of_its_own():
    # the parent's pool threads do not exist in a child: it must build its own, not wait on them
    rng = np.random.default_rng(12)
    offsets = np.arange(0, 2001, 10, dtype=np.int64)
    tokens = rng.standard_normal((2000, 8)).astype(np.float32)
    query = rng.standard_normal((3, 8)).astype(np.float32)
    with pool_always():
        want = maxsim_scores(query, tokens, offsets)  # the parent's pool now exists
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: search, send the scores, leave without cleanup
            try:
                scores = maxsim_scores(query, tokens, offsets)
                own = sched_module._POOL_PID == os.getpid()  # a pool built in this process
                os.write(write, bytes([own]) + scores.tobytes())
            finally:
                os._exit(0)
        os.close(write)
        data = b""
        while chunk := os.read(read, 65536):
            data += chunk
        os.close(read)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert data[:1] == b"\x01"
    np.testing.assert_array_equal(np.frombuffer(data[1:], dtype=np.float32), want)
