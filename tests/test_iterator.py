"""``collection.iterator()``: every object exactly once, in uuid order, with writes going on,
holding about ``cache_size`` objects (tracemalloc), on both backends.
"""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import multivector
from multivector.config import Configure
from multivector.errors import ConfigError


def _fill(client, rng, n, dim=16, tokens=8):
    col = client.collections.create(
        "It", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
    )
    for start in range(0, n, 500):
        col.data.insert_many(
            [
                multivector.DataObject(
                    {"i": i, "kind": "stable" if i % 2 == 0 else "volatile"},
                    vector=rng.normal(size=(tokens, dim)).astype(np.float32),
                )
                for i in range(start, min(n, start + 500))
            ]
        )
    return col


def test_visits_every_object_once_in_uuid_order(any_client, rng):
    col = _fill(any_client, rng, 777)
    seen = [o.uuid for o in col.iterator(cache_size=50)]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 777
    with_vec = next(iter(col.iterator(include_vector=True, return_properties=["i"])))
    assert set(with_vec.properties) == {"i"} and np.asarray(with_vec.vector["mv"]).shape == (8, 16)
    with pytest.raises(ConfigError, match="cache_size"):
        col.iterator(cache_size=0)


def _sets(col):
    flt = multivector.Filter.by_property("kind")
    stable = {o.uuid for o in col.query.fetch_objects(filters=flt.equal("stable")).objects}
    volatile = sorted(
        o.uuid for o in col.query.fetch_objects(filters=flt.equal("volatile")).objects
    )
    return stable, volatile


def test_exactly_once_with_writes_between_pages(any_client, rng):
    """Deletes, rewrites and inserts after every page (both backends)."""
    col = _fill(any_client, rng, 600)
    stable, volatile = _sets(col)
    seen: list[str] = []
    k = 0
    for page in col.iterator(cache_size=40).pages():
        seen.extend(o.uuid for o in page)
        for _ in range(5):
            k += 1
            col.data.delete_by_id(volatile[(k * 7) % len(volatile)])
            col.data.update(sorted(stable)[(k * 13) % len(stable)], {"touched": k})
            col.data.replace(
                sorted(stable)[(k * 5) % len(stable)],
                {"kind": "stable", "r": k},
                vector=rng.normal(size=(3, 16)).astype(np.float32),
            )
            col.data.insert(
                {"i": -k, "kind": "new"}, vector=rng.normal(size=(2, 16)).astype(np.float32)
            )
    assert len(seen) == len(set(seen))
    assert stable <= set(seen)
    assert seen == sorted(seen)


def test_exactly_once_while_a_writer_thread_runs(client, rng):
    """A concurrent writer thread (the embedded store; Qdrant's in-process local mode is not
    safe for reads concurrent with writes, a server is).
    """
    col = _fill(client, rng, 1200)
    stable, volatile = _sets(col)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        w = np.random.default_rng(99)
        k = 0
        try:
            while not stop.is_set():
                k += 1
                col.data.delete_by_id(volatile[k % len(volatile)])
                victim = sorted(stable)[int(w.integers(0, len(stable)))]
                col.data.update(victim, {"touched": k})  # rewrites the object (new slot)
                col.data.insert(
                    {"i": -k, "kind": "new"}, vector=w.normal(size=(2, 16)).astype(np.float32)
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[str] = []
    try:
        for obj in col.iterator(cache_size=25):
            seen.append(obj.uuid)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert len(seen) == len(set(seen))  # nothing twice, not even rewritten objects
    assert stable <= set(seen)  # every object present throughout, exactly once


def test_memory_is_about_cache_size_objects(client, rng):
    n = 3000
    col = _fill(client, rng, n, dim=32, tokens=16)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        count = sum(1 for _ in col.iterator(include_vector=True, cache_size=50))
        iter_peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        everything = col.query.fetch_objects(include_vector=True)
        all_peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert count == len(everything.objects) == n
    # 50 of 3000 objects at a time: far below holding them all (generous bound)
    assert iter_peak < all_peak / 8, (iter_peak, all_peak)
