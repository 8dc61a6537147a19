"""Group-by (``GroupBy``) on near_vector / near_text / bm25 / hybrid against a reference.

The reference ranks every object with the plain verb (a limit covering the collection), then
walks the ranking best first: an object joins its group while the group has room; a new group
opens while fewer than ``number_of_groups`` are open. Both backends.
"""

from __future__ import annotations

import numpy as np
import pytest

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError
from multivector.query import Filter, GroupBy
from multivector.results_grouped import GroupByReturn
from multivector.retrieval.grouping import cap_per_group, group_ranked
from tests.conftest import unit_rows

WORDS = ["solar", "wind", "panel", "battery", "grid", "storage", "turbine", "hydro"]


def _fill(client: multivector.Client, rng: np.random.Generator, n: int = 150):
    col = client.collections.create(
        "Chunks",
        vector_config=[Configure.MultiVectors.self_provided(name="mv")],
        properties=[
            Property(name="docid", data_type=DataType.TEXT),
            Property(name="text", data_type=DataType.TEXT),
            Property(name="n", data_type=DataType.INT),
        ],
    )
    objs = []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(2, 7)))
        objs.append(
            multivector.DataObject(
                properties={
                    "docid": f"d{int(rng.integers(0, 12))}",
                    "text": " ".join(words),
                    "n": i,
                },
                uuid=multivector.generate_uuid5(f"chunk{i}"),
                vector=unit_rows(rng, int(rng.integers(1, 6)), 16),
            )
        )
    assert not col.data.insert_many(objs).has_errors
    return col


