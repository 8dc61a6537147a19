"""Concurrent writes are serialisable: every outcome is one some serial order of the two calls
allows. Four races, 300 pairs each, two threads released together by a barrier, on the in-memory
store, the durable store and Qdrant (in-process).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import ObjectExistsError, ObjectNotFoundError
from multivector.query import Filter

PAIRS = 300


@pytest.fixture(params=["memory", "durable", "qdrant"])
def docs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[multivector.Collection]:
    if request.param == "memory":
        client = multivector.connect()
    elif request.param == "durable":
        client = multivector.connect(tmp_path / "store", synchronous="normal")
    else:
        client = multivector.connect_to_qdrant(location=":memory:")
    collection = client.collections.create(
        "Docs",
        vector_config=[Configure.MultiVectors.self_provided(name="mv")],
        properties=[
            Property(name="a", data_type=DataType.TEXT),
            Property(name="b", data_type=DataType.TEXT),
            Property(name="group", data_type=DataType.INT),
        ],
    )
    yield collection
    client.close()


VEC = np.eye(2, 4, dtype=np.float32)


def _pair(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """Run both calls at once; each result is its return value or the exception it raised."""
    barrier = threading.Barrier(2)
    out: list[Any] = [None, None]

    def run(i: int, fn: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            out[i] = fn()
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out[0], out[1]


def _new(docs: multivector.Collection, i: int, group: int = 1) -> str:
    uid = multivector.generate_uuid5(f"race-{i}")
    docs.data.insert({"a": "a0", "b": "b0", "group": group}, uuid=uid, vector={"mv": VEC})
    return uid


def test_concurrent_updates_of_different_properties_both_land(
    docs: multivector.Collection,
) -> None:
    lost = []
    for i in range(PAIRS):
        uid = _new(docs, i)
        r1, r2 = _pair(
            lambda uid=uid: docs.data.update(uid, {"a": "a1"}),
            lambda uid=uid: docs.data.update(uid, {"b": "b1"}),
        )
        assert r1 is None and r2 is None, (r1, r2)
        obj = docs.query.fetch_object_by_id(uid)
        assert obj is not None
        if (obj.properties["a"], obj.properties["b"]) != ("a1", "b1"):
            lost.append((i, obj.properties))
    assert not lost


def test_concurrent_inserts_of_one_uuid_store_exactly_one(docs: multivector.Collection) -> None:
    bad = []
    for i in range(PAIRS):
        uid = multivector.generate_uuid5(f"dup-{i}")
        r1, r2 = _pair(
            lambda uid=uid: docs.data.insert({"a": "first"}, uuid=uid, vector={"mv": VEC}),
            lambda uid=uid: docs.data.insert({"a": "second"}, uuid=uid, vector={"mv": VEC}),
        )
        won = [r for r in (r1, r2) if r == uid]
        refused = [r for r in (r1, r2) if isinstance(r, ObjectExistsError)]
        obj = docs.query.fetch_object_by_id(uid)
        winner = "first" if r1 == uid else "second"
        if len(won) != 1 or len(refused) != 1 or obj is None or obj.properties["a"] != winner:
            bad.append((i, r1, r2, obj and obj.properties))
    assert not bad


@pytest.mark.parametrize("verb", ["update", "replace"])
def test_a_write_racing_a_delete_never_undoes_it(docs: multivector.Collection, verb: str) -> None:
    bad = []
    for i in range(PAIRS):
        uid = _new(docs, i)

        def write(uid: str = uid) -> Any:
            if verb == "update":
                return docs.data.update(uid, {"a": "changed"})
            return docs.data.replace(uid, {"a": "new"}, vector={"mv": VEC})

        r_write, r_delete = _pair(write, lambda uid=uid: docs.data.delete_by_id(uid))
        # Serial orders: write then delete (write ok, delete True) or delete then write
        # (delete True, write raises ObjectNotFoundError). Either way the object is gone.
        ok_write = r_write is None or isinstance(r_write, ObjectNotFoundError)
        if r_delete is not True or not ok_write or docs.data.exists(uid):
            bad.append((i, r_write, r_delete, docs.data.exists(uid)))
    assert not bad


def test_delete_many_racing_an_update_matches_a_serial_order(
    docs: multivector.Collection,
) -> None:
    bad = []
    where = Filter.by_property("group").equal(1)
    for i in range(PAIRS):
        uid = _new(docs, i, group=1)
        r_update, r_delete = _pair(
            lambda uid=uid: docs.data.update(uid, {"group": 2}),
            lambda: docs.data.delete_many(where),
        )
        obj = docs.query.fetch_object_by_id(uid)
        if isinstance(r_update, ObjectNotFoundError):
            # delete_many first: it deleted the object, then the update found nothing.
            ok = obj is None and r_delete.successful == 1
        else:
            # update first: the object moved to group 2 and delete_many matched nothing.
            ok = (
                r_update is None
                and obj is not None
                and obj.properties["group"] == 2
                and r_delete.matches == 0
            )
        if not ok:
            bad.append((i, r_update, r_delete, obj and obj.properties))
        if obj is not None:
            docs.data.delete_by_id(uid)
    assert not bad


def test_insert_of_an_existing_uuid_raises_and_batch_keeps_upserting(
    docs: multivector.Collection,
) -> None:
    uid = _new(docs, 0)
    with pytest.raises(ObjectExistsError, match="already exists"):
        docs.data.insert({"a": "again"}, uuid=uid, vector={"mv": VEC})
    assert docs.query.fetch_object_by_id(uid).properties["a"] == "a0"  # type: ignore[union-attr]
    with docs.batch.fixed_size(batch_size=10) as batch:
        batch.add_object({"a": "upserted"}, uuid=uid, vector={"mv": VEC})
    assert not docs.batch.failed_objects
    assert docs.query.fetch_object_by_id(uid).properties["a"] == "upserted"  # type: ignore[union-attr]


@pytest.mark.parametrize("dims", [(4, 4), (4, 8)])
def test_concurrent_schema_changes_are_merged_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dims: tuple[int, int]
) -> None:
    """Two writers plan against the same schema (both before either commits): one adds
    property x and fixes the dimension, the other adds y. Neither schema change is lost; a
    matrix that no longer fits the dimension fails that object alone.
    """
    from multivector.api.collection import Collection
    from multivector.errors import DimensionMismatchError

    client = multivector.connect(tmp_path / "store")
    docs = client.collections.create(
        "Docs", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
    )
    barrier = threading.Barrier(2)
    embed = Collection._embed_sync

    def planned_together(self: Collection, plan: Any) -> Any:
        barrier.wait(10)  # both writers have planned against the same schema
        return embed(self, plan)

    monkeypatch.setattr(Collection, "_embed_sync", planned_together)
    r1, r2 = _pair(
        lambda: docs.data.insert({"x": "one"}, vector={"mv": np.ones((2, dims[0]), np.float32)}),
        lambda: docs.data.insert({"y": "two"}, vector={"mv": np.ones((3, dims[1]), np.float32)}),
    )
    monkeypatch.undo()
    names = {p.name for p in docs.config.properties}
    stored = docs.query.fetch_objects().objects
    if dims[0] == dims[1]:
        assert isinstance(r1, str) and isinstance(r2, str)
        assert names == {"x", "y"} and len(stored) == 2
    else:
        ok = [r for r in (r1, r2) if isinstance(r, str)]
        bad = [r for r in (r1, r2) if isinstance(r, DimensionMismatchError)]
        assert len(ok) == 1 and len(bad) == 1, (r1, r2)
        assert len(stored) == 1
    assert len(
        docs.query.near_vector(np.ones((1, docs.config.vector("mv").dimension), np.float32)).objects
    ) == len(stored)
    client.close()
    with multivector.connect(tmp_path / "store") as again:  # and the store reopens
        assert len(again.collections.use("Docs").query.fetch_objects().objects) == len(stored)
