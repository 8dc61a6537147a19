"""The number-column fast path of the embedded filter evaluator means exactly what the
per-value predicates mean (missing values, ints and floats, every comparison operator)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from multivector.backends.embedded import filter_mask
from multivector.schema.filter_match import leaf_predicate
from multivector.schema.query import FilterLeaf, FilterOperator

OPS = [
    FilterOperator.EQUAL,
    FilterOperator.NOT_EQUAL,
    FilterOperator.LESS_THAN,
    FilterOperator.LESS_OR_EQUAL,
    FilterOperator.GREATER_THAN,
    FilterOperator.GREATER_OR_EQUAL,
]


class Ctx:
    def __init__(self, column: list[Any], alive: np.ndarray, fast: bool) -> None:
        self.column, self._alive, self.fast, self.used = column, alive, fast, False

    @property
    def n_slots(self) -> int:
        return len(self.column)

    def alive(self) -> np.ndarray:
        return self._alive

    def uuid_at(self, slot: int) -> str | None:
        return None

    def values(self, name: str) -> Sequence[Any]:
        return [v if a else None for v, a in zip(self.column, self._alive)]

    def numeric_column(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        if not self.fast:
            return None
        col = self.values(name)
        kinds = {type(v) for v in col if v is not None}
        if not kinds <= {int, float}:
            return None
        self.used = True
        dtype = np.float64 if float in kinds else np.int64
        return (
            np.array([0 if v is None else v for v in col], dtype=dtype),
            np.array([v is not None for v in col]),
        )


numbers = st.one_of(st.none(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(
    column=st.lists(numbers, min_size=1, max_size=30),
    op=st.sampled_from(OPS),
    value=st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False)),
    data=st.data(),
)
def test_fast_path_equals_the_predicates(column, op, value, data):
    alive = np.array(data.draw(st.lists(st.booleans(), min_size=len(column), max_size=len(column))))
    leaf = FilterLeaf(target="x", operator=op, value=value)
    fast_ctx = Ctx(column, alive, fast=True)
    fast = filter_mask.evaluate_filter(leaf, fast_ctx)
    slow = filter_mask.evaluate_filter(leaf, Ctx(column, alive, fast=False))
    np.testing.assert_array_equal(fast, slow)
    pred = leaf_predicate(leaf)
    want = [bool(a) and pred(v) for v, a in zip(column, alive)]
    np.testing.assert_array_equal(fast, want)


def test_non_number_columns_and_values_take_the_predicates():
    alive = np.ones(3, dtype=bool)
    ctx = Ctx([1, "a", None], alive, fast=True)
    got = filter_mask.evaluate_filter(FilterLeaf("x", FilterOperator.EQUAL, 1), ctx)
    assert got.tolist() == [True, False, False] and not ctx.used
    ctx = Ctx([1, 0, None], alive, fast=True)
    got = filter_mask.evaluate_filter(FilterLeaf("x", FilterOperator.EQUAL, True), ctx)
    assert got.tolist() == [False, False, False] and not ctx.used  # a bool never equals an int
