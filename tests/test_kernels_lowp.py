"""Low-precision MaxSim (``precision="bfloat16"`` / ``"int8"``) against NumPy references.

References: bf16 rounds query and tokens to bfloat16 (nearest even) and scores in float64; int8
quantises each query row symmetrically (``max|q| / 127``) and scores exact integer dot products
times both scales. Both instruction sets are checked in-process (native ``vdpbf16ps`` /
``vpdpbusd`` when this CPU has them, and the portable code), the import-time dispatch in a
subprocess with ``MULTIVECTOR_PORTABLE_KERNELS=1``, and the whole module once more with
``NUMBA_DISABLE_JIT=1`` (:func:`test_same_tests_pass_without_jit`).
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
from multivector.kernels import maxsim as maxsim_module
from multivector.kernels import maxsim_scores, maxsim_scores_batch, maxsim_search
from multivector.kernels._isa import BF16_ISA, INT8_ISA, target_has
from multivector.kernels._layout import bf16_bits, bf16_queries, int8_queries
from multivector.kernels._maxsim_lowp import maxsim_bf16_claimed, maxsim_int8_claimed
from multivector.kernels._sched import new_counter
from multivector.kernels._simd import NATIVE, PORTABLE
from multivector.kernels.quantize import dequantize_int8, quantize_int8

NOJIT_CHILD = "MULTIVECTOR_TEST_LOWP_NOJIT_CHILD"
IN_CHILD = os.environ.get(NOJIT_CHILD) == "1"
SETTINGS = settings(deadline=None, max_examples=6 if IN_CHILD else 50)
ROOT = Path(__file__).resolve().parents[1]


def as_bf16(values):
    """float32 values rounded to bfloat16, as float64 (independent of the kernels' rounding)."""
    bits = bf16_bits(np.asarray(values, dtype=np.float32)).astype(np.uint32) << np.uint32(16)
    return bits.view(np.float32).astype(np.float64)


def maxsim_reference(query, arena, offsets, mask):
    """MaxSim per document over float64 matrices, -inf for empty / excluded documents."""
    out = np.full(len(offsets) - 1, -np.inf)
    for i in range(len(offsets) - 1):
        if offsets[i + 1] > offsets[i] and (mask is None or mask[i]):
            out[i] = (query @ arena[offsets[i] : offsets[i + 1]].T).max(axis=1).sum()
    return out


def int8_reference(query, values, scales, offsets, mask):
    """The query rows quantised like the stored rows; exact integer dots times both scales."""
    q = np.asarray(query, dtype=np.float32)
    q_scale = (np.abs(q).max(axis=1) / np.float32(127.0)).astype(np.float32)
    safe = np.where(q_scale > 0, q_scale, np.float32(1.0))
    q8 = np.clip(np.rint(q / safe[:, None]), -127, 127)
    return maxsim_reference(
        q8 * q_scale.astype(np.float64)[:, None],
        values.astype(np.float64) * scales.astype(np.float64)[:, None],
        offsets,
        mask,
    )


@st.composite
def arenas(draw):
    """Random documents (empty ones too), spare rows, an optional mask, a 1-40 row query."""
    n_docs = draw(st.integers(0, 10))
    lengths = draw(st.lists(st.integers(0, 19), min_size=n_docs, max_size=n_docs))
    dim = draw(st.integers(1, 11))
    n_query = draw(st.one_of(st.integers(1, 9), st.integers(10, 40)))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["normal", "negative", "scaled"]))
    rng = np.random.default_rng(seed)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    rows = int(offsets[-1]) + draw(st.integers(0, 3))
    query = rng.standard_normal((n_query, dim)).astype(np.float32)
    tokens = rng.standard_normal((rows, dim)).astype(np.float32)
    if kind == "negative":  # every similarity negative: a max starting at 0 would be wrong
        query, tokens = np.abs(query) + 0.1, -np.abs(tokens) - 0.1
    elif kind == "scaled":
        tokens *= np.float32(10.0 ** rng.integers(-2, 3))
    mask = rng.random(n_docs) < 0.7 if draw(st.booleans()) else None
    return query, tokens, offsets, mask


