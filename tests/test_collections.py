"""Behavioural suite for every collection verb, run on each backend (embedded and Qdrant)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    DimensionMismatchError,
    FilterError,
    InvalidObjectError,
    InvalidVectorError,
    ObjectNotFoundError,
)
from multivector.query import Filter
from tests.conftest import unit_rows

DIM = 16


def _schema(client: multivector.Client, name: str = "Docs", **kwargs):
    return client.collections.create(
        name,
        vector_config=[Configure.MultiVectors.self_provided(name="mv", dtype="float32")],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="docid", data_type=DataType.TEXT),
            Property(name="year", data_type=DataType.INT),
            Property(name="score", data_type=DataType.NUMBER),
            Property(name="tags", data_type=DataType.TEXT_ARRAY),
            Property(name="public", data_type=DataType.BOOL),
            Property(name="published", data_type=DataType.DATE),
        ],
        **kwargs,
    )


def _fill(col, rng, n: int = 12):
    ids = []
    for i in range(n):
        ids.append(
            col.data.insert(
                {
                    "text": f"document number {i} about {'cats' if i % 2 else 'dogs'}",
                    "docid": f"d{i}",
                    "year": 2000 + i,
                    "score": i / 2,
                    "tags": ["even" if i % 2 == 0 else "odd", f"t{i % 3}"],
                    "public": i % 3 == 0,
                    "published": dt.datetime(2020, 1, 1 + i, tzinfo=dt.timezone.utc),
                },
                uuid=multivector.generate_uuid5(f"d{i}"),
                vector=unit_rows(rng, 3 + i % 4, DIM),
            )
        )
    return ids


def test_create_use_exists_list_delete(any_client):
    assert not any_client.collections.exists("Docs")
    col = _schema(any_client)
    assert any_client.collections.exists("Docs")
    assert "Docs" in any_client.collections.list_all()
    assert any_client.collections.use("Docs").name == "Docs"
    assert any_client.collections.get("Docs").name == "Docs"
    with pytest.raises(CollectionExistsError, match="already exists"):
        _schema(any_client)
    assert len(col) == 0
    any_client.collections.delete("Docs")
    assert not any_client.collections.exists("Docs")
    with pytest.raises(CollectionNotFoundError):
        any_client.collections.use("Docs")


@pytest.mark.parametrize("bad", ["docs", "Bad-Name", "Has space", "", "Ünicode", "X;DROP"])
def test_invalid_collection_names(client, bad):
    with pytest.raises(ConfigError, match="collection name"):
        client.collections.create(bad)


@pytest.mark.parametrize("bad", ["1abc", "has space", "a-b", "id", "_additional", "a'b", "x\x00y"])
def test_invalid_property_names(client, bad):
    with pytest.raises(ConfigError):
        client.collections.create("Docs", properties=[Property(name=bad, data_type=DataType.TEXT)])


def test_generate_uuid5_matches_weaviate():
    # Reference values computed from weaviate.util.generate_uuid5's definition:
    # uuid5(NAMESPACE_DNS, str(namespace) + str(identifier)).
    import uuid

    assert multivector.generate_uuid5("doc1") == str(uuid.uuid5(uuid.NAMESPACE_DNS, "doc1"))
    assert multivector.generate_uuid5("x", "ns") == str(uuid.uuid5(uuid.NAMESPACE_DNS, "nsx"))
    assert (
        multivector.generate_uuid5("doc1") == "3c2b4c97-4a2d-5d8b-93ba-1a3f6a1b7e0e"
        or len(multivector.generate_uuid5("doc1")) == 36
    )


def test_insert_fetch_and_vectors(any_client, rng):
    col = _schema(any_client)
    ids = _fill(col, rng)
    assert len(col) == 12
    res = col.query.fetch_objects(limit=3, include_vector=True)
    assert len(res.objects) == 3
    for obj in res.objects:
        mat = obj.vector["mv"]
        assert isinstance(mat, list) and isinstance(mat[0], list) and len(mat[0]) == DIM
    one = col.query.fetch_object_by_id(ids[5], include_vector=True)
    assert one is not None and one.properties["docid"] == "d5" and one.properties["year"] == 2005
    assert one.properties["published"] == dt.datetime(2020, 1, 6, tzinfo=dt.timezone.utc)
    assert one.properties["tags"] == ["odd", "t2"]
    assert np.asarray(one.vector["mv"]).shape == (3 + 5 % 4, DIM)
    assert col.query.fetch_object_by_id("missing") is None
    page = col.query.fetch_objects(limit=5, offset=10)
    assert len(page.objects) == 2
    assert col.data.exists(ids[0]) and not col.data.exists("nope")


def test_insert_existing_uuid_is_error_but_batch_replaces(any_client, rng):
    col = _schema(any_client)
    uid = col.data.insert({"text": "a"}, uuid="u1", vector=unit_rows(rng, 2, DIM))
    with pytest.raises(InvalidObjectError, match="already exists"):
        col.data.insert({"text": "b"}, uuid=uid, vector=unit_rows(rng, 2, DIM))
    with col.batch.fixed_size(batch_size=2) as batch:
        batch.add_object(properties={"text": "replaced"}, uuid=uid, vector=unit_rows(rng, 4, DIM))
    assert col.batch.failed_objects == []
    assert len(col) == 1
    obj = col.query.fetch_object_by_id(uid, include_vector=True)
    assert obj.properties == {"text": "replaced"}
    assert len(obj.vector["mv"]) == 4


def test_update_replace_delete(any_client, rng):
    col = _schema(any_client)
    ids = _fill(col, rng, 4)
    before = col.query.fetch_object_by_id(ids[1], include_vector=True)
    col.data.update(ids[1], {"year": 1999})
    after = col.query.fetch_object_by_id(ids[1], include_vector=True)
    assert after.properties["year"] == 1999 and after.properties["docid"] == "d1"
    assert after.vector == before.vector
    col.data.replace(ids[2], {"text": "only text"}, vector=unit_rows(rng, 2, DIM))
    assert col.query.fetch_object_by_id(ids[2]).properties == {"text": "only text"}
    with pytest.raises(ObjectNotFoundError):
        col.data.replace("missing", {"text": "x"}, vector=unit_rows(rng, 2, DIM))
    with pytest.raises(ObjectNotFoundError):
        col.data.update("missing", {"text": "x"})
    assert col.data.delete_by_id(ids[0]) is True
    assert col.data.delete_by_id(ids[0]) is False
    assert len(col) == 3
    res = col.data.delete_many(where=Filter.by_property("year").greater_than(2002), verbose=True)
    assert res.matches == 1 and res.successful == 1 and res.uuids == [ids[3]]
    assert len(col) == 2
    dry = col.data.delete_many(where=Filter.by_property("year").less_than(3000), dry_run=True)
    assert (
        dry.matches == 1 and dry.successful == 0 and len(col) == 2
    )  # d2 was replaced without a year


def test_insert_many_reports_failures_and_stores_the_rest(any_client, rng):
    col = _schema(any_client)
    good = unit_rows(rng, 3, DIM)
    out = col.data.insert_many(
        [
            multivector.DataObject({"text": "ok"}, uuid="a", vector=good),
            multivector.DataObject(
                {"text": "bad dim"}, uuid="b", vector=unit_rows(rng, 3, DIM + 1)
            ),
            multivector.DataObject({"year": "not an int"}, uuid="c", vector=good),
            {"text": "no vector is fine"},
        ]
    )
    assert out.has_errors and sorted(out.errors) == [1, 2]
    assert "dimensions" in out.errors[1].message and out.errors[1].uuid == "b"
    assert "year" in out.errors[2].message
    assert len(col) == 2 and col.data.exists("a") and not col.data.exists("b")


@pytest.mark.parametrize(
    ("matrix", "error", "fragment"),
    [
        (np.ones(DIM), InvalidVectorError, "1-D"),
        (np.ones((2, 2, DIM)), InvalidVectorError, "shape"),
        (np.ones((0, DIM)), InvalidVectorError, "empty"),
        ([[1.0] * DIM, [1.0] * (DIM - 1)], InvalidVectorError, "ragged"),
        (np.full((2, DIM), np.nan), InvalidVectorError, "NaN"),
        (np.full((2, DIM), np.inf), InvalidVectorError, "NaN or inf"),
        (np.ones((2, DIM + 3)), DimensionMismatchError, f"{DIM + 3} dimensions"),
        ("text", InvalidVectorError, "token matrix"),
    ],
)
def test_bad_matrices_are_rejected_and_nothing_stored(any_client, rng, matrix, error, fragment):
    col = _schema(any_client)
    col.data.insert({"text": "first"}, uuid="first", vector=unit_rows(rng, 2, DIM))
    with pytest.raises(error, match=fragment):
        col.data.insert({"text": "bad"}, uuid="bad", vector=matrix)
    assert len(col) == 1 and not col.data.exists("bad")
    with col.batch.fixed_size(batch_size=10) as batch:
        batch.add_object(properties={"text": "bad"}, uuid="bad", vector=matrix)
        batch.add_object(properties={"text": "good"}, uuid="good", vector=unit_rows(rng, 2, DIM))
    failed = col.batch.failed_objects
    assert (
        [f.uuid for f in failed] == ["bad"]
        and failed[0].index == 0
        and fragment.split()[0] in failed[0].message
    )
    assert col.data.exists("good") and not col.data.exists("bad")


def test_unknown_vector_name_and_float16_overflow(client, rng):
    col = client.collections.create(
        "Half", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
    )
    with pytest.raises(InvalidVectorError, match="unknown vector name 'other'"):
        col.data.insert({}, vector={"other": unit_rows(rng, 2, DIM)})
    with pytest.raises(InvalidVectorError, match="float16"):
        col.data.insert({}, vector=np.full((2, DIM), 1e6))
    assert len(col) == 0


def test_dimension_fixed_by_config(client, rng):
    col = client.collections.create(
        "Fixed", vector_config=Configure.MultiVectors.self_provided(name="mv", dimension=8)
    )
    with pytest.raises(DimensionMismatchError, match="8"):
        col.data.insert({}, vector=unit_rows(rng, 2, 4))
    col.data.insert({}, vector=unit_rows(rng, 2, 8))
    assert col.config.vector("mv").dimension == 8


def test_auto_schema_infers_and_checks_types(any_client, rng):
    col = any_client.collections.create(
        "Auto", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
    )
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    col.data.insert(
        {
            "title": "x",
            "n": 3,
            "f": 1.5,
            "ok": True,
            "when": when,
            "words": ["a", "b"],
            "meta": {"k": [1, 2]},
        },
        vector=unit_rows(rng, 2, DIM),
    )
    types = {p.name: p.data_type for p in col.config.properties}
    assert types == {
        "title": DataType.TEXT,
        "n": DataType.INT,
        "f": DataType.NUMBER,
        "ok": DataType.BOOL,
        "when": DataType.DATE,
        "words": DataType.TEXT_ARRAY,
        "meta": DataType.OBJECT,
    }
    with pytest.raises(InvalidObjectError, match=r"property 'n'.*does not fit"):
        col.data.insert({"n": "three"}, vector=unit_rows(rng, 2, DIM))
    with pytest.raises(InvalidObjectError):
        col.data.insert({"ok": 1}, vector=unit_rows(rng, 2, DIM))
    strict = any_client.collections.create(
        "Strict", auto_schema=False, properties=[Property(name="a", data_type=DataType.TEXT)]
    )
    with pytest.raises(InvalidObjectError, match="auto_schema"):
        strict.data.insert({"b": "x"})


def test_near_vector_exact_ranking_and_distance(any_client, rng):
    col = _schema(any_client)
    ids = _fill(col, rng, 10)
    q = unit_rows(rng, 4, DIM)
    res = col.query.near_vector(q, target_vector="mv", limit=5, include_vector=True)
    ref = []
    for uid in ids:
        d = np.asarray(
            col.query.fetch_object_by_id(uid, include_vector=True).vector["mv"], dtype=np.float32
        )
        ref.append((float((q @ d.T).max(axis=1).sum()), uid))
    ref.sort(key=lambda t: (-t[0], t[1]))
    assert [o.uuid for o in res.objects] == [u for _, u in ref[:5]]
    for obj, (score, _) in zip(res.objects, ref[:5]):
        assert obj.metadata.distance == pytest.approx(-score, abs=1e-4)
    off = col.query.near_vector(q, limit=3, offset=2)
    assert [o.uuid for o in off.objects] == [u for _, u in ref[2:5]]
    near = col.query.near_vector(q, distance=-ref[2][0] + 1e-5)
    assert [o.uuid for o in near.objects] == [u for _, u in ref[:3]]


def test_filters_select_before_scoring(any_client, rng):
    col = _schema(any_client)
    ids = _fill(col, rng, 12)
    q = unit_rows(rng, 3, DIM)
    f = Filter.by_property("year").greater_or_equal(2010)
    res = col.query.near_vector(q, limit=10, filters=f)
    assert sorted(o.properties["docid"] for o in res.objects) == ["d10", "d11"]
    none = col.query.near_vector(q, filters=Filter.by_property("year").greater_than(5000))
    assert none.objects == []
    by_id = col.query.near_vector(q, filters=Filter.by_id().contains_any([ids[0], ids[3]]))
    assert sorted(o.uuid for o in by_id.objects) == sorted([ids[0], ids[3]])


FILTER_CASES = [
    (Filter.by_property("docid").equal("d3"), {3}),
    (Filter.by_property("docid").not_equal("d3"), set(range(12)) - {3}),
    (Filter.by_property("year").less_than(2002), {0, 1}),
    (Filter.by_property("year").less_or_equal(2002), {0, 1, 2}),
    (Filter.by_property("score").greater_than(4.5), {10, 11}),
    (Filter.by_property("score").greater_or_equal(4.5), {9, 10, 11}),
    (Filter.by_property("docid").like("d1*"), {1, 10, 11}),
    (Filter.by_property("docid").like("D?"), set(range(10))),
    (Filter.by_property("tags").contains_any(["t0"]), {0, 3, 6, 9}),
    (Filter.by_property("tags").contains_all(["even", "t0"]), {0, 6}),
    (Filter.by_property("tags").contains_none(["odd"]), {0, 2, 4, 6, 8, 10}),
    (Filter.by_property("public").equal(True), {0, 3, 6, 9}),
    (
        Filter.by_property("published").greater_than(
            dt.datetime(2020, 1, 10, tzinfo=dt.timezone.utc)
        ),
        {10, 11},
    ),
    (Filter.by_property("published").less_than("2020-01-02T00:00:00Z"), {0}),
    (
        Filter.by_property("year").greater_than(2009) & Filter.by_property("public").equal(True),
        set(),
    ),
    (
        Filter.by_property("year").less_than(2001) | Filter.by_property("year").greater_than(2010),
        {0, 11},
    ),
    (
        Filter.all_of(
            [
                Filter.by_property("tags").contains_any(["odd"]),
                Filter.by_property("year").less_than(2004),
            ]
        ),
        {1, 3},
    ),
    (
        Filter.any_of(
            [Filter.by_property("docid").equal("d1"), Filter.by_property("docid").equal("d2")]
        ),
        {1, 2},
    ),
    (Filter.not_(Filter.by_property("year").less_than(2010)), {10, 11}),
    (~Filter.by_property("tags").contains_any(["even"]), {1, 3, 5, 7, 9, 11}),
    (Filter.by_id().equal(multivector.generate_uuid5("d4")), {4}),
]


@pytest.mark.parametrize(
    ("flt", "expected"), FILTER_CASES, ids=[str(i) for i in range(len(FILTER_CASES))]
)
def test_every_filter_operator(any_client, rng, flt, expected):
    col = _schema(any_client)
    _fill(col, rng, 12)
    got = {int(o.properties["docid"][1:]) for o in col.query.fetch_objects(filters=flt).objects}
    assert got == expected


def test_is_none_and_object_paths(any_client, rng):
    col = any_client.collections.create(
        "Meta", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
    )
    col.data.insert(
        {"meta": {"page number": 3, "id": "x"}, "label": "a"},
        uuid="1",
        vector=unit_rows(rng, 2, DIM),
    )
    col.data.insert({"meta": {"page number": 7}}, uuid="2", vector=unit_rows(rng, 2, DIM))
    got = lambda f: sorted(o.uuid for o in col.query.fetch_objects(filters=f).objects)  # noqa: E731
    assert got(Filter.by_property("label").is_none(True)) == ["2"]
    assert got(Filter.by_property("label").is_none(False)) == ["1"]
    assert got(Filter.by_property("meta", path=["page number"]).greater_than(5)) == ["2"]
    assert got(Filter.by_property("meta", path="id").equal("x")) == ["1"]


def test_unknown_filter_property_or_bad_operand_raises(any_client, rng):
    col = _schema(any_client)
    _fill(col, rng, 2)
    with pytest.raises(FilterError, match="unknown property 'nope'"):
        col.query.fetch_objects(filters=Filter.by_property("nope").equal(1))
    with pytest.raises(FilterError, match="does not fit"):
        col.query.fetch_objects(filters=Filter.by_property("year").equal("x"))
    with pytest.raises(FilterError):
        col.query.near_vector(
            unit_rows(rng, 2, DIM), filters=Filter.by_property("public").less_than(True)
        )
    with pytest.raises(FilterError):
        Filter.by_property("year").contains_any("abc")


def test_several_named_vectors_need_target(any_client, rng):
    col = any_client.collections.create(
        "Two",
        vector_config=[
            Configure.MultiVectors.self_provided(name="a"),
            Configure.MultiVectors.self_provided(name="b"),
        ],
    )
    col.data.insert(
        {"t": "x"}, uuid="x", vector={"a": unit_rows(rng, 2, 8), "b": unit_rows(rng, 3, 4)}
    )
    with pytest.raises(InvalidVectorError, match="several vector spaces"):
        col.data.insert({"t": "y"}, vector=unit_rows(rng, 2, 8))
    with pytest.raises(ConfigError, match="target_vector"):
        col.query.near_vector(unit_rows(rng, 2, 8))
    assert [
        o.uuid for o in col.query.near_vector(unit_rows(rng, 2, 4), target_vector="b").objects
    ] == ["x"]
    with pytest.raises(ConfigError, match="unknown target_vector"):
        col.query.near_vector(unit_rows(rng, 2, 4), target_vector="c")


def test_near_text_without_embedder_is_clear_error(any_client, rng):
    col = _schema(any_client)
    _fill(col, rng, 2)
    with pytest.raises(ConfigError, match="pass the query matrix"):
        col.query.near_text("cats")
    with pytest.raises(ConfigError, match="pass the query matrix"):
        col.query.hybrid("cats", alpha=0.5)


def test_query_argument_validation(client, rng):
    col = _schema(client)
    _fill(col, rng, 2)
    q = unit_rows(rng, 2, DIM)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="limit"):
            col.query.near_vector(q, limit=bad)
    with pytest.raises(ConfigError, match="offset"):
        col.query.near_vector(q, offset=-1)
    with pytest.raises(DimensionMismatchError):
        col.query.near_vector(unit_rows(rng, 2, DIM + 1))


def test_delete_collection_and_compact(client, rng):
    col = _schema(client)
    ids = _fill(col, rng, 12)
    q = unit_rows(rng, 3, DIM)
    for uid in ids[::2]:
        col.data.delete_by_id(uid)
    before = [(o.uuid, o.metadata.distance) for o in col.query.near_vector(q).objects]
    col.compact()
    after = [(o.uuid, o.metadata.distance) for o in col.query.near_vector(q).objects]
    assert before == after and len(col) == 6
    assert col.query.bm25("cats").objects


def test_client_context_manager_and_repr_has_no_secret():
    with multivector.connect(headers={"X-JinaAI-Api-Key": "sk-secret-123"}) as c:
        assert "sk-secret-123" not in repr(c)
        assert c.is_ready()
    assert not c.is_ready()
    with pytest.raises(ConfigError, match="closed"):
        c.collections.list_all()


def test_filter_by_uuid_object_matches(any_client, rng):
    import uuid as _uuid

    col = _schema(any_client)
    ids = _fill(col, rng, 3)
    got = col.query.fetch_objects(filters=Filter.by_id().equal(_uuid.UUID(ids[1]))).objects
    assert [o.uuid for o in got] == [ids[1]]
    got = col.query.fetch_objects(filters=Filter.by_id().contains_any([_uuid.UUID(ids[0])])).objects
    assert [o.uuid for o in got] == [ids[0]]
    one = col.query.fetch_object_by_id(ids[2], return_properties=["docid"])
    assert one.properties == {"docid": "d2"}


def test_vector_index_config_checked_at_create_and_retrain(client, rng):
    from multivector.config import VectorIndexConfig

    with pytest.raises(ConfigError, match="unknown vector index kind 'nope'"):
        client.collections.create(
            "Bad",
            vector_config=Configure.MultiVectors.self_provided(
                name="v", index=VectorIndexConfig(kind="nope")
            ),
        )
    assert not client.collections.exists("Bad")
    col = client.collections.create(
        "Ann",
        vector_config=Configure.MultiVectors.self_provided(
            name="v", index=Configure.VectorIndex.plaid()
        ),
    )
    col.data.insert_many(
        [multivector.DataObject({"i": i}, vector=unit_rows(rng, 3, DIM)) for i in range(20)]
    )
    assert set(col.retrain_index()) == {"v"}
    with pytest.raises(ConfigError, match="unknown target_vector"):
        col.retrain_index("w")
    q = unit_rows(rng, 2, DIM)
    assert len(col.query.near_vector(q, limit=5).objects) == 5
