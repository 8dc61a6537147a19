"""``aggregate.over_all`` against NumPy / collections.Counter, on both backends."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pytest

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError
from multivector.query import Filter, GroupByAggregate, Metrics
from multivector.results_grouped import AggregateGroupByReturn, AggregateReturn

CATS = ["news", "blog", "paper", "wiki"]


def _fill(client, rng, n=400):
    col = client.collections.create(
        "Agg",
        vector_config=[Configure.MultiVectors.self_provided(name="mv")],
        properties=[
            Property(name="n", data_type=DataType.INT),
            Property(name="x", data_type=DataType.NUMBER),
            Property(name="cat", data_type=DataType.TEXT),
            Property(name="ok", data_type=DataType.BOOL),
            Property(name="when", data_type=DataType.DATE),
            Property(name="tags", data_type=DataType.INT_ARRAY),
        ],
    )
    rows = []
    base = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(n):
        props = {
            "n": int(rng.integers(-50, 1000)),
            "x": float(rng.normal()),
            "cat": CATS[int(rng.zipf(1.5)) % 4],
            "ok": bool(rng.random() < 0.3),
            "when": base + dt.timedelta(days=int(rng.integers(0, 900))),
            "tags": [int(t) for t in rng.integers(0, 5, size=int(rng.integers(0, 3)))],
        }
        if i % 17 == 0:
            del props["x"]  # missing values are not counted
        rows.append(props)
    col.data.insert_many(
        [multivector.DataObject(p, vector=rng.normal(size=(2, 4)).astype(np.float32)) for p in rows]
    )
    return col, rows


def _check(res, rows):
    n = np.array([r["n"] for r in rows])
    x = np.array([r["x"] for r in rows if "x" in r])
    ints = res.properties["n"]
    assert (ints.count, ints.minimum, ints.maximum, ints.sum_) == (
        len(n),
        n.min(),
        n.max(),
        n.sum(),
    )
    assert ints.mean == pytest.approx(n.mean()) and ints.median == pytest.approx(np.median(n))
    counts = Counter(n.tolist())
    assert ints.mode == min(v for v, c in counts.items() if c == max(counts.values()))
    num = res.properties["x"]
    if len(x):
        assert num.count == len(x) and num.sum_ == pytest.approx(x.sum())
        assert num.mean == pytest.approx(x.mean()) and num.minimum == pytest.approx(x.min())
    text = res.properties["cat"]
    want = sorted(Counter(r["cat"] for r in rows).items(), key=lambda vc: (-vc[1], vc[0]))[:3]
    assert [(t.value, t.count) for t in text.top_occurrences] == want
    ok = res.properties["ok"]
    true = sum(r["ok"] for r in rows)
    assert (ok.total_true, ok.total_false) == (true, len(rows) - true)
    assert ok.percentage_true == pytest.approx(true / len(rows))
    dates = sorted(r["when"] for r in rows)
    assert (res.properties["when"].minimum, res.properties["when"].maximum) == (dates[0], dates[-1])
    tags = [t for r in rows for t in r["tags"]]
    assert res.properties["tags"].count == len(tags) and res.properties["tags"].sum_ == sum(tags)


METRICS = [
    Metrics("n").integer(),
    Metrics("x").number(),
    Metrics("cat").text(top_occurrences_count=True, top_occurrences_value=True, limit=3),
    Metrics("ok").boolean(),
    Metrics("when").date_(minimum=True, maximum=True),
    Metrics("tags").integer(count=True, sum_=True),
]


def test_over_all_equals_numpy(any_client, rng):
    col, rows = _fill(any_client, rng)
    res = col.aggregate.over_all(total_count=True, return_metrics=METRICS)
    assert isinstance(res, AggregateReturn) and res.total_count == len(rows)
    _check(res, rows)
    only = col.aggregate.over_all(return_metrics=Metrics("n").integer(count=True, maximum=True))
    assert only.properties["n"].mean is None and only.properties["n"].count == len(rows)
    assert col.aggregate.over_all(total_count=False).total_count is None


def test_filters_and_group_by(any_client, rng):
    col, rows = _fill(any_client, rng)
    flt = Filter.by_property("n").greater_than(100)
    res = col.aggregate.over_all(filters=flt, return_metrics=METRICS)
    _check(res, [r for r in rows if r["n"] > 100])
    grouped = col.aggregate.over_all(group_by=GroupByAggregate(prop="cat"), return_metrics=METRICS)
    assert isinstance(grouped, AggregateGroupByReturn)
    sizes = Counter(r["cat"] for r in rows)
    assert [(g.grouped_by.value, g.total_count) for g in grouped.groups] == sorted(
        sizes.items(), key=lambda vc: (-vc[1], vc[0])
    )
    for g in grouped.groups:
        assert g.grouped_by.prop == "cat"
        _check(g, [r for r in rows if r["cat"] == g.grouped_by.value])
    top2 = col.aggregate.over_all(group_by=GroupByAggregate(prop="ok", limit=1))
    assert len(top2.groups) == 1 and top2.groups[0].grouped_by.value is False


def test_empty_and_errors(client):
    col = client.collections.create(
        "E",
        properties=[
            Property(name="n", data_type=DataType.INT),
            Property(name="t", data_type=DataType.TEXT),
        ],
    )
    res = col.aggregate.over_all(return_metrics=[Metrics("n").integer(), Metrics("t").text()])
    assert (
        res.total_count == 0 and res.properties["n"].count == 0 and res.properties["n"].mean is None
    )
    with pytest.raises(ConfigError, match="'nope'"):
        col.aggregate.over_all(return_metrics=Metrics("nope").integer())
    with pytest.raises(ConfigError, match=r"Metrics\('t'\)\.text"):
        col.aggregate.over_all(return_metrics=Metrics("t").integer())
    with pytest.raises(ConfigError, match="return_metrics"):
        col.aggregate.over_all(return_metrics="n")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="group_by"):
        col.aggregate.over_all(group_by=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="limit"):
        GroupByAggregate("n", limit=0)
    with pytest.raises(ConfigError, match="True or False"):
        Metrics("n").integer(count=1)  # type: ignore[arg-type]
