"""The plain-text table of an :class:`~multivector.evaluation.run.EvaluationReport`.

One row per configuration: nDCG, recall and MRR at k, nDCG per query group and, with
``intervals=True``, the 95% bootstrap interval of nDCG and the paired difference to a reference
configuration (interval over the same resampled queries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from multivector.evaluation.bootstrap import (
    DEFAULT_RESAMPLES,
    bootstrap_mean,
    paired_difference,
)
from multivector.evaluation.metrics import Metrics

__all__ = ["render_table"]


class _Result(Protocol):
    @property
    def config(self) -> Any: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def groups(self) -> dict[str, Metrics]: ...

    @property
    def per_query(self) -> dict[str, Metrics]: ...


def _ndcg(result: _Result) -> Mapping[str, float]:
    return {q: m.ndcg for q, m in result.per_query.items()}


def render_table(
    k: int,
    results: Sequence[_Result],
    groups: Sequence[str],
    *,
    intervals: bool,
    reference: _Result | None,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> list[str]:
    """The table's lines (header, rule, one row per result)."""
    head = ["configuration", f"nDCG@{k}", f"R@{k}", f"MRR@{k}"]
    head += [f"nDCG {g}" for g in groups]
    if intervals:
        head.append("nDCG 95% CI")
        if reference is not None:
            head.append(f"vs {reference.config.label}: diff [95% CI]")
    rows = [head]
    for res in results:
        m = res.metrics
        row = [res.config.label, f"{m.ndcg:.3f}", f"{m.recall:.3f}", f"{m.mrr:.3f}"]
        row += [f"{res.groups[g].ndcg:.3f}" if g in res.groups else "-" for g in groups]
        if intervals:
            ci = bootstrap_mean(list(_ndcg(res).values()), n_resamples=n_resamples)
            row.append(f"[{ci.low:.3f}, {ci.high:.3f}]")
            if reference is not None:
                same = res is reference
                diff = paired_difference(_ndcg(res), _ndcg(reference), n_resamples=n_resamples)
                row.append("(reference)" if same else str(diff))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
