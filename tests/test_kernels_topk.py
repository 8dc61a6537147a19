"""topk against a sort-everything reference: best first, ties by lower index, no -inf / NaN."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multivector.errors import ConfigError
from multivector.kernels import SearchResult, topk

SETTINGS = settings(
    deadline=None,
    max_examples=15 if os.environ.get("MULTIVECTOR_TEST_NOJIT_CHILD") == "1" else 200,
)

VALUES = st.one_of(
    st.integers(-3, 3).map(float),  # many exact ties
    st.floats(-1e6, 1e6, allow_nan=False, width=32),
    st.just(-np.inf),
    st.just(np.inf),
    st.just(np.nan),
)


def reference(scores, k):
    eligible = [i for i in range(len(scores)) if scores[i] > -np.inf]  # also drops NaN
    return np.array(sorted(eligible, key=lambda i: (-scores[i], i))[:k], dtype=np.int64)


@SETTINGS
@given(st.lists(VALUES, max_size=60), st.integers(0, 70))
def test_topk_matches_full_sort(values, k):
    scores = np.array(values, dtype=np.float32)
    result = topk(scores, k)
    assert isinstance(result, SearchResult)
    assert result.indices.dtype == np.int64 and result.scores.dtype == np.float32
    expected = reference(scores, k)
    np.testing.assert_array_equal(result.indices, expected)
    np.testing.assert_array_equal(result.scores, scores[expected])


def test_ties_at_the_cut_go_to_the_lowest_indices():
    scores = np.array([1.0, 5.0, 3.0, 3.0, 3.0, 3.0, -np.inf, 3.0], dtype=np.float32)
    result = topk(scores, 3)
    np.testing.assert_array_equal(result.indices, [1, 2, 3])
    np.testing.assert_array_equal(result.scores, np.array([5.0, 3.0, 3.0], dtype=np.float32))


def test_k_larger_than_eligible_and_all_excluded():
    scores = np.array([-np.inf, 2.0, -np.inf, -1.0], dtype=np.float32)
    np.testing.assert_array_equal(topk(scores, 10).indices, [1, 3])
    assert topk(np.full(4, -np.inf, dtype=np.float32), 2).indices.size == 0
    assert topk(np.empty(0, dtype=np.float32), 2).indices.size == 0
    assert topk(scores, 0).scores.size == 0


def test_other_float_dtypes_are_accepted():
    result = topk(np.array([0.5, 2.5, 1.5]), np.int64(2))
    np.testing.assert_array_equal(result.indices, [1, 2])
    assert result.scores.dtype == np.float32


@pytest.mark.parametrize("k", [-1, 2.0, None, True])
def test_bad_k_raises(k):
    with pytest.raises(ConfigError, match="k must be a non-negative integer"):
        topk(np.zeros(3, dtype=np.float32), k)


def test_two_dimensional_scores_raise():
    with pytest.raises(ConfigError, match="1-D"):
        topk(np.zeros((2, 2), dtype=np.float32), 1)
