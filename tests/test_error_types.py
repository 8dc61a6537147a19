"""Errors keep their type and cause through every layer; a bad object fails alone in a batch;
every input problem is a library error naming the value and the fix.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid as _uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

import multivector
from multivector import Configure, DataObject, DataType, Filter, Property
from multivector.embeddings import JinaEmbeddings
from multivector.errors import (
    AuthenticationError,
    BackendError,
    ConfigError,
    EmbeddingError,
    EmbeddingTimeout,
    InvalidObjectError,
    InvalidVectorError,
    MultiVectorError,
    ObjectExistsError,
    RateLimitError,
)
from multivector.schema.object_values import MAX_OBJECT_DEPTH
from multivector.testing import Fault, JinaStandIn

KEY = "jina_error_types_key"
M = np.eye(2, 4, dtype=np.float32)


@pytest.fixture
def server() -> Iterator[JinaStandIn]:
    with JinaStandIn(api_key=KEY) as stand_in:
        yield stand_in


def _jina_collection(client: multivector.Client, server: JinaStandIn) -> multivector.Collection:
    return client.collections.create(
        "Docs",
        properties=[Property(name="text", data_type=DataType.TEXT)],
        vector_config=Configure.MultiVectors.text2vec_jinaai(base_url=server.base_url),
    )


class _RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.calls.append(seconds)


def _custom_jina(client: multivector.Client, server: JinaStandIn) -> multivector.Collection:
    """A ``text2vec`` space over a JinaEmbeddings whose retry waits are recorded, not slept."""
    sleep = _RecordingSleep()
    embedder = JinaEmbeddings(
        KEY, base_url=server.base_url, max_retries=2, sleep=sleep, async_sleep=sleep.asleep
    )
    return client.collections.create(
        "Custom", vector_config=Configure.MultiVectors.text2vec(embedder=embedder)
    )


# ------------------------------------------------------------ embedder errors keep their type
def test_authentication_error_reaches_insert_as_itself(server: JinaStandIn) -> None:
    client = multivector.connect(headers={"X-JinaAI-Api-Key": "not-the-key"})
    col = _jina_collection(client, server)
    with pytest.raises(AuthenticationError, match="rejected the API key") as info:
        col.data.insert({"text": "solar panels"})
    assert not isinstance(info.value, InvalidObjectError)
    with pytest.raises(AuthenticationError):
        asyncio.run(col.data.ainsert({"text": "solar panels"}))
    assert len(col) == 0
    client.close()


def test_rate_limit_error_keeps_retry_after_through_insert_and_insert_many(
    server: JinaStandIn,
) -> None:
    client = multivector.connect()
    col = _custom_jina(client, server)
    server.inject(*[Fault.rate_limited(retry_after=7)] * 3)
    with pytest.raises(RateLimitError) as info:
        col.data.insert({"text": "wind turbines"})
    assert info.value.retry_after == 7.0

    server.inject(*[Fault.rate_limited(retry_after=3)] * 3)
    result = col.data.insert_many([{"text": "a"}, {"text": "b"}])
    assert sorted(result.errors) == [0, 1] and not result.uuids
    errors = [failure.error for failure in result.errors.values()]
    assert all(isinstance(e, RateLimitError) and e.retry_after == 3.0 for e in errors)
    assert errors[0] is errors[1]  # one failed request, one error, reported for both objects
    assert "rate limited" in result.errors[0].message
    client.close()


def test_embedding_timeout_keeps_its_transport_cause_in_insert_and_batch(
    server: JinaStandIn,
) -> None:
    client = multivector.connect(headers={"X-JinaAI-Api-Key": KEY}, embedder_timeout=0.3)
    col = _jina_collection(client, server)
    server.inject(*[Fault.slow(3.0)] * 10)
    with pytest.raises(EmbeddingTimeout) as info:
        col.data.insert({"text": "slow"})
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    with col.batch.fixed_size(10) as batch:
        batch.add_object({"text": "one"})
        batch.add_object({"text": "two"}, vector=M @ np.ones((4, 128), np.float32))
    failures = col.batch.failed_objects
    assert [f.index for f in failures] == [0]  # the object with its own matrix is stored
    assert isinstance(failures[0].error, EmbeddingTimeout)
    assert isinstance(failures[0].error.__cause__, httpx.TimeoutException)
    assert len(col) == 1
    client.close()


class _BrokenModel:
    def embed_documents(self, texts: list[str]) -> list[np.ndarray]:
        raise RuntimeError("CUDA out of memory")

    def embed_query(self, text: str) -> np.ndarray:
        raise RuntimeError("CUDA out of memory")


def test_a_foreign_embedder_exception_becomes_embedding_error_with_its_cause() -> None:
    client = multivector.connect()
    col = client.collections.create(
        "Docs", vector_config=Configure.MultiVectors.text2vec(embedder=_BrokenModel())
    )
    with pytest.raises(EmbeddingError, match="CUDA out of memory") as info:
        col.data.insert({"text": "x"})
    assert isinstance(info.value.__cause__, RuntimeError)
    result = col.data.insert_many([{"text": "x"}])
    assert isinstance(result.errors[0].error, EmbeddingError)
    assert isinstance(result.errors[0].error.__cause__, RuntimeError)
    client.close()


# ------------------------------------------------------------ a bad object fails alone
@pytest.mark.parametrize("bad", [5, "", "a\x00b", "ab\ud800"])
def test_a_bad_uuid_fails_alone_with_its_own_index_and_uuid(any_client, bad) -> None:
    col = any_client.collections.create(
        "Docs", vector_config=Configure.MultiVectors.self_provided()
    )
    for position in (0, 1):
        objects = [DataObject({"text": f"good {i}"}, f"good-{position}-{i}", M) for i in range(3)]
        objects[position] = DataObject({"text": "bad"}, bad, M)
        result = col.data.insert_many(objects)
        assert sorted(result.errors) == [position]
        failure = result.errors[position]
        assert failure.index == position
        assert failure.uuid == (bad if isinstance(bad, str) else None)
        assert f"object #{position}" in failure.message and repr(bad) in failure.message
        assert isinstance(failure.error, InvalidObjectError)
        assert sorted(result.uuids) == sorted({0, 1, 2} - {position})
        for i, uid in result.uuids.items():
            assert uid == f"good-{position}-{i}"  # each object reports its own uuid
    assert len(col) == 4


def test_a_property_differing_only_in_case_fails_alone(any_client) -> None:
    col = any_client.collections.create(
        "Docs",
        properties=[Property(name="text", data_type=DataType.TEXT)],
        vector_config=Configure.MultiVectors.self_provided(),
    )
    with col.batch.fixed_size(batch_size=10) as batch:
        batch.add_object({"text": "good one"}, vector=M)
        batch.add_object({"TEXT": "shouting"}, vector=M)
        batch.add_object({"text": "good two"}, vector=M)
        batch.add_object({"Note": "a", "note": "b"}, vector=M)
    failures = col.batch.failed_objects
    assert [f.index for f in failures] == [1, 3]
    assert "'TEXT'" in failures[0].message and "'text'" in failures[0].message
    assert "'Note'" in failures[1].message and "'note'" in failures[1].message
    assert all(isinstance(f.error, InvalidObjectError) for f in failures)
    assert len(col) == 2
    assert [p.name for p in col.config.properties] == ["text"]
    with pytest.raises(InvalidObjectError, match="differs only in case"):
        col.data.insert({"TEXT": "x"}, vector=M)


def test_auto_schema_conflicts_between_objects_fail_only_the_later_one(client) -> None:
    col = client.collections.create("Docs", vector_config=Configure.MultiVectors.self_provided())
    result = col.data.insert_many(
        [DataObject({"title": "a"}, None, M), DataObject({"Title": "b"}, None, M)]
    )
    assert sorted(result.errors) == [1] and sorted(result.uuids) == [0]
    assert "'title'" in result.errors[1].message


# ------------------------------------------------------------ every input problem is ours
def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_object_nesting_has_a_documented_limit(client) -> None:
    col = client.collections.create(
        "Docs",
        properties=[Property(name="meta", data_type=DataType.OBJECT)],
        vector_config=Configure.MultiVectors.self_provided(),
    )
    assert MAX_OBJECT_DEPTH == 32
    uid = col.data.insert({"meta": _nested(MAX_OBJECT_DEPTH)}, vector=M)
    stored = col.query.fetch_object_by_id(uid)
    assert stored is not None and stored.properties["meta"] == _nested(MAX_OBJECT_DEPTH)
    for depth in (MAX_OBJECT_DEPTH + 1, 5000):
        with pytest.raises(InvalidObjectError, match="deeper than 32 levels"):
            col.data.insert({"meta": _nested(depth)}, vector=M)
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(InvalidObjectError, match="deeper than 32"):
        col.data.insert({"meta": cycle}, vector=M)
    deep_list: Any = [1]
    for _ in range(5000):
        deep_list = [deep_list]
    with pytest.raises(InvalidObjectError, match="deeper than 32"):
        col.data.insert({"auto": deep_list}, vector=M)  # auto-schema infers OBJECT first
    with pytest.raises(InvalidObjectError, match="finite"):
        col.data.insert({"meta": {"x": float("nan")}}, vector=M)
    with pytest.raises(InvalidObjectError, match="not JSON-serialisable"):
        col.data.insert({"meta": {"x": object()}}, vector=M)
    assert len(col) == 1


@pytest.mark.parametrize("name", ["Docs\n", "Do\x00cs", "Docs\t", "D\x7focs"])
def test_collection_names_with_control_characters_are_config_errors(client, name) -> None:
    with pytest.raises(ConfigError, match="invalid collection name"):
        client.collections.create(name)


def test_property_vector_and_key_names_with_control_characters_are_refused(client) -> None:
    with pytest.raises(ConfigError, match="invalid property name"):
        Property(name="text\n", data_type=DataType.TEXT)
    with pytest.raises(ConfigError, match="invalid property name"):
        Configure.MultiVectors.self_provided(name="mv\n")
    col = client.collections.create("Docs", vector_config=Configure.MultiVectors.self_provided())
    with pytest.raises(InvalidObjectError, match="invalid property name"):
        col.data.insert({"title\n": "x"}, vector=M)
    with pytest.raises(InvalidObjectError, match="control character"):
        col.data.insert({"meta": {"page\x01": 1}}, vector=M)
    with pytest.raises(InvalidObjectError, match="control character"):
        col.data.insert({"meta": [{"ok": {"bad\n": 1}}]}, vector=M)
    assert col.data.insert({"meta": {"page 1": "line\nbreaks in values are text"}}, vector=M)


@pytest.mark.parametrize(
    ("matrix", "dtype"),
    [
        (np.ones((2, 4), dtype=complex), "complex128"),
        (np.array([["1", "2", "3", "4"]]), "str"),
        (np.ones((2, 4), dtype=bool), "bool"),
        ([[True, False, True, False]], "bool"),
        (np.array([[1.0, 2.0, 3.0, 4.0]], dtype=object), "object"),
        ([[1.0, None, 3.0, 4.0]], "object"),
        (np.array([[dt.datetime(2024, 1, 1)] * 4], dtype="datetime64[s]"), "datetime64"),
        ([[b"a", b"b", b"c", b"d"]], "bytes"),
    ],
)
def test_non_numeric_matrices_are_invalid_vector_errors_naming_the_dtype(
    any_client, matrix, dtype
) -> None:
    col = any_client.collections.create(
        "Docs", vector_config=Configure.MultiVectors.self_provided()
    )
    with pytest.raises(InvalidVectorError, match=f"dtype '{dtype}") as info:
        col.data.insert({"text": "x"}, vector=matrix)
    assert "real numbers" in str(info.value)
    with pytest.raises(InvalidVectorError, match="dtype"):
        col.query.near_vector(matrix)
    assert col.data.insert({"text": "ints are numbers"}, vector=np.ones((2, 4), dtype=np.int64))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "0.5", True])
def test_non_finite_distances_and_alpha_are_config_errors(any_client, bad) -> None:
    col = any_client.collections.create(
        "Docs", vector_config=Configure.MultiVectors.self_provided()
    )
    col.data.insert({"text": "solar"}, vector=M)
    with pytest.raises(ConfigError, match="distance"):
        col.query.near_vector(M, distance=bad)
    with pytest.raises(ConfigError, match="max_vector_distance"):
        col.query.hybrid("solar", vector=M, max_vector_distance=bad)
    with pytest.raises(ConfigError, match="alpha"):
        col.query.hybrid("solar", vector=M, alpha=bad)
    assert col.query.near_vector(M, distance=-0.5).objects  # a real, negative cutoff is fine


def test_canonical_uuids_are_case_insensitive_other_ids_are_not(any_client) -> None:
    col = any_client.collections.create(
        "Docs", vector_config=Configure.MultiVectors.self_provided()
    )
    upper = "ABCDEF00-0000-4000-8000-0000000000AB"
    lower = upper.lower()
    assert col.data.insert({"text": "x"}, uuid=upper, vector=M) == lower
    assert col.data.exists(lower) and col.data.exists(upper)
    assert col.data.exists(_uuid.UUID(upper))
    found = col.query.fetch_object_by_id(upper)
    assert found is not None and str(found.uuid) == lower
    with pytest.raises(ObjectExistsError):
        col.data.insert({"text": "again"}, uuid=lower, vector=M)
    col.data.update(upper, {"text": "updated"})
    hits = col.query.fetch_objects(filters=Filter.by_id().equal(upper)).objects
    assert [str(o.uuid) for o in hits] == [lower]
    hits = col.query.fetch_objects(filters=Filter.by_id().contains_any([upper])).objects
    assert [str(o.uuid) for o in hits] == [lower]
    # arbitrary string ids (LangChain, LlamaIndex) stay exactly as given
    col.data.insert({"text": "a"}, uuid="Doc-A", vector=M)
    col.data.insert({"text": "b"}, uuid="doc-a", vector=M)
    assert col.data.exists("Doc-A") and col.data.exists("doc-a") and len(col) == 3
    hexed = _uuid.UUID(upper).hex.upper()  # not the canonical form: an id as given
    assert col.data.insert({"text": "h"}, uuid=hexed, vector=M) == hexed
    assert col.data.delete_by_id(upper) and not col.data.exists(lower)


def test_connect_arguments_are_library_errors() -> None:
    with pytest.raises(ConfigError, match="embedder_timeout"):
        multivector.connect(embedder_timeout=0)
    with pytest.raises(ConfigError, match="embedder_timeout"):
        multivector.connect(embedder_timeout=float("nan"))
    with pytest.raises(ConfigError, match="headers"):
        multivector.connect(headers=["X-JinaAI-Api-Key"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected options"):
        multivector.connect(read_only=True)
    with pytest.raises(ConfigError, match="max_retries"):
        multivector.connect_to_qdrant(location=":memory:", max_retries="3")


# ------------------------------------------------------------ Qdrant keeps the cause
def test_qdrant_errors_keep_their_cause(rng) -> None:
    from qdrant_client.http.exceptions import ResponseHandlingException

    client = multivector.connect_to_qdrant(location=":memory:", max_retries=0)
    col = client.collections.create("Docs", vector_config=Configure.MultiVectors.self_provided())
    backend = client.backend
    real = backend.qdrant.upsert  # type: ignore[attr-defined]

    def down(name: str, *args: object, **kwargs: object) -> object:
        if name != "Docs":
            return real(name, *args, **kwargs)
        raise ResponseHandlingException(ConnectionError("refused"))

    backend.qdrant.upsert = down  # type: ignore[attr-defined]
    with pytest.raises(BackendError, match=r"could not reach|refused") as info:
        col.data.insert({"text": "x"}, vector=M)
    cause = info.value.__cause__
    assert isinstance(cause, ResponseHandlingException)
    assert isinstance(cause.source, ConnectionError)
    client.close()


# ------------------------------------------------------------ a hung provider, bounded
def test_a_hung_embedding_server_fails_near_text_within_embedder_timeout(
    server: JinaStandIn,
) -> None:
    client = multivector.connect(headers={"X-JinaAI-Api-Key": KEY}, embedder_timeout=0.5)
    col = _jina_collection(client, server)
    col.data.insert({"text": "solar panels on the roof"})
    embedder = col.embedder("default")
    assert isinstance(embedder, JinaEmbeddings)
    assert embedder.settings.total_timeout == 0.5 and embedder.settings.timeout == 0.5
    server.inject(*[Fault.slow(30.0)] * 10)  # hangs far longer than any retry schedule
    started = time.monotonic()
    with pytest.raises(EmbeddingTimeout, match=r"total_timeout of 0\.5s") as info:
        col.query.near_text("solar")
    assert time.monotonic() - started < 10  # generous bound: the deadline, not 6 x 30 s
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    with pytest.raises(EmbeddingTimeout):
        asyncio.run(col.query.anear_text("solar"))
    client.close()


def test_default_embedder_timeout_bounds_a_request_to_30_seconds(server: JinaStandIn) -> None:
    client = multivector.connect(headers={"X-JinaAI-Api-Key": KEY})
    col = _jina_collection(client, server)
    embedder = col.embedder("default")
    assert isinstance(embedder, JinaEmbeddings)
    assert embedder.settings.total_timeout == 30.0 and embedder.settings.timeout <= 30.0
    client.close()
    unbounded = multivector.connect(headers={"X-JinaAI-Api-Key": KEY}, embedder_timeout=None)
    col = _jina_collection(unbounded, server)
    embedder = col.embedder("default")
    assert isinstance(embedder, JinaEmbeddings) and embedder.settings.total_timeout is None
    unbounded.close()
    on_qdrant = multivector.connect_to_qdrant(
        location=":memory:", headers={"X-JinaAI-Api-Key": KEY}, embedder_timeout=2.0
    )
    col = _jina_collection(on_qdrant, server)
    embedder = col.embedder("default")
    assert isinstance(embedder, JinaEmbeddings) and embedder.settings.total_timeout == 2.0
    on_qdrant.close()


def test_retry_waits_stop_at_the_total_timeout(server: JinaStandIn) -> None:
    sleep = _RecordingSleep()
    client = JinaEmbeddings(
        KEY,
        base_url=server.base_url,
        max_retries=5,
        total_timeout=5.0,
        sleep=sleep,
        monotonic=lambda: sum(sleep.calls),  # time passes only while "sleeping"
    )
    server.inject(*[Fault.rate_limited(retry_after=4)] * 6)
    with pytest.raises(RateLimitError, match=r"total_timeout of 5s") as info:
        client.embed_query("x")
    assert info.value.retry_after == 4.0
    assert sleep.calls == [4.0]  # a second 4 s wait would end past the deadline: give up now
    assert len(server.requests) == 2
    client.close()


# ------------------------------------------------------------ close
def test_close_closes_built_embedders_and_later_calls_raise(server: JinaStandIn) -> None:
    client = multivector.connect(headers={"X-JinaAI-Api-Key": KEY})
    col = _jina_collection(client, server)
    col.data.insert({"text": "solar"})
    embedder = col.embedder("default")
    assert isinstance(embedder, JinaEmbeddings) and embedder._client is not None
    asyncio.run(col.query.anear_text("solar"))
    client.close()
    assert embedder._client is None and embedder._aclient is None  # pools closed
    assert not client.is_ready()
    with pytest.raises(MultiVectorError, match="closed"):
        client.collections.list_all()
    with pytest.raises(MultiVectorError, match="closed"):
        col.embedder("default")
    server.reset()
    with pytest.raises(MultiVectorError):
        col.query.near_text("solar")
    assert server.requests == []  # a closed client sends nothing
    client.close()  # idempotent


def test_aclose_awaits_the_async_pools(server: JinaStandIn) -> None:
    async def run() -> JinaEmbeddings:
        client = multivector.connect(headers={"X-JinaAI-Api-Key": KEY})
        col = _jina_collection(client, server)
        await col.data.ainsert({"text": "solar"})
        embedder = col.embedder("default")
        assert isinstance(embedder, JinaEmbeddings) and embedder._aclient is not None
        pool = embedder._aclient
        await client.aclose()
        assert pool.is_closed and not client.is_ready()
        return embedder

    embedder = asyncio.run(run())
    assert embedder._aclient is None and embedder._client is None


def test_validation_detail_is_json_and_kept(server: JinaStandIn) -> None:
    detail = [{"loc": ["body", "dimensions"], "msg": "unsupported", "type": "value_error"}]
    server.inject(Fault(422, body=json.dumps({"detail": detail}).encode()))
    client = multivector.connect()
    col = _custom_jina(client, server)
    with pytest.raises(multivector.errors.EmbeddingValidationError) as info:
        col.data.insert({"text": "x"})
    assert info.value.detail == detail
    client.close()


def test_deep_filters_and_bad_return_arguments_are_library_errors(any_client) -> None:
    col = any_client.collections.create(
        "Docs", vector_config=Configure.MultiVectors.self_provided()
    )
    col.data.insert({"n": 1}, vector=M)
    shallow_enough = Filter.by_property("n").equal(1)
    for _ in range(63):
        shallow_enough = Filter.all_of([shallow_enough])
    assert len(col.query.fetch_objects(filters=shallow_enough).objects) == 1
    deep = shallow_enough
    for _ in range(3000):
        deep = Filter.all_of([deep])
    with pytest.raises(multivector.errors.FilterError, match="deeper than 64"):
        col.query.fetch_objects(filters=deep)
    with pytest.raises(ConfigError, match="return_properties"):
        col.query.fetch_objects(return_properties=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="include_vector"):
        col.query.near_vector(M, include_vector=[1])  # type: ignore[list-item]
