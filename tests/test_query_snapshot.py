"""One query, one snapshot: a search takes the collection lock once and refreshes from storage
once, builds its filter mask once for both hybrid legs, and a delete that lands between a search
and the fetch of its hits never shortens the result list.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import multivector
from multivector.backends.embedded import filter_mask, reads
from multivector.backends.embedded.read_view import EmbeddedReadView
from multivector.backends.qdrant.read_view import QdrantReadView
from multivector.config import Configure, DataType, Property
from multivector.query import Filter
from tests.conftest import make_client, unit_rows

N = 240
DIM = 16
WORDS = ["apple", "banana", "cherry", "delta", "echo", "fox"]


def _fill(collection: multivector.Collection, rng: np.random.Generator) -> None:
    with collection.batch.fixed_size(batch_size=100) as batch:
        for i in range(N):
            text = f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} item {i}"
            batch.add_object(
                properties={"text": text, "group": i % 3},
                uuid=multivector.generate_uuid5(f"doc{i}"),
                vector={"mv": unit_rows(rng, 3 + i % 5, DIM)},
            )
    assert not collection.batch.failed_objects


def _create(client: multivector.Client) -> multivector.Collection:
    return client.collections.create(
        "Docs",
        vector_config=[Configure.MultiVectors.self_provided(name="mv")],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="group", data_type=DataType.INT),
        ],
    )


@pytest.fixture
def durable(tmp_path: Path, rng: np.random.Generator) -> Iterator[multivector.Collection]:
    client = multivector.connect(tmp_path / "store")
    collection = _create(client)
    _fill(collection, rng)
    yield collection
    client.close()


class CountingLock:
    """An RLock that counts how often it is entered."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.entered = 0

    def __enter__(self) -> CountingLock:
        self._lock.acquire()
        self.entered += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _instrument(collection: multivector.Collection, monkeypatch: pytest.MonkeyPatch) -> dict:
    backend: Any = collection.backend
    counts = {"polls": 0, "masks": 0}
    lock = CountingLock()
    monkeypatch.setattr(backend, "_lock", lock)
    storage = backend._storage
    poll = storage.poll

    def counting_poll() -> Any:
        counts["polls"] += 1
        return poll()

    monkeypatch.setattr(storage, "poll", counting_poll)
    evaluate = filter_mask.evaluate_filter

    def counting_evaluate(node: Any, ctx: Any) -> Any:
        counts["masks"] += 1
        return evaluate(node, ctx)

    monkeypatch.setattr(reads, "evaluate_filter", counting_evaluate)
    counts["lock"] = lock  # type: ignore[assignment]
    return counts


def _query(rng: np.random.Generator) -> np.ndarray:
    return unit_rows(rng, 4, DIM)


@pytest.mark.parametrize("verb", ["hybrid", "near_vector", "bm25"])
def test_a_query_takes_one_lock_one_refresh_and_one_mask(
    durable: multivector.Collection,
    monkeypatch: pytest.MonkeyPatch,
    rng: np.random.Generator,
    verb: str,
) -> None:
    counts = _instrument(durable, monkeypatch)
    where = Filter.by_property("group").not_equal(2)
    q = durable.query
    if verb == "hybrid":
        res = q.hybrid("apple banana", vector=_query(rng), alpha=0.5, filters=where, limit=10)
    elif verb == "near_vector":
        res = q.near_vector(_query(rng), filters=where, limit=10)
    else:
        res = q.bm25("apple banana", filters=where, limit=10)
    assert len(res.objects) == 10
    assert all(o.properties["group"] != 2 for o in res.objects)
    assert counts["polls"] == 1
    assert counts["masks"] == 1
    assert counts["lock"].entered == 1  # type: ignore[attr-defined]


