"""Filter evaluation over the embedded store's columns: a validated filter tree -> a slot mask.

Leaves are evaluated only on slots still possible (AND narrows, OR skips slots already matched);
the predicates come from :mod:`multivector.schema.filter_match`, so every backend agrees. A
comparison of a number with a property whose values are all numbers (or missing) is evaluated on
a NumPy column instead (``FilterContext.numeric_column``), with the same meaning: a missing value
matches only ``not_equal``; about 100x faster than a predicate per slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from multivector._types import BoolArray
from multivector.schema.filter_match import leaf_predicate, resolve_path
from multivector.schema.query import ID_TARGET, FilterLeaf, FilterNode, FilterOperator

__all__ = ["FilterContext", "evaluate_filter"]


class FilterContext(Protocol):
    """What the evaluator needs from a store: slot count, liveness, ids and property values."""

    @property
    def n_slots(self) -> int:
        """Number of slots (live or not)."""
        ...

    def alive(self) -> BoolArray:
        """Bool mask of live slots, length ``n_slots``."""
        ...

    def uuid_at(self, slot: int) -> str | None:
        """The uuid living in ``slot``, or None."""
        ...

    def values(self, name: str) -> Sequence[Any]:
        """Values of property ``name`` by slot (None where missing), length ``n_slots``."""
        ...

    def numeric_column(self, name: str) -> tuple[np.ndarray, BoolArray] | None:
        """Property ``name`` as a number array plus a present mask (None: not all numbers)."""
        ...


_NUMERIC = {
    FilterOperator.EQUAL: np.equal,
    FilterOperator.NOT_EQUAL: np.equal,
    FilterOperator.LESS_THAN: np.less,
    FilterOperator.LESS_OR_EQUAL: np.less_equal,
    FilterOperator.GREATER_THAN: np.greater,
    FilterOperator.GREATER_OR_EQUAL: np.greater_equal,
}


def _numeric_leaf(leaf: FilterLeaf, ctx: FilterContext, alive: BoolArray) -> BoolArray | None:
    """The leaf on a number column (None: not a number comparison on a number property)."""
    compare = _NUMERIC.get(leaf.operator)
    value = leaf.value
    if compare is None or leaf.path or leaf.target == ID_TARGET:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    column = ctx.numeric_column(leaf.target)
    if column is None:
        return None
    values, present = column
    if isinstance(value, int) and values.dtype == np.int64 and not -(2**63) <= value < 2**63:
        return None  # beyond int64: leave it to the exact per-value comparison
    hit = present & compare(values, value)
    if leaf.operator is FilterOperator.NOT_EQUAL:
        hit = ~hit
    out: BoolArray = hit & alive
    return out


def _evaluate_leaf(leaf: FilterLeaf, ctx: FilterContext, alive: BoolArray) -> BoolArray:
    fast = _numeric_leaf(leaf, ctx, alive)
    if fast is not None:
        return fast
    slots = np.flatnonzero(alive).tolist()
    pred = leaf_predicate(leaf)
    out = np.zeros(ctx.n_slots, dtype=np.bool_)
    if leaf.target == ID_TARGET:
        hits = [s for s in slots if pred(ctx.uuid_at(s))]
    else:
        column = ctx.values(leaf.target)
        path = leaf.path
        if path:
            hits = [s for s in slots if pred(resolve_path(column[s], path))]
        else:
            hits = [s for s in slots if pred(column[s])]
    out[np.asarray(hits, dtype=np.int64)] = True
    return out


def evaluate_filter(node: FilterNode | None, ctx: FilterContext) -> BoolArray:
    """Boolean mask over slots: live and matching ``node`` (a validated filter)."""
    alive: BoolArray = np.array(ctx.alive(), dtype=np.bool_)
    if node is None:
        return alive
    result: BoolArray = _evaluate(node, ctx, alive)
    return result


def _evaluate(node: FilterNode, ctx: FilterContext, alive: BoolArray) -> BoolArray:
    if isinstance(node, FilterLeaf):
        return _evaluate_leaf(node, ctx, alive)
    if node.operator is FilterOperator.AND:
        mask: BoolArray = alive.copy()
        for child in node.filters:
            mask &= _evaluate(child, ctx, mask)
        return mask
    if node.operator is FilterOperator.OR:
        mask = np.zeros(alive.shape, dtype=np.bool_)
        for child in node.filters:
            mask |= _evaluate(child, ctx, alive & ~mask)
        return mask
    negated: BoolArray = alive & ~_evaluate(node.filters[0], ctx, alive)
    return negated
