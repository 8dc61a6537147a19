"""The async client: twins of the sync verbs, on both backends (and a durable folder).

Results equal the sync client's (also under 50 concurrent tasks); blocking work runs in the
client's bounded executor, so a ticker task keeps running during a 20k-document query; a
cancelled write is all or nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError, ObjectExistsError
from multivector.query import Filter, GroupBy
from tests.conftest import unit_rows
from tests.integration_layouts import WordEmbedder

WORDS = ["solar", "wind", "panel", "battery", "grid", "storage", "turbine", "hydro", "roof"]


def _open(backend: str, path=None) -> multivector.AsyncClient:
    if backend == "qdrant":
        return multivector.use_async_with_qdrant(location=":memory:")
    return multivector.use_async(path)


def _objects(rng: np.random.Generator, n: int, dim: int = 16) -> list[multivector.DataObject]:
    out = []
    for i in range(n):
        words = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 6))))
        out.append(
            multivector.DataObject(
                properties={"text": words, "n": i, "doc": f"d{i % 7}"},
                uuid=multivector.generate_uuid5(f"o{i}"),
                vector={"mv": unit_rows(rng, int(rng.integers(1, 5)), dim)},
            )
        )
    return out


def _ids(res) -> list[tuple[str, float | None]]:
    return [
        (o.uuid, None if o.metadata.score is None else round(o.metadata.score, 5))
        for o in res.objects
    ]


async def _fill(client: multivector.AsyncClient, rng, n: int = 120):
    col = await client.collections.create(
        "Docs",
        vector_config=[
            Configure.MultiVectors.self_provided(name="mv"),
            Configure.MultiVectors.text2vec(
                name="words", embedder=WordEmbedder(), source_properties=["text"]
            ),
        ],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="n", data_type=DataType.INT),
            Property(name="doc", data_type=DataType.TEXT),
        ],
    )
    res = await col.data.insert_many(_objects(rng, n))
    assert not res.has_errors
    return col


@pytest.mark.parametrize("backend", ["embedded", "qdrant"])
def test_async_twins_equal_sync_verbs(backend, rng):
    async def main() -> None:
        async with _open(backend) as client:
            col = await _fill(client, rng)
            sync = client.sync_client.collections.use("Docs")
            q = unit_rows(rng, 3, 16)
            flt = Filter.by_property("n").greater_than(20)
            pairs = [
                (
                    col.query.near_vector(q, target_vector="mv", limit=7),
                    sync.query.near_vector(q, target_vector="mv", limit=7),
                ),
                (
                    col.query.near_text("solar grid", target_vector="words", limit=5),
                    sync.query.near_text("solar grid", target_vector="words", limit=5),
                ),
                (
                    col.query.bm25("wind battery", limit=9, filters=flt),
                    sync.query.bm25("wind battery", limit=9, filters=flt),
                ),
                (
                    col.query.hybrid("roof panel", target_vector="words", alpha=0.4, limit=6),
                    sync.query.hybrid("roof panel", target_vector="words", alpha=0.4, limit=6),
                ),
                (
                    col.query.fetch_objects(limit=11, offset=3),
                    sync.query.fetch_objects(limit=11, offset=3),
                ),
            ]
            for coro, expected in pairs:
                got = await coro
                assert _ids(got) == _ids(expected)
            grouped = await col.query.bm25("solar", group_by=GroupBy("doc", 3, 2))
            ref = sync.query.bm25("solar", group_by=GroupBy("doc", 3, 2))
            assert {k: [o.uuid for o in g.objects] for k, g in grouped.groups.items()} == {
                k: [o.uuid for o in g.objects] for k, g in ref.groups.items()
            }
            one = str(multivector.generate_uuid5("o5"))
            assert (await col.query.fetch_object_by_id(one)).properties["n"] == 5
            assert len(await col.query.fetch_objects_by_ids([one, "missing"])) == 1
            assert await col.length() == len(sync) == 120
            with pytest.raises(ConfigError, match="limit"):
                await col.query.bm25("solar", limit=0)  # the same plan checks as sync
            assert [o.uuid async for o in col.iterator(cache_size=13)] == [
                o.uuid for o in sync.iterator()
            ]
            agg = await col.aggregate.over_all(total_count=True)
            assert agg.total_count == 120
            assert (await col.config.get()).name == "Docs"
            assert await client.collections.exists("Docs")
            assert list(await client.collections.list_all()) == ["Docs"]

    asyncio.run(main())


@pytest.mark.parametrize("backend", ["embedded", "qdrant"])
def test_fifty_concurrent_tasks_give_the_sync_answers(backend, rng):
    async def main() -> None:
        async with _open(backend) as client:
            col = await _fill(client, rng, n=150)
            sync = client.sync_client.collections.use("Docs")
            threads: set[str] = set()
            backend_obj = sync.backend
            search = backend_obj.search

            def recording(request):
                threads.add(threading.current_thread().name)
                return search(request)

            backend_obj.search = recording  # type: ignore[method-assign]
            queries = [unit_rows(rng, 2, 16) for _ in range(50)]
            texts = [" ".join(rng.choice(WORDS, size=2)) for _ in range(50)]
            coros = []
            expected = []
            for i in range(50):
                if i % 3 == 0:
                    coros.append(col.query.near_vector(queries[i], target_vector="mv", limit=5))
                    expected.append(sync.query.near_vector(queries[i], target_vector="mv", limit=5))
                elif i % 3 == 1:
                    coros.append(col.query.bm25(texts[i], limit=5))
                    expected.append(sync.query.bm25(texts[i], limit=5))
                else:
                    coros.append(col.query.hybrid(texts[i], target_vector="words", limit=5))
                    expected.append(sync.query.hybrid(texts[i], target_vector="words", limit=5))
            threads.clear()
            results = await asyncio.gather(*coros)
            assert [_ids(r) for r in results] == [_ids(e) for e in expected]
            assert threads and all(t.startswith("multivector-async") for t in threads)
            assert len(threads) <= 4  # the bounded pool, never one thread per task

    asyncio.run(main())


@pytest.mark.parametrize("backend", ["embedded", "qdrant"])
def test_a_20k_document_query_does_not_block_the_loop(backend):
    rng = np.random.default_rng(7)
    n, tokens, dim = (
        20_000,
        (24 if backend == "embedded" else 4),
        (64 if backend == "embedded" else 16),
    )

    async def main() -> None:
        async with _open(backend) as client:
            col = await client.collections.create(
                "Big", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
            )
            sync = client.sync_client.collections.use("Big")
            block = rng.normal(size=(n * tokens, dim)).astype(np.float32)
            for start in range(0, n, 2000):
                objs = [
                    multivector.DataObject(
                        properties={"i": i}, vector=block[i * tokens : (i + 1) * tokens]
                    )
                    for i in range(start, min(n, start + 2000))
                ]
                assert not sync.data.insert_many(objs).has_errors
            assert await col.length() == n
            query = rng.normal(size=(32, dim)).astype(np.float32)
            await col.query.near_vector(query, limit=3)  # warm (numba, caches)
            ticks = 0
            stop = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while not stop.is_set():
                    ticks += 1
                    await asyncio.sleep(0)
                    await asyncio.sleep(0.0005)

            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)
            before = ticks
            t0 = time.perf_counter()
            res = await col.query.near_vector(query, limit=10)
            elapsed = time.perf_counter() - t0
            during = ticks - before
            stop.set()
            await task
            assert len(res.objects) == 10
            assert during >= 3, (during, elapsed)

    asyncio.run(main())


@pytest.mark.parametrize("backend", ["embedded", "qdrant"])
def test_async_writes_and_batch(backend, rng):
    async def main() -> None:
        async with _open(backend) as client:
            col = await client.collections.create(
                "W", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
            )
            v = unit_rows(rng, 2, 8)
            uid = await col.data.insert({"text": "alpha", "n": 1}, vector=v)
            with pytest.raises(ObjectExistsError):
                await col.data.insert({"text": "again"}, uuid=uid, vector=v)
            await col.data.update(uid, {"n": 2})
            assert (await col.query.fetch_object_by_id(uid)).properties == {"text": "alpha", "n": 2}
            await col.data.replace(uid, {"text": "beta"}, vector=v)
            assert (await col.query.fetch_object_by_id(uid)).properties == {"text": "beta"}
            assert await col.data.exists(uid)
            async with col.batch.fixed_size(batch_size=4) as batch:
                for i in range(10):
                    await batch.add_object({"text": f"b{i}", "n": i}, vector=v)
                batch.add_object_nowait({"text": "late"}, vector=v)
                await batch.add_object({"text": "bad"}, vector=np.full((2, 8), np.nan, np.float32))
            assert len(col.batch.failed_objects) == 1
            assert await col.length() == 12
            deleted = await col.data.delete_many(Filter.by_property("n").less_than(5))
            assert deleted.successful == 5
            assert await col.data.delete_by_id(uid)
            assert await col.length() == 6
            await client.collections.delete("W")
            assert not await client.collections.exists("W")

    asyncio.run(main())


def test_cancelled_writes_are_all_or_nothing(rng, tmp_path):
    async def main() -> None:
        client = multivector.use_async(tmp_path / "store", max_workers=1)
        col = await client.collections.create(
            "C",
            vector_config=[Configure.MultiVectors.self_provided(name="mv")],
            properties=[Property(name="t", data_type=DataType.INT)],
        )
        sizes = []
        for trial in range(12):
            objs = [
                multivector.DataObject(properties={"t": trial}, vector=unit_rows(rng, 8, 32))
                for _ in range(300)
            ]
            task = asyncio.create_task(col.data.insert_many(objs))
            await asyncio.sleep(0.002 * trial)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            await client.run(lambda: None)  # the one worker is idle: any started write is done
            got = len(
                (
                    await col.query.fetch_objects(filters=Filter.by_property("t").equal(trial))
                ).objects
            )
            sizes.append(got)
            assert got in (0, 300), sizes
        await client.close()
        await client.close()  # idempotent
        reopened = multivector.connect(tmp_path / "store")
        assert len(reopened.collections.use("C")) == sum(sizes)
        reopened.close()

    asyncio.run(main())


def test_async_client_arguments_and_repr():
    with pytest.raises(ConfigError, match="max_workers"):
        multivector.use_async(max_workers=0)

    async def main() -> None:
        client = multivector.use_async()
        await client.connect()
        assert client.is_ready() and "AsyncClient" in repr(client)
        assert client.executor._max_workers == 4
        await client.close()
        assert not client.is_ready()

    asyncio.run(main())
