"""Parity: the same data and queries give the same rankings and scores on both backends.

The embedded store and Qdrant (through ``QdrantClient(":memory:")``) are filled identically;
near_vector (exact MaxSim), bm25 (exact client-side rescoring on Qdrant) and hybrid top-10 must
agree in ids and scores, with and without filters, after deletes and replaces, and for randomly
generated filter trees the two backends must select the same objects in the same order.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import make_client, unit_rows

import multivector
from multivector.config import Configure, DataType, Property
from multivector.query import BM25Operator, Filter, FilterNode, HybridFusion

WORDS = [f"w{i}" for i in range(120)] + ["fox", "dog", "quick", "lazy", "the", "and", "of"]
N_DOCS = 240
DIM = 16


def _text(r: random.Random, n: int) -> str:
    weights = [1.0 / (i + 1) for i in range(len(WORDS))]
    return " ".join(r.choices(WORDS, weights=weights, k=n))


def _objects(dtype_seed: int = 7) -> list[multivector.DataObject]:
    r = random.Random(dtype_seed)
    rng = np.random.default_rng(dtype_seed)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    out = []
    for i in range(N_DOCS):
        props = {
            "title": _text(r, r.randint(1, 6)),
            "body": _text(r, r.randint(5, 40)),
            "n": i % 17,
            "x": round(r.uniform(-5, 5), 3),
            "flag": i % 3 == 0,
            "tags": r.sample(["a", "b", "c", "d", "e"], k=r.randint(0, 3)),
            "when": base + dt.timedelta(days=i % 50, hours=i % 7),
            "meta": {"page number": i % 9, "source": r.choice(["web", "pdf", "mail"])},
        }
        if i % 11 == 0:
            props["n"] = None
        out.append(
            multivector.DataObject(
                properties=props,
                uuid=str(i) if i % 2 else multivector.generate_uuid5(i),
                vector=unit_rows(rng, r.randint(1, 12), DIM),
            )
        )
    return out


PROPERTIES = [
    Property(name="title", data_type=DataType.TEXT),
    Property(name="body", data_type=DataType.TEXT),
    Property(name="n", data_type=DataType.INT),
    Property(name="x", data_type=DataType.NUMBER),
    Property(name="flag", data_type=DataType.BOOL),
    Property(name="tags", data_type=DataType.TEXT_ARRAY),
    Property(name="when", data_type=DataType.DATE),
    Property(name="meta", data_type=DataType.OBJECT),
]


def _fill(
    backend: str, *, dtype: str = "float32", scoring: str = "weaviate"
) -> tuple[multivector.Client, multivector.Collection]:
    client = make_client(backend)
    col = client.collections.create(
        "Parity",
        vector_config=[Configure.MultiVectors.self_provided(name="colbert", dtype=dtype)],  # type: ignore[arg-type]
        properties=PROPERTIES,
        inverted_index_config=Configure.inverted_index(scoring=scoring),  # type: ignore[arg-type]
    )
    with col.batch.fixed_size(batch_size=64) as batch:
        for obj in _objects():
            batch.add_object(properties=obj.properties, uuid=obj.uuid, vector=obj.vector)
    assert not col.batch.failed_objects
    # replaces and deletes change BM25 statistics and insertion order
    col.data.replace(
        "3",
        {"title": "quick fox", "body": "the lazy dog and the fox"},
        vector=unit_rows(np.random.default_rng(3), 4, DIM),
    )
    col.data.delete_by_id("5")
    col.data.delete_many(Filter.by_property("n").equal(16))
    return client, col


@pytest.fixture(scope="module", params=["float32", "float16"])
def pair(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[multivector.Collection, multivector.Collection]]:
    a_client, a = _fill("embedded", dtype=request.param)
    b_client, b = _fill("qdrant", dtype=request.param)
    yield a, b
    a_client.close()
    b_client.close()


def _ranked(result: multivector.QueryReturn, *, key: str = "score") -> list[tuple[str, float]]:
    out = []
    for o in result.objects:
        value = o.metadata.score if key == "score" else o.metadata.distance
        out.append((o.uuid, float(value if value is not None else float("nan"))))
    return out


def _same(a: list[tuple[str, float]], b: list[tuple[str, float]], tol: float) -> None:
    assert [u for u, _ in a] == [u for u, _ in b]
    assert np.allclose([s for _, s in a], [s for _, s in b], atol=tol, rtol=0)


FILTERS: list[FilterNode | None] = [
    None,
    Filter.by_property("flag").equal(True),
    Filter.by_property("meta", path=["page number"]).less_than(4)
    & Filter.by_property("tags").contains_any(["a", "c"]),
    Filter.by_property("title").like("*fox*") | Filter.by_property("n").greater_or_equal(10),
]


@pytest.mark.parametrize("filters", FILTERS)
def test_near_vector_top10_agrees(pair, filters) -> None:
    a, b = pair
    rng = np.random.default_rng(11)
    for _ in range(3):
        q = unit_rows(rng, 5, DIM)
        ra = _ranked(a.query.near_vector(q, limit=10, filters=filters), key="distance")
        rb = _ranked(b.query.near_vector(q, limit=10, filters=filters), key="distance")
        assert len(ra) == 10
        _same(ra, rb, 1e-3)


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("query", ["quick fox", "w3 w7 w7 dog", "the lazy w50 w1 w2"])
def test_bm25_top10_agrees_exactly(pair, filters, query) -> None:
    a, b = pair
    ra = _ranked(a.query.bm25(query, limit=10, filters=filters))
    rb = _ranked(b.query.bm25(query, limit=10, filters=filters))
    assert ra
    _same(ra, rb, 1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"query_properties": ["title^2", "body"]},
        {"operator": BM25Operator.and_()},
        {"operator": BM25Operator.or_(minimum_match=2)},
        {"query_properties": ["title"], "limit": 3, "offset": 2},
    ],
)
def test_bm25_options_agree(pair, kwargs) -> None:
    a, b = pair
    for query in ("w1 w2 fox", "quick dog w4"):
        ra = _ranked(a.query.bm25(query, **{"limit": 10, **kwargs}))
        rb = _ranked(b.query.bm25(query, **{"limit": 10, **kwargs}))
        _same(ra, rb, 1e-9)


@pytest.mark.parametrize("fusion", [HybridFusion.RELATIVE_SCORE, HybridFusion.RANKED])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.75, 1.0])
def test_hybrid_top10_agrees(pair, fusion, alpha) -> None:
    a, b = pair
    q = unit_rows(np.random.default_rng(5), 4, DIM)
    for filters in FILTERS[:2]:
        ra = _ranked(
            a.query.hybrid(
                "quick fox w9", vector=q, alpha=alpha, fusion_type=fusion, limit=10, filters=filters
            )
        )
        rb = _ranked(
            b.query.hybrid(
                "quick fox w9", vector=q, alpha=alpha, fusion_type=fusion, limit=10, filters=filters
            )
        )
        assert len(ra) == 10
        _same(ra, rb, 1e-3)


def test_rank_bm25_scoring_agrees() -> None:
    a_client, a = _fill("embedded", scoring="rank_bm25")
    b_client, b = _fill("qdrant", scoring="rank_bm25")
    try:
        for query in ("the fox", "w0 w1 quick", "dog"):  # w0 and the: idf < 0 -> epsilon floor
            ra = _ranked(a.query.bm25(query, limit=10))
            rb = _ranked(b.query.bm25(query, limit=10))
            _same(ra, rb, 1e-9)
    finally:
        a_client.close()
        b_client.close()


def _random_leaf(r: random.Random) -> FilterNode:
    kind = r.randrange(12)
    if kind == 0:
        return Filter.by_property("n").__getattribute__(
            r.choice(["equal", "not_equal", "less_than", "greater_or_equal"])
        )(r.randint(0, 16))
    if kind == 1:
        return Filter.by_property("x").__getattribute__(
            r.choice(["less_than", "greater_than", "less_or_equal"])
        )(round(r.uniform(-5, 5), 2))
    if kind == 2:
        return Filter.by_property("flag").equal(r.random() < 0.5)
    if kind == 3:
        vals = r.sample(["a", "b", "c", "d", "e", "z"], k=r.randint(0, 3))
        return Filter.by_property("tags").__getattribute__(
            r.choice(["contains_any", "contains_all", "contains_none"])
        )(vals)
    if kind == 4:
        day = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))) + dt.timedelta(
            days=r.randint(0, 50)
        )
        return Filter.by_property("when").__getattribute__(
            r.choice(["less_than", "greater_or_equal", "equal"])
        )(day)
    if kind == 5:
        return Filter.by_property("meta", path=["page number"]).__getattribute__(
            r.choice(["equal", "greater_than", "not_equal"])
        )(r.randint(0, 8))
    if kind == 6:
        return Filter.by_property("meta", path=["source"]).contains_any(
            r.sample(["web", "pdf", "mail"], k=r.randint(1, 2))
        )
    if kind == 7:
        return Filter.by_property("title").like(r.choice(["*fox*", "w1*", "?2*", "QUICK*"]))
    if kind == 8:
        return Filter.by_property(r.choice(["n", "tags", "meta"])).is_none(r.random() < 0.5)
    if kind == 9:
        return Filter.by_id().contains_any([str(r.randrange(N_DOCS)) for _ in range(5)])
    if kind == 10:
        return Filter.by_property("title").less_than("w5")
    return Filter.by_id().not_equal(str(r.randrange(N_DOCS)))


def _random_filter(r: random.Random, depth: int = 0) -> FilterNode:
    if depth >= 2 or r.random() < 0.4:
        return _random_leaf(r)
    op = r.randrange(3)
    if op == 2:
        return Filter.not_(_random_filter(r, depth + 1))
    children = [_random_filter(r, depth + 1) for _ in range(r.randint(2, 3))]
    return Filter.all_of(children) if op == 0 else Filter.any_of(children)


def test_random_filters_select_the_same_objects(pair) -> None:
    a, b = pair
    r = random.Random(2024)
    non_trivial = 0
    for _ in range(60):
        f = _random_filter(r)
        ua = [o.uuid for o in a.query.fetch_objects(filters=f, limit=1000).objects]
        ub = [o.uuid for o in b.query.fetch_objects(filters=f, limit=1000).objects]
        assert ua == ub, f
        non_trivial += 0 < len(ua) < len(a)
    assert non_trivial > 20


def test_fetch_pages_and_properties_agree(pair) -> None:
    a, b = pair
    for offset in (0, 7, 230):
        oa = a.query.fetch_objects(limit=9, offset=offset).objects
        ob = b.query.fetch_objects(limit=9, offset=offset).objects
        assert [o.uuid for o in oa] == [o.uuid for o in ob]
        assert [o.properties for o in oa] == [o.properties for o in ob]
    assert len(a) == len(b)
