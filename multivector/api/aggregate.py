"""``collection.aggregate.over_all(...)``: counts and property metrics, as in Weaviate v4.

Computed from the stored properties (never the vectors), read ``CHUNK`` objects at a time, so
only the values of the asked properties are held. Array properties count each element. Numeric
metrics are exact (sums of ints are ints); ``median`` is NumPy's (the mean of the two middle
values for an even count); ``mode`` and text top occurrences break count ties by the smaller value.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from multivector.api.handle import CollectionHandle
from multivector.errors import ConfigError
from multivector.results_grouped import (
    AggregateBoolean,
    AggregateDate,
    AggregateGroup,
    AggregateGroupByReturn,
    AggregateInteger,
    AggregateNumber,
    AggregateResult,
    AggregateReturn,
    AggregateText,
    GroupedBy,
    TopOccurrence,
)
from multivector.schema.aggregation import MetricSpec, check_metric
from multivector.schema.grouping import GroupByAggregate, check_group_property
from multivector.schema.query import FilterNode

__all__ = ["CHUNK", "AggregateAPI", "metric_result"]

#: Objects read per backend call while aggregating.
CHUNK = 1000
#: Text top occurrences returned unless ``Metrics(p).text(limit=...)`` says otherwise.
TOP_OCCURRENCES = 5


def _values(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, (list, tuple)):
        return [v for v in raw if v is not None]
    return [raw]


def _mode(values: Sequence[Any]) -> Any:
    counts = Counter(values)
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)


def _numeric(spec: MetricSpec, values: list[Any]) -> AggregateInteger | AggregateNumber:
    integer = spec.kind == "integer"
    arr = np.asarray(values, dtype=np.int64 if integer else np.float64)
    out: dict[str, Any] = {"count": len(values)}
    if len(values):
        cast = int if integer else float
        out |= {
            "maximum": cast(arr.max()),
            "minimum": cast(arr.min()),
            "mean": float(arr.mean()),
            "median": float(np.median(arr)),
            "mode": cast(_mode(arr.tolist())),
            "sum_": cast(arr.sum()),
        }
    kept = {k: v for k, v in out.items() if k in spec.fields}
    return AggregateInteger(**kept) if integer else AggregateNumber(**kept)


def _text(spec: MetricSpec, values: list[Any]) -> AggregateText:
    counts = Counter(str(v) for v in values)
    limit = spec.limit if spec.limit is not None else TOP_OCCURRENCES
    top: list[TopOccurrence] = []
    want_value = "top_occurrences_value" in spec.fields
    want_count = "top_occurrences_count" in spec.fields
    if want_value or want_count:
        ranked = sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))[:limit]
        top = [
            TopOccurrence(v if want_value else None, c if want_count else None) for v, c in ranked
        ]
    return AggregateText(count=len(values) if "count" in spec.fields else None, top_occurrences=top)


def _boolean(spec: MetricSpec, values: list[Any]) -> AggregateBoolean:
    n = len(values)
    true = sum(1 for v in values if v is True)
    out: dict[str, Any] = {"count": n, "total_true": true, "total_false": n - true}
    if n:
        out |= {"percentage_true": true / n, "percentage_false": (n - true) / n}
    return AggregateBoolean(**{k: v for k, v in out.items() if k in spec.fields})


def _date(spec: MetricSpec, values: list[Any]) -> AggregateDate:
    dates = sorted(v for v in values if isinstance(v, _dt.datetime))
    out: dict[str, Any] = {"count": len(dates)}
    if dates:
        mid = len(dates) // 2
        median = dates[mid]
        if len(dates) % 2 == 0:
            median = dates[mid - 1] + (dates[mid] - dates[mid - 1]) / 2
        out |= {"minimum": dates[0], "maximum": dates[-1], "median": median, "mode": _mode(dates)}
    return AggregateDate(**{k: v for k, v in out.items() if k in spec.fields})


def metric_result(spec: MetricSpec, values: list[Any]) -> AggregateResult:
    """The metrics ``spec`` asks for, over ``values`` (array elements already flattened)."""
    if spec.kind in ("integer", "number"):
        return _numeric(spec, values)
    if spec.kind == "text":
        return _text(spec, values)
    if spec.kind == "boolean":
        return _boolean(spec, values)
    return _date(spec, values)


class AggregateAPI:
    """``collection.aggregate``: ``over_all`` (``near_*`` / ``hybrid`` aggregations are not
    offered; see docs/weaviate-mapping.md).
    """

    def __init__(self, collection: CollectionHandle) -> None:
        self._col = collection

    def over_all(
        self,
        *,
        filters: FilterNode | None = None,
        group_by: str | GroupByAggregate | None = None,
        total_count: bool = True,
        return_metrics: MetricSpec | Sequence[MetricSpec] | None = None,
    ) -> AggregateReturn | AggregateGroupByReturn:
        """Count the (filtered) objects and compute ``return_metrics``, over all of them or per
        value of ``group_by``'s property (groups largest first, ``GroupByAggregate(limit=...)``).
        """
        backend = self._col.backend
        config = backend.config
        if not isinstance(total_count, bool):
            raise ConfigError(f"total_count must be True or False, got {total_count!r}")
        if isinstance(return_metrics, MetricSpec):
            specs = [return_metrics]
        elif return_metrics is None:
            specs = []
        elif isinstance(return_metrics, (list, tuple)):
            specs = [check_metric(config, s) for s in return_metrics]
        else:
            raise ConfigError(
                "return_metrics must be Metrics(prop).<kind>(...) or a list of them, got "
                f"{type(return_metrics).__name__}"
            )
        specs = [check_metric(config, s) for s in specs]
        grouping = GroupByAggregate(group_by) if isinstance(group_by, str) else group_by
        if grouping is not None:
            if not isinstance(grouping, GroupByAggregate):
                raise ConfigError(
                    f"group_by must be a property name or GroupByAggregate(prop=...), got "
                    f"{type(grouping).__name__}"
                )
            check_group_property(config, grouping.prop, "aggregate group_by")
        uuids = backend.match(self._col.check_filter(filters))
        props = {s.prop for s in specs} | ({grouping.prop} if grouping else set())
        buckets: dict[Any, dict[str, list[Any]]] = {}
        sizes: Counter[Any] = Counter()
        for start in range(0, len(uuids), CHUNK):
            for obj in backend.get(uuids[start : start + CHUNK], include_vector=False):
                if obj is None:
                    continue  # deleted since the match
                key = obj.properties.get(grouping.prop) if grouping else None
                if grouping and key is None:
                    continue
                sizes[key] += 1
                bucket = buckets.setdefault(key, {p: [] for p in props})
                for p in props:
                    bucket[p].extend(_values(obj.properties.get(p)))

        def metrics(key: Any) -> dict[str, AggregateResult]:
            bucket = buckets.get(key, {p: [] for p in props})
            return {s.prop: metric_result(s, bucket[s.prop]) for s in specs}

        if grouping is None:
            return AggregateReturn(
                properties=metrics(None), total_count=sizes[None] if total_count else None
            )
        order = sorted(sizes, key=lambda k: (-sizes[k], str(k)))[: grouping.limit]
        return AggregateGroupByReturn(
            groups=[
                AggregateGroup(
                    grouped_by=GroupedBy(grouping.prop, key),
                    properties=metrics(key),
                    total_count=sizes[key] if total_count else None,
                )
                for key in order
            ]
        )