def assert_close(got, want, bound):
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5 * bound + 1e-6)


def magnitude(query, tokens):
    """Sum over query rows of |q| times the largest |t|: bounds every score."""
    top = np.abs(tokens).max(initial=0.0) * tokens.shape[1] if tokens.size else 0.0
    return float(np.abs(query).max(axis=1).sum() * top)


def run_kernel(precision, isa, query, arena, offsets, mask=None, scales=None):
    """One kernel call with an explicit instruction set, serial (what the dispatcher does)."""
    qt, lane_starts, lengths = maxsim_module._stack_queries([query], dim=arena.shape[1])
    n_docs = len(offsets) - 1
    out = np.empty((1, n_docs), dtype=np.float32)
    keep = mask if mask is not None else np.ones(0, dtype=bool)
    tail = (keep, mask is not None, new_counter(), 3, out, isa)
    if precision == "bfloat16":
        bits = arena.view(np.uint16) if arena.dtype == np.float16 else arena
        maxsim_bf16_claimed(bf16_queries(qt), lane_starts, lengths, bits, offsets, *tail)
    else:
        q8 = int8_queries(qt)
        maxsim_int8_claimed(*q8, lane_starts, lengths, arena, scales, offsets, *tail)
    return out[0]


@SETTINGS
@given(arenas(), st.sampled_from([np.float32, np.float16]), st.booleans())
def test_bf16_scores_match_the_rounded_reference(case, dtype, parallel):
    query, tokens, offsets, mask = case
    arena = tokens.astype(dtype)
    want = maxsim_reference(as_bf16(query), as_bf16(arena.astype(np.float32)), offsets, mask)
    got = maxsim_scores(query, arena, offsets, mask, parallel=parallel, precision="bfloat16")
    assert_close(got, want, magnitude(query, tokens))
    for isa in (NATIVE, PORTABLE) if BF16_ISA is NATIVE else (PORTABLE,):
        assert_close(
            run_kernel("bfloat16", isa, query, arena, offsets, mask), want, magnitude(query, tokens)
        )


@SETTINGS
@given(arenas(), st.booleans())
def test_int8_scores_match_the_quantised_reference(case, parallel):
    query, tokens, offsets, mask = case
    values, scales = quantize_int8(tokens)
    want = int8_reference(query, values, scales, offsets, mask)
    got = maxsim_scores(
        query, values, offsets, mask, parallel=parallel, scales=scales, precision="int8"
    )
    assert_close(got, want, magnitude(query, dequantize_int8(values, scales)))
    portable = run_kernel("int8", PORTABLE, query, values, offsets, mask, scales)
    if INT8_ISA is NATIVE:  # integer dot products: both instruction sets give identical scores
        np.testing.assert_array_equal(
            run_kernel("int8", NATIVE, query, values, offsets, mask, scales), portable
        )
    np.testing.assert_array_equal(got, portable)


@SETTINGS
@given(arenas(), st.sampled_from(["bfloat16", "int8"]), st.integers(0, 12))
def test_batches_searches_and_the_pool_agree_with_single_serial_calls(case, precision, k):
    query, tokens, offsets, mask = case
    arena, scales = (
        (tokens.astype(np.float16), None) if precision == "bfloat16" else quantize_int8(tokens)
    )
    options = {"scales": scales, "precision": precision}
    serial = maxsim_scores(query, arena, offsets, mask, parallel=False, **options)
    saved, threads = maxsim_module._PARALLEL_WORK, numba.get_num_threads()
    maxsim_module._PARALLEL_WORK = 0
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        pooled = maxsim_scores(query, arena, offsets, mask, **options)
    finally:
        maxsim_module._PARALLEL_WORK = saved
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(pooled, serial)
    batch = maxsim_scores_batch([query[:1], query], arena, offsets, mask, **options)
    np.testing.assert_array_equal(batch[1], serial)
    found = maxsim_search(query, arena, offsets, k, mask, **options)
    eligible = np.flatnonzero(np.isfinite(serial))
    assert len(found.indices) == min(k, eligible.size)
    order = sorted(eligible.tolist(), key=lambda i: (-serial[i], i))[:k]
    np.testing.assert_array_equal(found.indices, order)


