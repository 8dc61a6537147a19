"""Durable embedded store: everything survives close/reopen, searches are identical after it."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time

import numpy as np
import pytest

import multivector
from multivector.api.ingest import DataObject
from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError, StorageWarning, StoreLockedError
from multivector.query import Filter, MetadataQuery

META = MetadataQuery(score=True, distance=True)
UTC = dt.timezone.utc


def _create(client: multivector.Client) -> multivector.Collection:
    return client.collections.create(
        "Docs",
        vector_config=[
            Configure.MultiVectors.self_provided(name="mv"),
            Configure.MultiVectors.self_provided(name="wide", dtype="float32"),
        ],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="when", data_type=DataType.DATE),
        ],
    )


def _objects(rng: np.random.Generator, n: int, start: int = 0) -> list[DataObject]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    out = []
    for i in range(start, start + n):
        text = " ".join(words[j % len(words)] for j in rng.integers(0, 8, size=6))
        out.append(
            DataObject(
                properties={
                    "text": f"{text} doc{i}",
                    "when": dt.datetime(2024, 1, 1 + i % 28, 12, 30, tzinfo=UTC),
                    "days": [dt.datetime(2023, 5, 1 + i % 20, tzinfo=UTC)],
                    "rank": i,
                    "score": i / 7,
                    "flag": i % 2 == 0,
                    "tags": [f"t{i % 3}", "x'y\"z"],
                    "meta": {"nested": [1, {"k": "v"}], "i": i},
                },
                uuid=multivector.generate_uuid5(f"doc{i}"),
                vector={
                    "mv": rng.normal(size=(int(rng.integers(1, 7)), 16)).astype(np.float32),
                    "wide": rng.normal(size=(3, 4)).astype(np.float32),
                },
            )
        )
    return out


def _searches(col: multivector.Collection, rng: np.random.Generator) -> list[object]:
    seed = np.random.default_rng(7)
    q = seed.normal(size=(4, 16)).astype(np.float32)
    out: list[object] = []
    for res in (
        col.query.near_vector(q, target_vector="mv", limit=15, return_metadata=META),
        col.query.near_vector(
            q,
            target_vector="mv",
            limit=10,
            filters=Filter.by_property("rank").greater_than(10),
            return_metadata=META,
        ),
        col.query.bm25("alpha beta doc3", limit=12, return_metadata=META),
        col.query.hybrid(
            "gamma delta", vector=q, target_vector="mv", limit=12, return_metadata=META
        ),
    ):
        out.append([(o.uuid, o.metadata.score, o.metadata.distance) for o in res.objects])
    out.append([o.uuid for o in col.query.fetch_objects(limit=1000).objects])
    return out


def _dump(
    col: multivector.Collection,
) -> dict[str, tuple[dict[str, object], dict[str, list[list[float]]]]]:
    res = col.query.fetch_objects(limit=10_000, include_vector=True)
    return {
        o.uuid: (o.properties, {k: np.asarray(v).tolist() for k, v in (o.vector or {}).items()})
        for o in res.objects
    }


@pytest.mark.parametrize("mmap_cache", [True, False])
def test_reopen_gives_identical_objects_and_search_results(tmp_path, rng, mmap_cache):
    path = tmp_path / "store"
    with multivector.connect(path, mmap_cache=mmap_cache) as client:
        col = _create(client)
        col.data.insert_many(_objects(rng, 40))
        col.data.replace(
            multivector.generate_uuid5("doc3"),
            {"text": "replaced alpha"},
            vector={"mv": np.ones((2, 16), np.float32), "wide": np.ones((1, 4), np.float32)},
        )
        col.data.delete_by_id(multivector.generate_uuid5("doc5"))
        before = _searches(col, rng)
        dump = _dump(col)
        config = col.config
    # The BM25 postings are always cached; a copy of the token matrices only with mmap_cache.
    assert any((path / "cache").rglob("k0.npz"))
    assert any((path / "cache").rglob("s0.tokens.npy")) == mmap_cache
    with multivector.connect(path, mmap_cache=mmap_cache) as client:
        col = client.collections.use("Docs")
        assert col.config == config
        assert col.config.property("when").data_type is DataType.DATE
        assert _searches(col, rng) == before
        assert _dump(col) == dump
        assert dump[multivector.generate_uuid5("doc1")][0]["when"] == dt.datetime(
            2024, 1, 2, 12, 30, tzinfo=UTC
        )
        assert col.data.exists(multivector.generate_uuid5("doc5")) is False
        assert len(col) if hasattr(col, "__len__") else True


def test_reopen_without_close_rebuilds_from_sqlite(tmp_path, rng):
    path = tmp_path / "store"
    writer = multivector.connect(path)
    col = _create(writer)
    col.data.insert_many(_objects(rng, 25))
    before = _searches(col, rng)
    # A second client in the same process must not write, but it can read everything.
    with multivector.connect(path, read_only=True) as reader:
        assert _searches(reader.collections.use("Docs"), rng) == before
    writer.close()
    with multivector.connect(path) as client:  # the default: the arenas are read from SQLite
        assert _searches(client.collections.use("Docs"), rng) == before


def test_appends_after_a_memory_mapped_reopen(tmp_path, rng):
    path = tmp_path / "store"
    objs = _objects(rng, 30)
    with multivector.connect(path, mmap_cache=True) as client:
        _create(client).data.insert_many(objs[:20])
    with multivector.connect(path, mmap_cache=True) as client:
        col = client.collections.use("Docs")
        arena = col.backend._arenas["mv"]  # the reopen maps the cache read-only
        assert not arena.tokens().flags.writeable
        col.data.insert_many(objs[20:])
        col.data.delete_by_id(objs[0].uuid)
        after = _searches(col, rng)
    fresh_client = multivector.connect()
    fresh = _create(fresh_client)
    fresh.data.insert_many(objs[1:])
    assert _searches(fresh, rng) == after
    with multivector.connect(path, mmap_cache=True) as client:
        assert _searches(client.collections.use("Docs"), rng) == after


def test_damaged_cache_is_ignored_and_rebuilt(tmp_path, rng):
    path = tmp_path / "store"
    with multivector.connect(path, mmap_cache=True) as client:
        col = _create(client)
        col.data.insert_many(_objects(rng, 20))
        before = _searches(col, rng)
    tokens = next((path / "cache").rglob("s0.tokens.npy"))
    tokens.write_bytes(tokens.read_bytes()[:100])
    with multivector.connect(path, mmap_cache=True) as client:
        with pytest.warns(StorageWarning, match="s0.tokens.npy"):
            col = client.collections.use("Docs")
        assert _searches(col, rng) == before
    with multivector.connect(path, mmap_cache=True) as client:  # the writer rewrote it at close
        col = client.collections.use("Docs")
        assert not col.backend._arenas["mv"].tokens().flags.writeable
        assert _searches(col, rng) == before


def test_config_changes_persist(tmp_path, rng):
    path = tmp_path / "store"
    with multivector.connect(path) as client:
        col = client.collections.create(
            "Auto", vector_config=Configure.MultiVectors.self_provided(name="v")
        )
        col.data.insert({"title": "hello", "n": 3}, vector=np.ones((2, 5), np.float32))
    with multivector.connect(path) as client:
        col = client.collections.use("Auto")
        assert col.config.vector("v").dimension == 5
        assert col.config.property("title").data_type is DataType.TEXT
        assert col.config.property("n").data_type is DataType.INT
        assert [o.properties for o in col.query.bm25("hello").objects] == [
            {"title": "hello", "n": 3}
        ]


def test_collections_list_and_delete_persist(tmp_path):
    path = tmp_path / "store"
    with multivector.connect(path) as client:
        for name in ("A", "B", "C"):
            client.collections.create(name)
        client.collections.delete("B")
    with multivector.connect(path) as client:
        assert sorted(client.collections.list_all()) == ["A", "C"]
        client.collections.create("B")
        assert client.collections.use("B").query.fetch_objects().objects == []


def test_compact_reclaims_disk_and_keeps_results(tmp_path, rng):
    path = tmp_path / "store"
    with multivector.connect(path) as client:
        col = _create(client)
        objs = _objects(rng, 200)
        for o in objs:
            o.vector = {"mv": rng.normal(size=(60, 16)).astype(np.float32)}
        col.data.insert_many(objs)
        client.backend._db.vacuum()
        full = os.path.getsize(path / "multivector.sqlite3")
        col.data.delete_many(Filter.by_property("rank").greater_or_equal(20))
        before = _searches(col, rng)
        col.compact()
        assert _searches(col, rng) == before
        assert os.path.getsize(path / "multivector.sqlite3") < full / 2
    with multivector.connect(path) as client:
        assert _searches(client.collections.use("Docs"), rng) == before


def test_backup_is_a_consistent_openable_copy(tmp_path, rng):
    path = tmp_path / "store"
    with multivector.connect(path) as client:
        col = _create(client)
        col.data.insert_many(_objects(rng, 30))
        before = _searches(col, rng)
        stop = threading.Event()
        errors: list[BaseException] = []

        def read() -> None:
            while not stop.is_set():
                try:
                    _searches(col, rng)
                except BaseException as exc:
                    errors.append(exc)
                    return

        reader = threading.Thread(target=read)
        reader.start()
        client.backup(tmp_path / "copy")
        stop.set()
        reader.join()
        assert errors == []
        with pytest.raises(ConfigError, match="exists"):
            client.backup(tmp_path / "copy")
    with multivector.connect(tmp_path / "copy") as copy:
        assert _searches(copy.collections.use("Docs"), rng) == before


def test_second_writer_gets_store_locked_error_and_may_wait(tmp_path):
    path = tmp_path / "store"
    first = multivector.connect(path)
    first.collections.create("A")
    second = multivector.connect(path)  # opening is fine: readers need no lock
    assert second.collections.exists("A")
    with pytest.raises(StoreLockedError, match="pid"):
        second.collections.create("B")
    releaser = threading.Timer(0.3, first.close)
    releaser.start()
    third = multivector.connect(path, lock_timeout=30)
    started = time.monotonic()
    third.collections.create("C")  # waits until the first client closes
    releaser.join()
    assert time.monotonic() >= started
    assert sorted(third.collections.list_all()) == ["A", "C"]
    third.close()
    second.close()


def test_read_only_client_refuses_writes(tmp_path):
    path = tmp_path / "store"
    with pytest.raises(multivector.MultiVectorError, match="read_only"):
        multivector.connect(path, read_only=True)
    with multivector.connect(path) as client:
        client.collections.create("A")
    with multivector.connect(path, read_only=True) as client:
        with pytest.raises(ConfigError, match="read_only"):
            client.collections.create("B")
        with pytest.raises(ConfigError, match="read_only"):
            client.collections.use("A").data.insert({"x": 1})


def test_threads_read_while_one_writes(tmp_path, rng):
    path = tmp_path / "store"
    objs = _objects(rng, 60)
    with multivector.connect(path) as client:
        col = _create(client)
        errors: list[BaseException] = []
        counts: list[int] = []

        def read() -> None:
            try:
                for _ in range(30):
                    n = len(col.query.fetch_objects(limit=1000).objects)
                    assert n % 10 == 0  # batches of 10 are never seen half-applied
                    counts.append(n)
            except BaseException as exc:
                errors.append(exc)

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        for i in range(0, 60, 10):
            col.data.insert_many(objs[i : i + 10])
        for t in readers:
            t.join()
        assert errors == []
        assert counts and max(counts) <= 60
    with multivector.connect(path) as client:
        assert len(client.collections.use("Docs").query.fetch_objects(limit=100).objects) == 60


def test_in_memory_connect_is_unchanged():
    with multivector.connect() as client:
        client.collections.create("A")
        with pytest.raises(ConfigError, match="path"):
            client.backup("/nonexistent-never-written")
    with pytest.raises(TypeError):
        multivector.connect(None, read_only=True)


def _keyword(col: multivector.Collection) -> list[object]:
    return [
        [
            (o.uuid, o.metadata.score)
            for o in col.query.bm25(q, limit=50, return_metadata=META).objects
        ]
        for q in ("alpha beta doc3", "zeta zeta eta", "doc12 theta", "missing")
    ]


def test_bm25_postings_come_from_the_cache_and_score_like_a_rebuild(tmp_path, rng):
    path = tmp_path / "store"
    objs = _objects(rng, 40)
    with multivector.connect(path) as client:
        col = _create(client)
        col.data.insert_many(objs[:30])
        col.data.delete_by_id(objs[4].uuid)
        col.data.insert_many(objs[2:3])  # a replacement: the cache is written compacted
        before = _keyword(col)
    with multivector.connect(path) as client:
        col = client.collections.use("Docs")
        assert col.backend._storage.cache_hit  # postings installed from the cache
        assert _keyword(col) == before
        col.data.insert_many(objs[30:])  # writes on top of cached postings
        col.data.delete_by_id(objs[7].uuid)
        after = _keyword(col)
    fresh = _create(multivector.connect())
    fresh.data.insert_many([o for i, o in enumerate(objs) if i not in (4, 7)])
    assert _keyword(fresh) == after
    for damage in (b"junk", None):
        npz = next((path / "cache").rglob("k0.npz"))
        if damage is None:
            npz.unlink()
        else:
            npz.write_bytes(damage)
        with multivector.connect(path) as client:
            with pytest.warns(StorageWarning, match="k0.npz"):  # one warning, then a rebuild
                col = client.collections.use("Docs")
            assert not col.backend._storage.cache_hit  # rebuilt from the rows
            assert _keyword(col) == after


def test_a_stale_cache_is_not_used(tmp_path, rng):
    path = tmp_path / "store"
    with multivector.connect(path) as client:
        col = _create(client)
        col.data.insert_many(_objects(rng, 12))
        before = _keyword(col)
    with multivector.connect(path) as writer:  # a change after the cache was written
        writer.collections.use("Docs").data.delete_by_id(multivector.generate_uuid5("doc3"))
        expected = _keyword(writer.collections.use("Docs"))
        with multivector.connect(path, read_only=True) as reader:
            col = reader.collections.use("Docs")
            assert not col.backend._storage.cache_hit  # stamp behind: rebuilt from the rows
            assert _keyword(col) == expected != before
