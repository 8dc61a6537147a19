"""int8 token storage end to end: config, search, compaction, durability, memory, Qdrant."""

from __future__ import annotations

import numpy as np
import pytest

import multivector
from multivector.api.ingest import DataObject
from multivector.config import Configure, DataType, Property, VectorConfig
from multivector.errors import ConfigError, InvalidVectorError
from multivector.kernels.quantize import dequantize_int8, quantize_int8
from multivector.query import Filter, MetadataQuery
from tests.conftest import unit_rows

META = MetadataQuery(score=True, distance=True)
DIM = 32
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def _create(client: multivector.Client, dtype: str = "int8", name: str = "Docs"):
    return client.collections.create(
        name,
        vector_config=[Configure.MultiVectors.self_provided(name="mv", dtype=dtype)],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="rank", data_type=DataType.INT),
        ],
    )


def _objects(rng: np.random.Generator, n: int) -> list[DataObject]:
    out = []
    for i in range(n):
        words = " ".join(WORDS[j] for j in rng.integers(0, len(WORDS), size=5))
        out.append(
            DataObject(
                properties={"text": f"{words} doc{i}", "rank": i},
                uuid=multivector.generate_uuid5(f"doc{i}"),
                vector={"mv": unit_rows(rng, int(rng.integers(1, 12)), DIM)},
            )
        )
    return out


def _searches(col) -> list[object]:
    q = unit_rows(np.random.default_rng(5), 6, DIM)
    results = [
        col.query.near_vector(q, target_vector="mv", limit=15, return_metadata=META),
        col.query.near_vector(
            q, limit=10, filters=Filter.by_property("rank").greater_than(20), return_metadata=META
        ),
        col.query.hybrid("gamma delta", vector=q, limit=12, return_metadata=META),
    ]
    return [[(o.uuid, o.metadata.score, o.metadata.distance) for o in r.objects] for r in results]


def _vectors(col) -> dict[str, list[list[float]]]:
    res = col.query.fetch_objects(limit=10_000, include_vector=True)
    return {o.uuid: np.asarray(o.vector["mv"]).tolist() for o in res.objects}


def test_config_accepts_int8_on_every_factory_and_round_trips():
    vec = Configure.MultiVectors.self_provided(name="mv", dtype="int8")
    assert vec.dtype == "int8"
    assert VectorConfig.from_dict(vec.to_dict()) == vec
    assert Configure.MultiVectors.text2vec_jinaai(name="j", dtype="int8").dtype == "int8"
    with pytest.raises(ConfigError, match="'int8'"):
        Configure.MultiVectors.self_provided(name="mv", dtype="int4")  # type: ignore[arg-type]


def test_int8_collection_searches_the_dequantised_vectors(client, rng):
    col = _create(client)
    objs = _objects(rng, 60)
    assert not col.data.insert_many(objs).has_errors
    arena = col.backend._arenas["mv"]
    assert arena.tokens().dtype == np.int8
    # stored values: the float16-rounded input quantised per token
    first = objs[0].vector["mv"]
    want = quantize_int8(first.astype(np.float16))
    got = col.query.fetch_object_by_id(objs[0].uuid, include_vector=True).vector["mv"]
    assert np.array_equal(np.asarray(got, np.float32), dequantize_int8(*want))
    # near_vector scores equal the exact MaxSim over the dequantised matrices
    q = unit_rows(rng, 5, DIM)
    res = col.query.near_vector(q, limit=5, return_metadata=META)
    for o in res.objects:
        m = dequantize_int8(*quantize_int8(objs[o.properties["rank"]].vector["mv"].astype("f2")))
        assert o.metadata.score == pytest.approx(float((q @ m.T).max(axis=1).sum()), rel=1e-5)
    hybrid = col.query.hybrid("alpha beta", vector=q, limit=8, return_metadata=META)
    assert 0 < len(hybrid.objects) <= 8
    assert all(o.metadata.score is not None for o in hybrid.objects)
    with pytest.raises(InvalidVectorError, match="float16 storage"):
        col.data.insert({"text": "big"}, vector={"mv": np.full((1, DIM), 1e6, np.float32)})


def test_int8_top10_agrees_with_float32_collection():
    rng = np.random.default_rng(21)  # realistic shapes: 128 dims, 8-32 tokens per document
    objs = [
        DataObject({"rank": i}, vector={"mv": unit_rows(rng, int(rng.integers(8, 33)), 128)})
        for i in range(400)
    ]
    with multivector.connect() as client:
        small, wide = _create(client, "int8", "Small"), _create(client, "float32", "Wide")
        small.data.insert_many(objs)
        wide.data.insert_many(objs)
        overlap = 0
        for _ in range(20):
            q = unit_rows(rng, 16, 128)
            a = {o.properties["rank"] for o in small.query.near_vector(q, limit=10).objects}
            b = {o.properties["rank"] for o in wide.query.near_vector(q, limit=10).objects}
            overlap += len(a & b)
        assert overlap >= 198  # top-10 agreement >= 0.99


def test_int8_memory_is_dim_plus_four_bytes_per_token(client, rng):
    col = _create(client)
    col.data.insert_many(_objects(rng, 50))
    arena = col.backend._arenas["mv"]
    n_tokens = arena.n_tokens
    assert arena.nbytes == n_tokens * (DIM + 4) + (arena.n_slots + 1) * 8
    assert col.backend.nbytes()["mv"] == arena.nbytes