def _reference(ranked, groups: int, per: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for obj in ranked:
        name = obj.properties["docid"]
        if name not in out:
            if len(out) >= groups:
                continue
            out[name] = []
        if len(out[name]) < per:
            out[name].append(obj.uuid)
    return out


def _as_dict(res: GroupByReturn) -> dict[str, list[str]]:
    return {name: [o.uuid for o in g.objects] for name, g in res.groups.items()}


@pytest.mark.parametrize(("groups", "per"), [(1, 1), (3, 2), (5, 4), (20, 3), (12, 100)])
def test_near_vector_and_bm25_group_by_equal_reference(any_client, rng, groups, per):
    col = _fill(any_client, rng)
    q = unit_rows(rng, 3, 16)
    spec = GroupBy(prop="docid", number_of_groups=groups, objects_per_group=per)
    full = col.query.near_vector(q, limit=1000)
    res = col.query.near_vector(q, group_by=spec, limit=2)
    assert isinstance(res, GroupByReturn)
    assert _as_dict(res) == _reference(full.objects, groups, per)
    assert list(res.groups) == list(_reference(full.objects, groups, per))  # best group first
    for name, group in res.groups.items():
        d = [o.metadata.distance for o in group.objects]
        assert group.number_of_objects == len(group.objects)
        assert group.min_distance == min(d) and group.max_distance == max(d)
        assert all(o.belongs_to_group == name for o in group.objects)
    assert [o.uuid for o in res.objects] == [u for us in _as_dict(res).values() for u in us]

    full_kw = col.query.bm25("solar battery", limit=1000)
    res_kw = col.query.bm25("solar battery", group_by=spec)
    assert _as_dict(res_kw) == _reference(full_kw.objects, groups, per)
    assert all(g.min_distance is None for g in res_kw.groups.values())
    scores = {o.uuid: o.metadata.score for o in full_kw.objects}
    assert all(o.metadata.score == pytest.approx(scores[o.uuid]) for o in res_kw.objects)


def test_hybrid_and_filters_group_by(any_client, rng):
    col = _fill(any_client, rng, n=90)  # under the hybrid pool: every object is a candidate
    q = unit_rows(rng, 3, 16)
    spec = GroupBy(prop="docid", number_of_groups=4, objects_per_group=3)
    flt = Filter.by_property("n").greater_than(10)
    full = col.query.hybrid("wind grid", vector=q, alpha=0.5, limit=100, filters=flt)
    res = col.query.hybrid("wind grid", vector=q, alpha=0.5, group_by=spec, filters=flt)
    assert _as_dict(res) == _reference(full.objects, 4, 3)
    assert all(o.properties["n"] > 10 for o in res.objects)


def test_group_by_grows_its_pool_past_the_first(any_client, rng):
    """One dominant group fills the first 100 ranks: the pool must grow to open the others."""
    col = any_client.collections.create(
        "Skewed", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
    )
    base = unit_rows(rng, 1, 8)
    objs = []
    for i in range(400):
        near = i < 300  # 300 near objects all of doc "big"
        v = base + (0.01 if near else 2.0) * unit_rows(rng, 1, 8)
        objs.append(
            multivector.DataObject(
                properties={"docid": "big" if near else f"d{i % 7}"}, vector=v.astype(np.float32)
            )
        )
    col.data.insert_many(objs)
    full = col.query.near_vector(base, limit=1000)
    res = col.query.near_vector(
        base, group_by=GroupBy(prop="docid", number_of_groups=8, objects_per_group=2)
    )
    assert len(res.groups) == 8
    assert _as_dict(res) == _reference(full.objects, 8, 2)


def test_group_by_return_properties_and_errors(client, rng):
    col = _fill(client, rng, n=30)
    q = unit_rows(rng, 2, 16)
    spec = GroupBy(prop="docid", number_of_groups=2, objects_per_group=2)
    res = col.query.near_vector(q, group_by=spec, return_properties=["n"])
    assert all(set(o.properties) == {"n"} for o in res.objects)  # grouped on docid anyway
    with pytest.raises(ConfigError, match="offset"):
        col.query.near_vector(q, group_by=spec, offset=2)
    with pytest.raises(ConfigError, match="auto_limit"):
        col.query.bm25("solar", group_by=spec, auto_limit=1)
    with pytest.raises(ConfigError, match="'nope'"):
        col.query.near_vector(q, group_by=GroupBy("nope", 1, 1))
    with pytest.raises(ConfigError, match="number_of_groups"):
        GroupBy("docid", 0, 1)
    with pytest.raises(ConfigError, match="objects_per_group"):
        GroupBy("docid", 1, True)
    with pytest.raises(ConfigError, match="GroupBy"):
        col.query.bm25("solar", group_by={"prop": "docid"})  # type: ignore[arg-type]


def test_pure_functions():
    ranked = ["a1", "b1", "a2", "c1", "a3", "b2", "d1", "x"]
    key = lambda s: None if s == "x" else s[0]  # noqa: E731
    assert group_ranked(ranked, key, number_of_groups=2, objects_per_group=2) == {
        "a": ["a1", "a2"],
        "b": ["b1", "b2"],
    }
    assert cap_per_group(ranked, key, max_per_group=1, limit=10) == ["a1", "b1", "c1", "d1", "x"]
    assert cap_per_group(ranked, key, max_per_group=2, limit=4) == ["a1", "b1", "a2", "c1"]
    assert group_ranked([], key, number_of_groups=3, objects_per_group=1) == {}


def test_retriever_caps_hits_per_group(any_client, rng):
    from multivector.integrations.langchain.arguments import search_overrides
    from multivector.retrieval import Retriever

    col = _fill(any_client, rng, n=200)
    q = unit_rows(rng, 3, 16)
    retriever = Retriever(col, mode="vector", limit=6)
    full = retriever.retrieve("", vector=q, limit=200)
    capped = retriever.retrieve("", vector=q, group_by="docid", max_per_group=1)
    seen: dict[str, int] = {}
    want = []
    for hit in full:
        d = hit.properties["docid"]
        if seen.get(d, 0) < 1:
            seen[d] = seen.get(d, 0) + 1
            want.append(hit.uuid)
    assert [h.uuid for h in capped] == want[:6]
    kw = Retriever(col, mode="keyword", limit=5).retrieve(
        "solar", group_by="docid", max_per_group=2
    )
    counts: dict[str, int] = {}
    for hit in kw:
        counts[hit.properties["docid"]] = counts.get(hit.properties["docid"], 0) + 1
    assert max(counts.values()) <= 2 and len(kw) == 5
    with pytest.raises(ConfigError, match="group_by"):
        retriever.retrieve("", vector=q, max_per_group=1)
    with pytest.raises(ConfigError, match="mmr"):
        retriever.retrieve("", vector=q, mode="mmr", group_by="docid", max_per_group=1)
    overrides = search_overrides("similarity", 4, {"group_by": "docid", "max_per_group": 1})
    assert overrides["group_by"] == "docid" and overrides["max_per_group"] == 1
