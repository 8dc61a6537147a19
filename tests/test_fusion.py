"""Hybrid fusion maths: min-max normalisation, ranked contributions, autocut."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multivector.errors import ConfigError
from multivector.kernels.fusion import autocut, min_max_normalize, ranked_contributions

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def test_min_max_maps_to_the_unit_interval():
    out = min_max_normalize(np.array([3.0, 1.0, 2.0]))
    assert out.dtype == np.float64
    assert out.tolist() == [1.0, 0.0, 0.5]


def test_min_max_negative_scores():
    assert min_max_normalize(np.array([-1.0, -3.0, -2.5])).tolist() == [1.0, 0.0, 0.25]


def test_min_max_all_equal_gives_ones():
    assert min_max_normalize(np.array([2.5, 2.5, 2.5])).tolist() == [1.0, 1.0, 1.0]
    assert min_max_normalize(np.array([0.0, 0.0])).tolist() == [1.0, 1.0]


def test_min_max_single_score_is_one():
    assert min_max_normalize(np.array([-7.0])).tolist() == [1.0]


def test_min_max_empty_is_empty():
    out = min_max_normalize(np.array([]))
    assert out.shape == (0,)
    assert out.dtype == np.float64


def test_min_max_accepts_integers_and_does_not_modify_input():
    scores = np.array([1, 5, 3])
    assert min_max_normalize(scores).tolist() == [0.0, 1.0, 0.5]
    assert scores.tolist() == [1, 5, 3]


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf, 1.0])])
def test_min_max_rejects_non_finite_scores(bad):
    with pytest.raises(ConfigError, match="finite"):
        min_max_normalize(bad)


def test_min_max_rejects_2d():
    with pytest.raises(ConfigError, match="1-D"):
        min_max_normalize(np.ones((2, 2)))


@settings(deadline=None)
@given(st.lists(finite, min_size=2, max_size=50))
def test_min_max_properties(values):
    scores = np.array(values)
    out = min_max_normalize(scores)
    assert ((out >= 0) & (out <= 1)).all()
    if scores.max() > scores.min():
        assert out[np.argmax(scores)] == 1.0
        assert out[np.argmin(scores)] == 0.0
        order = np.argsort(scores, kind="stable")
        assert (np.diff(out[order]) >= 0).all()
    else:
        assert (out == 1.0).all()


def test_ranked_contributions_values():
    out = ranked_contributions(3, 0.7)
    assert out.dtype == np.float64
    assert out.tolist() == [0.7 / 60, 0.7 / 61, 0.7 / 62]


def test_ranked_contributions_edge_cases():
    assert ranked_contributions(0, 1.0).shape == (0,)
    assert ranked_contributions(2, 0.0).tolist() == [0.0, 0.0]
    assert ranked_contributions(1, 1.0).tolist() == [1 / 60]


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=500), st.floats(min_value=0.01, max_value=1.0))
def test_ranked_contributions_decrease_with_rank(n, weight):
    out = ranked_contributions(n, weight)
    assert len(out) == n
    assert out[0] == weight / 60
    assert (np.diff(out) < 0).all()


def test_ranked_contributions_rejects_bad_n():
    with pytest.raises(ConfigError, match="-1"):
        ranked_contributions(-1, 1.0)


# -------------------------------------------------------------------------------- autocut
# Expected cuts derived by hand from the formula: y_i = (s_i - s_0) / (s_last - s_0),
# x_i = i / (n - 1), d_i = y_i - x_i; the k-th local maximum of d at index i keeps i results.


def test_autocut_one_clear_jump():
    # y = [0, .056, .111, .889, .944, 1], x = [0, .2, .4, .6, .8, 1]
    # d = [0, -.144, -.289, .289, .144, 0]: first local maximum at i = 3
    scores = np.array([1.0, 0.95, 0.9, 0.2, 0.15, 0.1])
    assert autocut(scores, 1) == 3
    assert autocut(scores, 2) == 6  # no second jump: keep everything


def test_autocut_two_jumps():
    # y = [0, .105, .526, .579, .947, 1]; d = [0, -.095, .126, -.021, .147, 0]
    # local maxima at i = 2 and i = 4
    scores = np.array([1.0, 0.9, 0.5, 0.45, 0.1, 0.05])
    assert autocut(scores, 1) == 2
    assert autocut(scores, 2) == 4
    assert autocut(scores, 3) == 6


def test_autocut_jump_before_the_last_result():
    # y = [0, .01, .02, 1]; x = [0, 1/3, 2/3, 1]; d = [0, -.323, -.647, 0]
    # the last point beats both predecessors: cut before it
    assert autocut(np.array([1.0, 0.99, 0.98, 0.0]), 1) == 3


def test_autocut_straight_line_keeps_everything():
    assert autocut(np.array([4.0, 3.0, 2.0, 1.0]), 1) == 4


def test_autocut_works_on_ascending_distances_too():
    # distances sorted best first: the normalisation makes the direction irrelevant
    assert autocut(np.array([0.1, 0.15, 0.2, 0.9, 0.95, 1.0]), 1) == 3


def test_autocut_degenerate_curves():
    assert autocut(np.array([]), 1) == 0
    assert autocut(np.array([0.7]), 1) == 1
    assert autocut(np.array([0.5, 0.5, 0.5]), 1) == 3
    assert autocut(np.array([0.9, 0.1]), 1) == 2


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_autocut_rejects_a_bad_cut_off(bad):
    with pytest.raises(ConfigError, match="cut_off"):
        autocut(np.array([1.0, 0.5]), bad)


@settings(deadline=None)
@given(st.lists(finite, min_size=0, max_size=40), st.integers(min_value=1, max_value=5))
def test_autocut_result_is_within_bounds(values, cut_off):
    scores = np.sort(np.array(values, dtype=np.float64))[::-1]
    kept = autocut(scores, cut_off)
    assert (1 if len(values) else 0) <= kept <= len(values)
    assert autocut(scores, cut_off + 1) >= kept
