"""int8 arenas: per-token quantisation and the MaxSim kernels against a NumPy reference.

The reference scores the dequantised values ``q * scale`` in float64. The module runs once more
with ``NUMBA_DISABLE_JIT=1`` in a subprocess (:func:`test_same_tests_pass_without_jit`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multivector.errors import ConfigError
from multivector.kernels import maxsim_scores, maxsim_scores_batch, maxsim_search
from multivector.kernels.quantize import dequantize_int8, quantize_int8

NOJIT_CHILD = "MULTIVECTOR_TEST_INT8_NOJIT_CHILD"
IN_CHILD = os.environ.get(NOJIT_CHILD) == "1"
SETTINGS = settings(deadline=None, max_examples=8 if IN_CHILD else 50)
ROOT = Path(__file__).resolve().parents[1]


def reference_scores(query, values, scales, offsets, mask=None):
    """MaxSim per document over the dequantised rows, float64; -inf for empty / excluded."""
    arena = values.astype(np.float64) * scales.astype(np.float64)[:, None]
    q = np.asarray(query, dtype=np.float64)
    out = np.full(len(offsets) - 1, -np.inf)
    for i in range(len(offsets) - 1):
        if offsets[i + 1] > offsets[i] and (mask is None or mask[i]):
            out[i] = (q @ arena[offsets[i] : offsets[i + 1]].T).max(axis=1).sum()
    return out


@st.composite
def int8_cases(draw):
    n_docs = draw(st.integers(0, 10))
    lengths = draw(st.lists(st.integers(0, 19), min_size=n_docs, max_size=n_docs))
    dim = draw(st.integers(1, 9))
    n_query = draw(st.one_of(st.integers(1, 9), st.integers(10, 40)))
    seed = draw(st.integers(0, 2**32 - 1))
    spare = draw(st.integers(0, 3))
    rng = np.random.default_rng(seed)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    rows = int(offsets[-1]) + spare
    floats = rng.normal(size=(rows, dim)) * rng.uniform(0.01, 50.0, size=(rows, 1))
    if rows and draw(st.booleans()):
        floats[rng.integers(0, rows)] = 0.0  # an all-zero token: scale 0
    values, scales = quantize_int8(floats)
    query = rng.normal(size=(n_query, dim)).astype(np.float32)
    if draw(st.booleans()):
        query = -np.abs(query)  # mostly negative similarities: the max must start at -inf
    mask = rng.random(n_docs) < 0.7 if draw(st.booleans()) else None
    return query, values, scales, offsets, mask


@SETTINGS
@given(int8_cases(), st.booleans())
def test_int8_scores_match_the_dequantised_reference(case, parallel):
    query, values, scales, offsets, mask = case
    got = maxsim_scores(query, values, offsets, mask, parallel=parallel, scales=scales)
    want = reference_scores(query, values, scales, offsets, mask)
    assert got.dtype == np.float32
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    finite = ~np.isneginf(want)
    bound = np.abs(query).sum() * (np.abs(values).max(initial=0) * scales.max(initial=0) + 1)
    assert np.allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5 * bound + 1e-6)
    # the same arena dequantised to float32 scores identically (the scratch holds those values)
    floats = np.ascontiguousarray(dequantize_int8(values, scales))
    same = maxsim_scores(query, floats, offsets, mask, parallel=parallel)
    assert np.array_equal(got, same)


@SETTINGS
@given(int8_cases())
def test_int8_batch_and_serial_agree_with_single(case):
    query, values, scales, offsets, mask = case
    batch = maxsim_scores_batch([query, query[:1]], values, offsets, mask, scales=scales)
    assert np.array_equal(batch[0], maxsim_scores(query, values, offsets, mask, scales=scales))
    serial = maxsim_scores(query[:1], values, offsets, mask, parallel=False, scales=scales)
    assert np.array_equal(batch[1], serial)


@SETTINGS
@given(
    st.integers(0, 30),
    st.integers(1, 40),
    st.floats(1e-3, 1e3),
    st.integers(0, 2**32 - 1),
)
def test_quantisation_is_symmetric_per_token(n, dim, magnitude, seed):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, dim)) * magnitude).astype(np.float32)
    values, scales = quantize_int8(x)
    assert values.dtype == np.int8 and scales.dtype == np.float32
    assert values.shape == (n, dim) and scales.shape == (n,)
    assert np.all(np.abs(values.astype(np.int16)) <= 127)
    peak = np.abs(x).max(axis=1) if n else np.zeros(0)
    assert np.allclose(scales, peak / 127, rtol=1e-6)
    if n:  # the largest magnitude of every non-zero row maps to +/-127
        assert np.all(np.abs(values.astype(np.int16)).max(axis=1)[peak > 0] == 127)
    error = np.abs(dequantize_int8(values, scales) - x)
    assert np.all(error <= scales[:, None] * 0.5 * (1 + 1e-5) + 1e-30)


def test_zero_rows_get_scale_zero_and_score_zero():
    values, scales = quantize_int8(np.zeros((3, 4), dtype=np.float32))
    assert np.all(values == 0) and np.all(scales == 0)
    offsets = np.array([0, 3], dtype=np.int64)
    query = np.full((2, 4), -1.0, dtype=np.float32)
    assert maxsim_scores(query, values, offsets, scales=scales)[0] == 0.0


def test_int8_search_ranks_like_the_reference():
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 30, size=300)
    offsets = np.zeros(301, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values, scales = quantize_int8(rng.normal(size=(int(offsets[-1]), 24)))
    query = rng.normal(size=(6, 24)).astype(np.float32)
    found = maxsim_search(query, values, offsets, 10, scales=scales)
    want = reference_scores(query, values, scales, offsets)
    assert set(found.indices.tolist()) == set(np.argsort(-want)[:10].tolist())
    assert np.allclose(found.scores, np.sort(want)[::-1][:10], rtol=1e-5)


def test_int8_top10_agrees_with_float32_on_normalised_data():
    # 2000 documents of 8-47 tokens, 16-token queries, 64 dims. Agreement falls as score gaps
    # shrink: benchmarks/maxsim.py (20k documents of 32-128 tokens, 32-token queries) measures
    # 0.97-0.98.
    rng = np.random.default_rng(11)
    dim, n_docs = 64, 2000
    lengths = rng.integers(8, 48, size=n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    floats = rng.normal(size=(int(offsets[-1]), dim)).astype(np.float32)
    floats /= np.linalg.norm(floats, axis=1, keepdims=True)
    values, scales = quantize_int8(floats)
    agree = []
    for _ in range(20):
        query = rng.normal(size=(16, dim)).astype(np.float32)
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        exact = set(maxsim_search(query, floats, offsets, 10).indices.tolist())
        approx = set(maxsim_search(query, values, offsets, 10, scales=scales).indices.tolist())
        agree.append(len(exact & approx) / 10)
    assert np.mean(agree) >= 0.99


@pytest.mark.parametrize(
    ("tokens", "scales", "match"),
    [
        (np.zeros((4, 2), np.int8), None, "needs its per-row scales"),
        (np.zeros((4, 2), np.int8), np.zeros(3, np.float32), "one entry per arena row"),
        (np.zeros((4, 2), np.int8), np.zeros(4, np.float64), "float32"),
        (np.zeros((4, 2), np.float32), np.zeros(4, np.float32), "only for an int8 arena"),
        (np.zeros((4, 2), np.int16), None, "float32, float16 or int8"),
    ],
)
def test_bad_scales_raise(tokens, scales, match):
    offsets = np.array([0, 4], dtype=np.int64)
    with pytest.raises(ConfigError, match=match):
        maxsim_scores(np.ones((1, 2), np.float32), tokens, offsets, scales=scales)


def test_same_tests_pass_without_jit():
    """Re-run this module interpreted (plain NumPy semantics of the int8 widening)."""
    if IN_CHILD:
        assert numba.config.DISABLE_JIT
        return
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", NOJIT_CHILD: "1"}
    command = [sys.executable, "-m", "pytest", "tests/test_kernels_int8.py", "-q", "-x"]
    command += ["-p", "no:cacheprovider", "-k", "not top10_agrees"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