def test_compaction_keeps_int8_results(client, rng):
    col = _create(client)
    objs = _objects(rng, 50)
    col.data.insert_many(objs)
    gone = [o.uuid for o in objs[::3]]
    col.data.delete_many(where=Filter.by_id().contains_any(gone))
    col.data.replace(objs[1].uuid, {"text": "replaced", "rank": 1}, vector=objs[2].vector)
    before, vectors = _searches(col), _vectors(col)
    col.compact()
    assert col.backend._arenas["mv"].n_slots == len(objs) - len(gone)
    assert _searches(col) == before
    assert _vectors(col) == vectors


@pytest.mark.parametrize("mmap_cache", [True, False])
def test_durable_reopen_is_identical(tmp_path, rng, mmap_cache):
    path = tmp_path / "store"
    objs = _objects(rng, 60)
    with multivector.connect(path, mmap_cache=mmap_cache) as client:
        col = _create(client)
        col.data.insert_many(objs[:50])
        col.data.delete_by_id(objs[4].uuid)
        before, vectors = _searches(col), _vectors(col)
        col.compact()  # a reopen installs the live slots only
        arena = col.backend._arenas["mv"]
        tokens, scales = arena.packed().tokens.copy(), arena.packed().scales.copy()
    assert any((path / "cache").rglob("s0.scales.npy")) == mmap_cache
    with multivector.connect(path, mmap_cache=mmap_cache) as client:
        col = client.collections.use("Docs")
        assert col.config.vector("mv").dtype == "int8"
        arena = col.backend._arenas["mv"]
        assert np.array_equal(arena.packed().tokens, tokens)
        assert np.array_equal(arena.packed().scales, scales)
        assert _searches(col) == before
        assert _vectors(col) == vectors
        col.data.insert_many(objs[50:])  # appends after a (maybe memory-mapped) reopen
        after = _searches(col)
    with multivector.connect(path) as client:
        assert _searches(client.collections.use("Docs")) == after


def test_int8_space_with_an_approximate_index(client, rng):
    index = Configure.VectorIndex.plaid(
        n_centroids=16, n_candidates=80, flat_search_cutoff=10, min_train_docs=100
    )
    col = client.collections.create(
        "Docs",
        vector_config=[Configure.MultiVectors.self_provided(name="mv", dtype="int8", index=index)],
    )
    exact = _create(client, "int8", "Exact")
    objs = _objects(rng, 300)
    col.data.insert_many(
        [DataObject({"rank": o.properties["rank"]}, o.uuid, o.vector) for o in objs]
    )
    exact.data.insert_many(objs)
    q = objs[7].vector["mv"]
    col.query.near_vector(q, limit=5)  # exact, and asks for training in the background
    col.backend.wait_for_index()
    assert col.backend._ann.get("mv").trained
    approx = [o.uuid for o in col.query.near_vector(q, limit=5).objects]
    assert approx[0] == objs[7].uuid
    report = col.backend.retrain_index("mv")["mv"]
    assert report.n_assigned == col.backend._arenas["mv"].n_tokens
    full = [o.uuid for o in exact.query.near_vector(q, limit=50).objects]
    assert set(approx) <= set(full)


def test_qdrant_backend_accepts_int8_and_stores_exact_values(rng):
    with multivector.connect_to_qdrant(location=":memory:") as client:
        col = _create(client)
        objs = _objects(rng, 20)
        assert not col.data.insert_many(objs).has_errors
        got = col.query.fetch_object_by_id(objs[3].uuid, include_vector=True).vector["mv"]
        assert np.allclose(np.asarray(got, np.float32), objs[3].vector["mv"], atol=1e-6)
        q = objs[3].vector["mv"]
        assert col.query.near_vector(q, limit=1).objects[0].uuid == objs[3].uuid


def test_a_reader_catches_up_with_identical_int8_bytes(tmp_path, rng):
    path = tmp_path / "store"
    objs = _objects(rng, 40)
    writer = multivector.connect(path)
    try:
        col = _create(writer)
        col.data.insert_many(objs[:20])
        with multivector.connect(path, read_only=True) as reader:
            seen = reader.collections.use("Docs")
            assert len(seen.query.fetch_objects(limit=100).objects) == 20
            col.data.insert_many(objs[20:])  # the reader applies these as a delta
            col.data.delete_by_id(objs[0].uuid)
            assert _searches(seen) == _searches(col)
            mine, theirs = col.backend._arenas["mv"], seen.backend._arenas["mv"]
            assert theirs.n_slots == mine.n_slots == 40  # appended in place, not reloaded
            for slot in range(1, 40):
                assert np.array_equal(mine.matrix(slot), theirs.matrix(slot))
    finally:
        writer.close()


def test_update_of_an_int8_space_keeps_the_stored_float16_rows(tmp_path):
    """update() carries the matrix over: SQLite keeps its float16 source rows, so after a
    reopen (which quantises from them again) nothing has lost precision twice.
    """
    rng = np.random.default_rng(11)
    objs = _objects(rng, 8)
    with multivector.connect(tmp_path / "s") as client:
        col = _create(client)
        col.data.insert_many(objs)
        for obj in objs:
            col.data.update(obj.uuid, {"rank": 100})
    import sqlite3

    con = sqlite3.connect(tmp_path / "s" / "multivector.sqlite3")
    stored = {
        u: np.frombuffer(d, dtype="<f2").reshape(n, dim)
        for u, n, dim, d in con.execute("SELECT uuid, n_tokens, dim, data FROM vectors")
    }
    con.close()
    for obj in objs:
        want = np.asarray(obj.vector["mv"], dtype=np.float16)
        assert np.array_equal(stored[str(obj.uuid)], want)  # not re-written at int8 precision
    with multivector.connect(tmp_path / "s") as client:
        col = client.collections.use("Docs")
        assert {o.properties["rank"] for o in col.query.fetch_objects().objects} == {100}
        assert client.verify().ok