def test_the_exact_kernel_runs_outside_the_lock(
    durable: multivector.Collection, monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    backend: Any = durable.backend
    held: list[bool] = []
    run_exact = EmbeddedReadView.run_exact

    def probe(self: EmbeddedReadView) -> None:
        # Another thread can take the collection lock while the kernel runs.
        got = threading.Event()

        def take() -> None:
            with backend._lock:
                got.set()

        t = threading.Thread(target=take)
        t.start()
        held.append(not got.wait(5.0))
        t.join()
        run_exact(self)

    monkeypatch.setattr(EmbeddedReadView, "run_exact", probe)
    assert len(durable.query.near_vector(_query(rng), limit=5).objects) == 5
    assert held == [False]


def _delete_hits_first(
    collection: multivector.Collection, view_type: type, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Make the first ``objects()`` call delete the hits it is about to fetch."""
    deleted: list[str] = []
    objects = view_type.objects

    def deleting(self: Any, hits: Any, *, include_vector: bool) -> Any:
        if not deleted:
            for h in hits[:3]:
                collection.data.delete_by_id(h.uuid)
                deleted.append(h.uuid)
        return objects(self, hits, include_vector=include_vector)

    monkeypatch.setattr(view_type, "objects", deleting)
    return deleted


@pytest.mark.parametrize("verb", ["hybrid", "near_vector", "bm25"])
def test_embedded_delete_between_search_and_fetch_keeps_the_snapshot(
    durable: multivector.Collection,
    monkeypatch: pytest.MonkeyPatch,
    rng: np.random.Generator,
    verb: str,
) -> None:
    deleted = _delete_hits_first(durable, EmbeddedReadView, monkeypatch)
    query = _query(rng)
    q = durable.query
    run = {
        "hybrid": lambda: q.hybrid("apple", vector=query, limit=10),
        "near_vector": lambda: q.near_vector(query, limit=10),
        "bm25": lambda: q.bm25("apple", limit=10),
    }[verb]
    res = run()
    assert len(deleted) == 3
    # The snapshot answers: the objects the legs found, as they were when the query started.
    assert len(res.objects) == 10
    assert {o.uuid for o in res.objects} >= set(deleted)
    # The next query sees the deletes.
    assert not {o.uuid for o in run().objects} & set(deleted)


@pytest.mark.parametrize("verb", ["hybrid", "near_vector", "bm25"])
def test_qdrant_delete_between_search_and_fetch_searches_again(
    monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, verb: str
) -> None:
    client = make_client("qdrant")
    try:
        collection = _create(client)
        _fill(collection, rng)
        deleted = _delete_hits_first(collection, QdrantReadView, monkeypatch)
        query = _query(rng)
        q = collection.query
        res = {
            "hybrid": lambda: q.hybrid("apple", vector=query, limit=10),
            "near_vector": lambda: q.near_vector(query, limit=10),
            "bm25": lambda: q.bm25("apple", limit=10),
        }[verb]()
        assert len(deleted) == 3
        assert len(res.objects) == 10
        assert not {o.uuid for o in res.objects} & set(deleted)
    finally:
        client.close()


def test_writer_and_query_threads_never_see_short_results(
    durable: multivector.Collection, rng: np.random.Generator
) -> None:
    """A writer deletes and re-inserts objects while readers query: every result is full."""
    stop = threading.Event()
    errors: list[BaseException] = []
    short: list[tuple[str, int]] = []
    stored = {o.uuid: o for o in durable.query.fetch_objects(include_vector=True).objects}
    victims = list(stored)[:60]  # at most 60 of 240 are ever missing: enough always match

    def writer() -> None:
        i = 0
        while not stop.is_set():
            uid = victims[i % len(victims)]
            try:
                durable.data.delete_by_id(uid)
                obj = stored[uid]
                durable.data.insert(
                    properties=obj.properties,
                    uuid=uid,
                    vector={"mv": np.asarray(obj.vector["mv"], dtype=np.float32)},
                )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return
            i += 1

    queries = [_query(rng) for _ in range(4)]

    def reader(k: int) -> None:
        q = durable.query
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                for name, res in (
                    ("hybrid", q.hybrid("apple", vector=queries[k], limit=20)),
                    ("near_vector", q.near_vector(queries[k], limit=20)),
                    ("bm25", q.bm25("item", limit=20)),
                ):
                    if len(res.objects) < 20:
                        short.append((name, len(res.objects)))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(k,)) for k in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    assert not errors
    assert not short


def test_qdrant_local_mode_serves_queries_while_a_writer_runs(rng: np.random.Generator) -> None:
    """qdrant-client's local mode is not thread-safe: our calls to it are serialised."""
    client = make_client("qdrant")
    try:
        collection = _create(client)
        _fill(collection, rng)
        stop = threading.Event()
        errors: list[BaseException] = []
        short: list[int] = []

        def writer() -> None:
            i = 0
            while not stop.is_set():
                try:
                    collection.data.insert_many(
                        [
                            multivector.DataObject(
                                {"text": f"extra item {i}", "group": 1},
                                multivector.generate_uuid5(f"extra{i % 20}"),
                                {"mv": unit_rows(np.random.default_rng(i), 3, DIM)},
                            )
                        ]
                    )
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                    return
                i += 1

        def reader() -> None:
            query = unit_rows(np.random.default_rng(3), 4, DIM)
            for _ in range(15):
                try:
                    for res in (
                        collection.query.near_vector(query, limit=10),
                        collection.query.bm25("item", limit=10),
                        collection.query.fetch_objects(limit=10),
                    ):
                        if len(res.objects) < 10:
                            short.append(len(res.objects))
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=writer)] + [
            threading.Thread(target=reader) for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads[1:]:
            t.join()
        stop.set()
        threads[0].join()
        assert not errors
        assert not short
    finally:
        client.close()


def test_a_reader_plans_against_a_schema_another_client_just_grew(tmp_path: Path) -> None:
    writer = multivector.connect(tmp_path / "store")
    reader = multivector.connect(tmp_path / "store", read_only=True)
    try:
        docs = _create(writer)
        docs.data.insert(
            {"text": "old", "group": 0}, vector={"mv": np.eye(2, DIM, dtype=np.float32)}
        )
        seen = reader.collections.use("Docs")
        assert len(seen.query.fetch_objects().objects) == 1
        docs.data.insert(  # auto-schema adds "year" in the writer
            {"text": "new", "group": 1, "year": 2020},
            vector={"mv": np.eye(2, DIM, dtype=np.float32)},
        )
        where = Filter.by_property("year").equal(2020)
        # The reader's plan is checked against the schema as last seen, then once more after a
        # refresh: the new property is found instead of being refused.
        assert [o.properties["text"] for o in seen.query.fetch_objects(filters=where).objects] == [
            "new"
        ]
        assert [o.properties["text"] for o in seen.query.bm25("new", filters=where).objects] == [
            "new"
        ]
    finally:
        reader.close()
        writer.close()