def test_memory_mapped_arenas_score_like_in_memory(tmp_path):
    rng = np.random.default_rng(5)
    offsets = np.array([0, 3, 3, 20, 31], dtype=np.int64)
    tokens = rng.standard_normal((31, 16)).astype(np.float32)
    values, scales = quantize_int8(tokens)
    query = rng.standard_normal((5, 16)).astype(np.float32)
    for arena, row_scales, precision in (
        (tokens.astype(np.float16), None, "bfloat16"),
        (values, scales, "int8"),
    ):
        np.save(tmp_path / "arena.npy", arena)
        mapped = np.load(tmp_path / "arena.npy", mmap_mode="r")
        frozen = offsets.copy()
        frozen.flags.writeable = False
        want = maxsim_scores(query, arena, offsets, scales=row_scales, precision=precision)
        got = maxsim_scores(query, mapped, frozen, scales=row_scales, precision=precision)
        np.testing.assert_array_equal(got, want)


def unit(rows):
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered_corpus(rng, *, n_docs, dim=128, n_topics=128, terms_per_topic=16):
    """Tokens like ColBERT's (benchmarks/scale.py, ``--structure terms``): each document draws
    2-4 topics and 3-8 terms per topic, its 32-96 tokens are noisy copies of those terms."""
    topics = unit(rng.standard_normal((n_topics, dim)))
    noise = rng.standard_normal((n_topics * terms_per_topic, dim)) * (0.8 / np.sqrt(dim))
    terms = unit(np.repeat(topics, terms_per_topic, axis=0) + noise)
    lengths = rng.integers(32, 97, n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    doc_terms = []
    for _ in range(n_docs):
        chosen = rng.choice(n_topics, size=int(rng.integers(2, 5)), replace=False)
        picks = [
            t * terms_per_topic
            + rng.choice(terms_per_topic, size=int(rng.integers(3, 9)), replace=False)
            for t in chosen
        ]
        doc_terms.append(np.concatenate(picks))
    ids = np.concatenate([rng.choice(doc_terms[d], size=int(lengths[d])) for d in range(n_docs)])
    tokens = unit(terms[ids] + rng.standard_normal((ids.size, dim)) * (0.45 / np.sqrt(dim)))
    return tokens, offsets, terms, doc_terms


def test_top10_agreement_with_float32_on_clustered_tokens():
    # queries aim at a random document: 16 noisy copies of its tokens, 16 of its terms.
    # benchmarks/maxsim.py measures the same at 20k documents, and on random unit vectors.
    if IN_CHILD:
        pytest.skip("interpreted: too slow for 4000 documents")
    rng = np.random.default_rng(21)
    tokens, offsets, terms, doc_terms = clustered_corpus(rng, n_docs=4000)
    dim = tokens.shape[1]
    arena16 = tokens.astype(np.float16)
    values, scales = quantize_int8(tokens)
    agree = {"bfloat16": [], "int8": []}
    for _ in range(30):
        d = int(rng.integers(len(doc_terms)))
        own = tokens[rng.integers(offsets[d], offsets[d + 1], 16)]
        own = own + rng.standard_normal(own.shape) * (0.3 / np.sqrt(dim))
        fresh = terms[rng.choice(doc_terms[d], 16)]
        fresh = fresh + rng.standard_normal(fresh.shape) * (0.45 / np.sqrt(dim))
        query = unit(np.concatenate([own, fresh]))
        exact = set(maxsim_search(query, tokens, offsets, 10).indices.tolist())
        bf16 = maxsim_search(query, arena16, offsets, 10, precision="bfloat16")
        int8 = maxsim_search(query, values, offsets, 10, scales=scales, precision="int8")
        agree["bfloat16"].append(len(exact & set(bf16.indices.tolist())) / 10)
        agree["int8"].append(len(exact & set(int8.indices.tolist())) / 10)
    assert np.mean(agree["bfloat16"]) >= 0.99
    assert np.mean(agree["int8"]) >= 0.99


@pytest.mark.parametrize(
    ("tokens", "scales", "precision", "match"),
    [
        (np.zeros((4, 2), np.float32), None, "float16", "must be one of"),
        (np.zeros((4, 2), np.float32), None, "int8", "scores an int8 arena"),
        (
            np.zeros((4, 2), np.int8),
            np.zeros(4, np.float32),
            "bfloat16",
            "float32 or float16 arena",
        ),
    ],
)
def test_bad_precision_raises(tokens, scales, precision, match):
    offsets = np.array([0, 4], dtype=np.int64)
    with pytest.raises(ConfigError, match=match):
        maxsim_scores(
            np.ones((1, 2), np.float32), tokens, offsets, scales=scales, precision=precision
        )


def test_target_features_follow_numba_configuration(monkeypatch):
    from numba.core import config

    monkeypatch.setattr(config, "CPU_FEATURES", "+avx512f,-avx512bf16,+avx512vnni")
    assert target_has("avx512f", "avx512vnni") and not target_has("avx512bf16")
    monkeypatch.setattr(config, "CPU_FEATURES", "")
    monkeypatch.setattr(config, "CPU_NAME", "generic")
    assert not target_has("avx512f")


def test_forced_portable_dispatch_scores_like_the_native_kernels(tmp_path):
    """``MULTIVECTOR_PORTABLE_KERNELS=1`` at import picks the portable code; scores agree."""
    if IN_CHILD:
        pytest.skip("covered by the compiled run")
    script = (
        "import numpy as np, sys\n"
        "from multivector.kernels import _isa, _simd, maxsim_scores\n"
        "from multivector.kernels.quantize import quantize_int8\n"
        "assert _isa.FORCED_PORTABLE and _isa.BF16_ISA is _simd.PORTABLE and _isa.INT8_ISA is _simd.PORTABLE\n"
        "rng = np.random.default_rng(9); t = rng.standard_normal((60, 24)).astype(np.float32)\n"
        "o = np.array([0, 7, 7, 33, 60], dtype=np.int64); q = rng.standard_normal((19, 24)).astype(np.float32)\n"
        "v, s = quantize_int8(t)\n"
        "b = maxsim_scores(q, t.astype(np.float16), o, precision='bfloat16')\n"
        "i = maxsim_scores(q, v, o, scales=s, precision='int8')\n"
        "np.save(sys.argv[1], np.stack([b, i]))\n"
    )
    out = tmp_path / "portable.npy"
    env = {**os.environ, "MULTIVECTOR_PORTABLE_KERNELS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    portable = np.load(out)
    rng = np.random.default_rng(9)
    t = rng.standard_normal((60, 24)).astype(np.float32)
    o = np.array([0, 7, 7, 33, 60], dtype=np.int64)
    q = rng.standard_normal((19, 24)).astype(np.float32)
    v, s = quantize_int8(t)
    here = np.stack(
        [
            maxsim_scores(q, t.astype(np.float16), o, precision="bfloat16"),
            maxsim_scores(q, v, o, scales=s, precision="int8"),
        ]
    )
    np.testing.assert_array_equal(np.isneginf(here), np.isneginf(portable))
    finite = np.isfinite(here)
    np.testing.assert_allclose(here[finite], portable[finite], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(here[1], portable[1])  # integer dot products: identical


def test_same_tests_pass_without_jit():
    """Re-run this module interpreted (the tiles' NumPy bodies, the Python work counter)."""
    if IN_CHILD:
        assert numba.config.DISABLE_JIT
        return
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", NOJIT_CHILD: "1"}
    command = [sys.executable, "-m", "pytest", "tests/test_kernels_lowp.py", "-q", "-x"]
    command += ["-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
