"""Qdrant-specific behaviour: the mapping, ids, schema changes, reopening, batching and errors.

The shared behavioural suite runs every verb on both backends (``any_client``); this module checks
what only the Qdrant backend has. Servers are local stand-ins on 127.0.0.1 started here.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
import uuid as _uuid
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import unit_rows
from qdrant_client import models
from qdrant_client.http.exceptions import ResponseHandlingException

import multivector
from multivector.backends.qdrant.bm25 import SPARSE_VECTOR
from multivector.backends.qdrant.caller import QdrantCaller
from multivector.backends.qdrant.client import (
    META_COLLECTION,
    QdrantClientBackend,
    open_qdrant_client,
)
from multivector.backends.qdrant.collection import QdrantCollection
from multivector.backends.qdrant.filters import translate
from multivector.backends.qdrant.payload import point_id
from multivector.config import Configure, DataType, Property
from multivector.errors import BackendError, ConfigError
from multivector.query import Filter

SECRET = "sk-test-very-secret-key"


@pytest.fixture
def qclient() -> Iterator[multivector.Client]:
    client = multivector.connect_to_qdrant(location=":memory:")
    yield client
    client.close()


def _backend(col: multivector.Collection) -> QdrantCollection:
    backend = col.backend
    assert isinstance(backend, QdrantCollection)
    return backend


def _owner(client: multivector.Client) -> QdrantClientBackend:
    backend = client.backend
    assert isinstance(backend, QdrantClientBackend)
    return backend


def test_point_ids_keep_canonical_uuids_and_hash_other_strings() -> None:
    canonical = str(_uuid.uuid4())
    assert point_id(canonical) == canonical
    assert point_id("1") == point_id("1") != point_id("2")
    assert str(_uuid.UUID(point_id("1"))) == point_id("1")
    assert point_id(canonical.upper()) not in (canonical, canonical.upper())


def test_collection_maps_to_maxsim_named_vectors_and_idf_sparse(qclient, rng) -> None:
    col = qclient.collections.create(
        "Docs",
        vector_config=[
            Configure.MultiVectors.self_provided(name="colbert", dimension=8),
            Configure.MultiVectors.self_provided(name="other", dimension=4, dtype="float32"),
        ],
        properties=[Property(name="text", data_type=DataType.TEXT)],
    )
    col.data.insert({"text": "hello"}, uuid="1", vector={"colbert": unit_rows(rng, 3, 8)})
    owner = _owner(qclient)
    info = owner.qdrant.get_collection(_backend(col).physical_name)
    vectors = info.config.params.vectors
    assert isinstance(vectors, dict)
    for name in ("colbert", "other"):
        params = vectors[name]
        assert params.distance == models.Distance.DOT
        assert params.multivector_config is not None
        assert params.multivector_config.comparator == models.MultiVectorComparator.MAX_SIM
        assert params.hnsw_config is not None and params.hnsw_config.m == 0
    assert vectors["colbert"].datatype == models.Datatype.FLOAT16
    sparse = info.config.params.sparse_vectors
    assert sparse is not None and sparse[SPARSE_VECTOR].modifier == models.Modifier.IDF
    point = owner.qdrant.retrieve(_backend(col).physical_name, [point_id("1")], with_payload=True)[
        0
    ]
    assert point.payload is not None and point.payload["id"] == "1"
    assert point.payload["p"] == {"text": "hello"}
    assert owner.qdrant.collection_exists(META_COLLECTION)


def test_first_dimension_after_objects_migrates_and_keeps_them(qclient, rng) -> None:
    col = qclient.collections.create(
        "Late", vector_config=Configure.MultiVectors.self_provided(name="mv")
    )
    col.data.insert({"text": "no vector yet"}, uuid="a")
    before = col.query.fetch_object_by_id("a")
    assert _backend(col).physical_name == "Late"
    col.data.insert({"text": "with vector"}, uuid="b", vector=unit_rows(rng, 2, 6))
    assert _backend(col).physical_name == "Late-g1"
    assert not _owner(qclient).qdrant.collection_exists("Late")
    assert col.config.vector("mv").dimension == 6  # type: ignore[union-attr]
    assert sorted(o.uuid for o in col.query.fetch_objects().objects) == ["a", "b"]
    after = col.query.fetch_object_by_id("a")
    assert after is not None and before is not None
    assert after.metadata.creation_time == before.metadata.creation_time
    hits = col.query.near_vector(unit_rows(rng, 1, 6), limit=5).objects
    assert [o.uuid for o in hits] == ["b"]
    assert col.query.bm25("vector").objects[0].uuid in ("a", "b")


def test_reopened_store_lists_collections_and_continues(tmp_path, rng) -> None:
    client = multivector.connect_to_qdrant(path=tmp_path / "q")
    col = client.collections.create("Kept", vector_config=Configure.MultiVectors.self_provided())
    col.data.insert_many(
        [
            multivector.DataObject(
                {"text": f"doc {i} fox", "n": i}, uuid=str(i), vector=unit_rows(rng, 2, 4)
            )
            for i in range(5)
        ]
    )
    client.close()

    client = multivector.connect_to_qdrant(path=tmp_path / "q")
    try:
        configs = client.collections.list_all()
        assert list(configs) == ["Kept"]
        assert configs["Kept"].property("n") is not None  # auto-schema survived
        assert configs["Kept"].vector("default").dimension == 4  # type: ignore[union-attr]
        col = client.collections.use("Kept")
        col.data.insert({"text": "late fox", "n": 9}, uuid="late", vector=unit_rows(rng, 1, 4))
        order = [o.uuid for o in col.query.fetch_objects().objects]
        assert order == ["0", "1", "2", "3", "4", "late"]
        assert len(col.query.bm25("fox", limit=10).objects) == 6
    finally:
        client.close()


def test_dates_round_trip_with_their_offset(qclient) -> None:
    col = qclient.collections.create(
        "Dated", properties=[Property(name="when", data_type=DataType.DATE)]
    )
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    when = dt.datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=tz)
    col.data.insert({"when": when}, uuid="d")
    got = col.query.fetch_objects().objects[0].properties["when"]
    assert got == when and got.utcoffset() == when.utcoffset()
    same_instant = when.astimezone(dt.timezone.utc)
    assert [
        o.uuid
        for o in col.query.fetch_objects(
            filters=Filter.by_property("when").equal(same_instant)
        ).objects
    ] == ["d"]


def test_filter_translation_native_and_residual() -> None:
    from multivector.config import CollectionConfig

    config = CollectionConfig(
        name="F",
        properties=(
            Property(name="text", data_type=DataType.TEXT),
            Property(name="n", data_type=DataType.INT),
            Property(name="meta", data_type=DataType.OBJECT),
        ),
    )
    native, residual = translate(Filter.by_property("meta", path=["page number"]).equal(3), config)
    assert residual is None and native is not None
    assert "'p.meta.\"page number\"'" in repr(native)
    like = Filter.by_property("text").like("a*")
    native, residual = translate(Filter.by_property("n").greater_than(1) & like, config)
    assert residual == like and native is not None and "'p.n'" in repr(native)
    native, residual = translate(like | Filter.by_property("n").equal(1), config)
    assert native is None and residual is not None
    native, residual = translate(Filter.by_property("meta", path=['say "hi"']).equal(1), config)
    assert native is None and residual is not None
    native, residual = translate(Filter.by_id().equal("1"), config)
    assert residual is None and point_id("1") in repr(native)  # type: ignore[union-attr]


def test_large_imports_go_in_bounded_requests_with_retries(rng) -> None:
    backend = open_qdrant_client(location=":memory:", upsert_batch_size=16)
    client = multivector.Client(backend)
    col = client.collections.create("Big", vector_config=Configure.MultiVectors.self_provided())
    sizes: list[int] = []
    real_upsert = backend.qdrant.upsert
    failures = iter([True])  # the first data request fails once, transiently

    def flaky_upsert(name: str, points: list[models.PointStruct], **kwargs: object) -> object:
        if name != META_COLLECTION:
            if next(failures, False):
                raise ResponseHandlingException(ConnectionError("connection reset"))
            sizes.append(len(points))
        return real_upsert(name, points, **kwargs)

    backend.qdrant.upsert = flaky_upsert  # type: ignore[method-assign]
    backend.caller.backoff = 0.0
    objects = [
        multivector.DataObject({"text": f"t{i}"}, uuid=str(i), vector=unit_rows(rng, 2, 4))
        for i in range(100)
    ]
    result = col.data.insert_many(objects)
    assert not result.has_errors and len(col) == 100
    assert max(sizes) <= 16 and sum(sizes) == 100
    client.close()


def test_a_persistent_backend_failure_is_a_clear_error_without_the_key(rng) -> None:
    backend = open_qdrant_client(location=":memory:", max_retries=1)
    backend.caller.secret = SECRET  # as if the key had been given for a server
    backend.caller.backoff = 0.0
    client = multivector.Client(backend)
    col = client.collections.create("Down", vector_config=Configure.MultiVectors.self_provided())

    real_upsert = backend.qdrant.upsert

    def down(name: str, *args: object, **kwargs: object) -> object:
        if name == META_COLLECTION:
            return real_upsert(name, *args, **kwargs)
        raise ResponseHandlingException(ConnectionError(f"refused (token {SECRET})"))

    backend.qdrant.upsert = down  # type: ignore[method-assign]
    with pytest.raises(BackendError) as info:
        col.data.insert({"text": "x"}, vector=unit_rows(rng, 1, 4))
    message = str(info.value)
    assert "after 1 retries" in message and "upsert" in message
    assert SECRET not in message and "***" in message
    client.close()


class _FakeQdrant(http.server.BaseHTTPRequestHandler):
    mode = "old"
    release = threading.Event()

    def do_GET(self) -> None:
        if self.mode == "slow":
            self.release.wait(10)
        if self.mode == "unauthorized":
            body, status = b'{"status": {"error": "Must provide an API key"}}', 401
        else:
            body, status = json.dumps({"title": "qdrant", "version": "1.5.2"}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def fake_server() -> Iterator[tuple[str, type[_FakeQdrant]]]:
    handler = type("Handler", (_FakeQdrant,), {"release": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    handler.release.set()
    server.shutdown()
    server.server_close()


def _connect(url: str, **options: object) -> multivector.Client:
    with pytest.warns(UserWarning, match="insecure"):
        return multivector.connect_to_qdrant(url=url, api_key=SECRET, max_retries=0, **options)


def test_a_too_old_server_is_refused_with_the_version(fake_server) -> None:
    url, handler = fake_server
    handler.mode = "old"
    with pytest.raises(BackendError, match=r"1\.5\.2.*too old.*>= 1\.10"):
        _connect(url)


def test_unauthorised_and_timeouts_name_the_fix_not_the_key(fake_server) -> None:
    url, handler = fake_server
    handler.mode = "unauthorized"
    with pytest.raises(BackendError, match="api_key") as info:
        _connect(url)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    handler.mode = "slow"
    with pytest.raises(BackendError, match="did not answer in time") as info:
        _connect(url, timeout=1)
    assert SECRET not in str(info.value)


def test_an_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendError, match="could not reach") as info:
        _connect(f"http://user:pw@127.0.0.1:{port}/?api_key={SECRET}")
    assert SECRET not in str(info.value) and "pw@" not in str(info.value)


def test_connect_arguments_and_backup_are_checked(qclient) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        multivector.connect_to_qdrant(url="http://127.0.0.1:1", location=":memory:")
    with pytest.raises(ConfigError, match="exactly one"):
        multivector.connect_to_qdrant()
    with pytest.raises(ConfigError, match="snapshot"):
        qclient.backup("/nonexistent/backup")
    assert "qdrant" in repr(qclient) and SECRET not in repr(qclient)


def test_caller_retries_transient_errors_only() -> None:
    caller = QdrantCaller(where="test", max_retries=2, backoff=0.0)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ResponseHandlingException(TimeoutError("timed out"))
        return "ok"

    assert caller.call("flaky", flaky) == "ok" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise ValueError("Collection X not found")

    calls.clear()
    with pytest.raises(BackendError, match="Collection X not found"):
        caller.call("broken", broken)
    assert len(calls) == 1


def test_keyword_only_and_vector_only_objects(qclient, rng) -> None:
    col = qclient.collections.create(
        "Mixed",
        vector_config=Configure.MultiVectors.self_provided(name="mv", dimension=4),
        properties=[Property(name="text", data_type=DataType.TEXT)],
    )
    col.data.insert({"text": "only words here"}, uuid="w")
    col.data.insert({}, uuid="v", vector=unit_rows(rng, 2, 4))
    assert [o.uuid for o in col.query.near_vector(unit_rows(rng, 1, 4), limit=5).objects] == ["v"]
    assert [o.uuid for o in col.query.bm25("words").objects] == ["w"]
    assert col.data.delete_by_id("w") and not col.data.delete_by_id("w")
    assert col.query.bm25("words").objects == []
    assert _owner(qclient).describe()["backend"] == "qdrant"
    assert np.isfinite(len(col))


def test_native_hybrid_fuses_in_qdrant(qclient, rng) -> None:
    from multivector.backends.qdrant.native import native_hybrid

    col = qclient.collections.create(
        "Native", vector_config=Configure.MultiVectors.self_provided(name="mv", dimension=4)
    )
    mats = {str(i): unit_rows(rng, 3, 4) for i in range(6)}
    col.data.insert_many(
        [
            multivector.DataObject({"text": f"fox {i}" if i < 3 else "dog"}, u, m)
            for i, (u, m) in enumerate(mats.items())
        ]
    )
    q = mats["4"]
    for fusion in ("rrf", "dbsf"):
        hits = native_hybrid(col, "fox", vector=q, fusion=fusion, limit=6)  # type: ignore[arg-type]
        ids = [h.uuid for h in hits]
        assert len(ids) == 6 and set(ids) == set(mats)
        assert ids[0] == "4" or ids[0] in ("0", "1", "2")
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    only = native_hybrid(col, "fox", vector=q, filters=Filter.by_property("text").like("fox*"))
    assert {h.uuid for h in only} == {"0", "1", "2"}
    with pytest.raises(ConfigError, match="rrf"):
        native_hybrid(col, "fox", vector=q, fusion="max")  # type: ignore[arg-type]
    embedded = multivector.connect()
    other = embedded.collections.create("E", vector_config=Configure.MultiVectors.self_provided())
    with pytest.raises(ConfigError, match="Qdrant backend"):
        native_hybrid(other, "fox", vector=q)
    embedded.close()


def test_hnsw_index_config_runs_on_qdrant_and_is_refused_by_embedded():
    import numpy as np

    import multivector
    from multivector.config import Configure
    from multivector.errors import ConfigError

    index = Configure.VectorIndex.hnsw(m=8, ef_construct=64)
    q = multivector.connect_to_qdrant(location=":memory:")
    col = q.collections.create(
        "Hnsw", vector_config=Configure.MultiVectors.self_provided(name="v", index=index)
    )
    col.data.insert({"a": "x"}, uuid="one", vector=np.ones((2, 4)) / 2)
    assert [o.uuid for o in col.query.near_vector(np.ones((1, 4)) / 2).objects] == ["one"]
    with pytest.raises(ConfigError, match="hnsw"):
        multivector.connect().collections.create(
            "Hnsw", vector_config=Configure.MultiVectors.self_provided(name="v", index=index)
        )
    with pytest.raises(ConfigError, match="m=0"):
        Configure.VectorIndex.hnsw(m=0)
