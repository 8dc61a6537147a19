# ruff: noqa: F811  (pytest fixtures are imported from jina_fixtures and requested by name)
"""JinaEmbeddings against the local stand-in server (127.0.0.1) and httpx.MockTransport.

No real network, no real sleeping between retries (sleeps are recorded), no timed assertions.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import socket
import threading
import traceback

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jina_fixtures import SECRET, FakeSleep, fake_sleep, make_client, standin  # noqa: F401

import multivector.embeddings as embeddings_pkg
from multivector._types import AsyncMultiVectorEmbedder, MultiVectorEmbedder
from multivector.embeddings import JinaEmbeddings
from multivector.embeddings import _jina_core as core
from multivector.embeddings import _jina_retry as retry
from multivector.errors import (
    AuthenticationError,
    ConfigError,
    EmbeddingError,
    EmbeddingServerError,
    EmbeddingTimeout,
    EmbeddingValidationError,
    RateLimitError,
)
from multivector.testing import Fault, JinaStandIn, standin_matrix

DOCS = [
    "Weaviate is a vector database that is great for AI app builders.",
    "PyTorch is a deep learning framework that is great for AI model builders.",
    "For people building AI driven products, Weaviate is a good database for their tech stack.",
    "short",
    "",
]


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request to {request.url}")


def _mock(
    payload: object, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.MockTransport:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.MockTransport(
        lambda request: httpx.Response(status, content=body, headers=headers)
    )


def _mock_client(transport: httpx.MockTransport, **kw: object) -> JinaEmbeddings:
    return JinaEmbeddings(
        SECRET,
        transport=transport,
        async_transport=transport,
        sleep=FakeSleep(),
        rng=random.Random(0),
        **kw,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------- shapes and order
@pytest.mark.parametrize("dims", [128, 96, 64])
def test_shapes_follow_token_counts(make_client, dims):
    out = make_client(dimensions=dims).embed_documents(DOCS)
    assert len(out) == len(DOCS)
    for text, matrix in zip(DOCS, out):
        n_words = len(text.replace(".", " .").replace(",", " ,").split())
        assert matrix.shape == (n_words + 2, dims)
        assert matrix.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)


def test_matrices_match_standin_reference_in_input_order(make_client, standin):
    texts = [f"document number {i} about topic {i % 7}" for i in range(40)]
    out = make_client(batch_size=7).embed_documents(texts)
    for text, matrix in zip(texts, out):
        np.testing.assert_allclose(matrix, standin_matrix(text), atol=1e-5)
    assert len(standin.requests) == 6  # ceil(40 / 7)


def test_query_uses_query_encoding_and_32_token_cap(make_client, standin):
    long_query = " ".join(f"w{i}" for i in range(100))
    q = make_client().embed_query(long_query)
    assert q.shape == (32, 128)
    body = standin.requests[-1].body
    assert body["input_type"] == "query" and body["input"] == [long_query]
    assert body["model"] == "jina-colbert-v2" and body["embedding_type"] == "float"
    np.testing.assert_allclose(
        q, standin_matrix(long_query, input_type="query", limit=32), atol=1e-5
    )
    assert not np.allclose(q[1], standin_matrix(long_query)[1], atol=1e-3)  # documents differ


def test_out_of_order_index_is_placed_by_index():
    rows = {i: np.full((i + 1, 64), float(i + 1), dtype=np.float32).tolist() for i in range(3)}
    payload = {
        "data": [{"index": i, "embeddings": rows[i]} for i in (2, 0, 1)],
        "usage": {"total_tokens": 6},
    }
    out = _mock_client(_mock(payload), dimensions=64).embed_documents(["a", "b", "c"])
    assert [m.shape for m in out] == [(1, 64), (2, 64), (3, 64)]
    assert [float(m[0, 0]) for m in out] == [1.0, 2.0, 3.0]


def test_standin_really_shuffles_and_client_restores_order(make_client, standin):
    texts = [f"text {i}" + " pad" * i for i in range(12)]
    raw = httpx.post(
        f"{standin.base_url}/v1/multi-vector",
        json={
            "model": "jina-colbert-v2",
            "input": texts,
            "input_type": "document",
            "dimensions": 64,
        },
        headers={"Authorization": f"Bearer {SECRET}"},
    ).json()
    assert [d["index"] for d in raw["data"]] != list(range(12))
    assert raw["usage"]["total_tokens"] == sum(len(t.split()) + 2 for t in texts)
    out = make_client(dimensions=64).embed_documents(texts)
    assert [m.shape[0] for m in out] == [len(t.split()) + 2 for t in texts]


def test_retrieval_over_standin_ranks_the_matching_document_first(make_client):
    client = make_client()
    docs = client.embed_documents(DOCS[:3])
    q = client.embed_query("a good database for AI app builders")
    scores = [float((q @ d.T).max(axis=1).sum()) for d in docs]
    assert int(np.argmax(scores)) == 0


def test_jina_embeddings_v4_uses_embeddings_endpoint(make_client, standin):
    client = make_client(model="jina-embeddings-v4")
    docs = client.embed_documents(["late interaction retrieval"])
    q = client.embed_query("retrieval")
    assert docs[0].shape == (5, 128) and q.shape == (3, 128)
    first, second = standin.requests
    assert first.path == second.path == "/v1/embeddings"
    assert first.body["task"] == "retrieval.passage" and second.body["task"] == "retrieval.query"
    assert first.body["return_multivector"] is True and first.body["input"] == [
        {"text": "late interaction retrieval"}
    ]


def test_empty_input_makes_no_request(make_client, standin):
    assert make_client().embed_documents([]) == []
    assert standin.requests == []


def test_implements_both_protocols(make_client):
    client = make_client()
    assert isinstance(client, MultiVectorEmbedder) and isinstance(client, AsyncMultiVectorEmbedder)


# ------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"dimensions": 100}, "dimensions=100"),
        ({"model": "jina-embeddings-v4", "dimensions": 64}, "dimensions=64"),
        ({"model": "colbert-xl"}, "colbert-xl"),
        ({"batch_size": 513}, "batch_size=513"),
        ({"max_concurrency": 0}, "max_concurrency=0"),
        ({"timeout": -1}, "timeout=-1"),
        ({"base_url": "api.jina.ai"}, "base_url"),
    ],
)
def test_bad_configuration_raises_config_error(kwargs, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        JinaEmbeddings(SECRET, transport=httpx.MockTransport(_no_network), **kwargs)


def test_bad_texts_raise_config_error_without_network():
    client = JinaEmbeddings(SECRET, transport=httpx.MockTransport(_no_network))
    with pytest.raises(ConfigError, match="not one string"):
        client.embed_documents("a single string")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"texts\[1\]"):
        client.embed_documents(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="takes a str"):
        client.embed_query(["x"])  # type: ignore[arg-type]


def test_lazy_package_attribute_errors_for_unknown_names():
    with pytest.raises(AttributeError, match="NoSuchEmbedder"):
        _ = embeddings_pkg.NoSuchEmbedder


# ------------------------------------------------------------------------- keys
def test_missing_key_fails_at_first_use_with_howto(monkeypatch):
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    monkeypatch.delenv("JINAAI_APIKEY", raising=False)
    client = JinaEmbeddings(transport=httpx.MockTransport(_no_network))  # no network, no error yet
    with pytest.raises(AuthenticationError) as info:
        client.embed_query("hello")
    message = str(info.value)
    assert "api_key=" in message and "X-JinaAI-Api-Key" in message
    assert "JINA_API_KEY" in message and "JINAAI_APIKEY" in message


@pytest.mark.parametrize("var", ["JINA_API_KEY", "JINAAI_APIKEY"])
def test_key_from_environment(monkeypatch, standin, var):
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    monkeypatch.delenv("JINAAI_APIKEY", raising=False)
    monkeypatch.setenv(var, SECRET)
    with JinaEmbeddings(base_url=standin.base_url) as client:
        assert client.embed_query("hi").shape == (3, 128)
    assert standin.requests[-1].authorized


def test_key_precedence_argument_then_jina_api_key(monkeypatch, standin):
    monkeypatch.setenv("JINA_API_KEY", SECRET)
    monkeypatch.setenv("JINAAI_APIKEY", "jina_wrong_second")
    with JinaEmbeddings(base_url=standin.base_url) as client:
        client.embed_query("x")
    with JinaEmbeddings("jina_wrong_argument", base_url=standin.base_url) as client:
        with pytest.raises(AuthenticationError):
            client.embed_query("x")
    assert [r.authorized for r in standin.requests] == [True, False]


def test_401_tells_how_to_set_key_and_hides_it(standin):
    wrong = "jina_WRONG_but_still_secret_987"
    with JinaEmbeddings(wrong, base_url=standin.base_url) as client:
        with pytest.raises(AuthenticationError) as info:
            client.embed_documents(["a"])
    text = str(info.value)
    assert "HTTP 401" in text and "JINA_API_KEY" in text and "X-JinaAI-Api-Key" in text
    assert wrong not in text and wrong not in repr(info.value)
    assert len(standin.requests) == 1  # 401 is never retried


def test_403_is_authentication_error():
    client = _mock_client(_mock({"detail": "Insufficient account balance"}, status=403))
    with pytest.raises(AuthenticationError, match="Insufficient account balance"):
        client.embed_query("x")


# ------------------------------------------------------------------------- validation errors
def test_422_carries_detail_from_standin(make_client, standin):
    standin.inject(Fault(422, body=json.dumps({"detail": "input too long for this plan"}).encode()))
    with pytest.raises(EmbeddingValidationError) as info:
        make_client().embed_documents(["x"])
    assert info.value.detail == "input too long for this plan"
    assert "input too long for this plan" in str(info.value) and isinstance(info.value, ValueError)
    assert len(standin.requests) == 1


def test_422_fastapi_detail_list_is_carried_and_described():
    detail = [
        {
            "loc": ["body", "dimensions"],
            "msg": "value is not a valid enumeration member",
            "type": "enum",
        }
    ]
    client = _mock_client(_mock({"detail": detail}, status=422))
    with pytest.raises(EmbeddingValidationError, match=r"body\.dimensions: value is not") as info:
        client.embed_query("x")
    assert info.value.detail == detail


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": "jina-colbert-v2", "input": ["a"], "dimensions": 100}, "dimensions"),
        ({"model": "nope", "input": ["a"]}, "model"),
        ({"model": "jina-colbert-v2", "input": ["a"], "input_type": "passage"}, "input_type"),
        ({"model": "jina-colbert-v2", "input": ["a"] * 513}, "513"),
    ],
)
def test_standin_validates_body_with_422_detail(standin, body, needle):
    response = httpx.post(
        f"{standin.base_url}/v1/multi-vector",
        json=body,
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert response.status_code == 422
    assert needle in response.json()["detail"]


def test_client_splits_513_inputs_into_batches_of_at_most_512(make_client, standin):
    texts = [f"t{i}" for i in range(513)]
    out = make_client(batch_size=512, max_tokens_per_request=10**6).embed_documents(texts)
    assert sorted(len(r.body["input"]) for r in standin.requests) == [1, 512]
    assert all(r.status == 200 for r in standin.requests)
    np.testing.assert_allclose(out[512], standin_matrix("t512"), atol=1e-5)


# ------------------------------------------------------------------------- batching
def test_token_budget_splits_batches(make_client, standin):
    texts = [f"w{i} " + ("word " * (5 + i % 20)).strip() for i in range(30)]
    budget = 60
    out = make_client(max_tokens_per_request=budget, batch_size=100).embed_documents(texts)
    assert len(standin.requests) > 1
    for record in standin.requests:
        estimates = [core.estimate_tokens(t, cap=8192) for t in record.body["input"]]
        assert sum(estimates) <= budget or len(estimates) == 1
    sent = [
        t
        for r in sorted(standin.requests, key=lambda r: texts.index(r.body["input"][0]))
        for t in r.body["input"]
    ]
    assert sent == texts
    assert [m.shape[0] for m in out] == [len(t.split()) + 2 for t in texts]


def test_text_over_budget_goes_alone():
    texts = ["a" * 30, "b" * 3000, "c" * 30]
    batches = core.plan_batches(texts, batch_size=10, max_tokens=100, cap=8192)
    assert batches == [core.Batch(0, 1), core.Batch(1, 2), core.Batch(2, 3)]


@settings(max_examples=80, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 400), max_size=60),
    batch_size=st.integers(1, 16),
    budget=st.integers(1, 500),
)
def test_plan_batches_covers_in_order_within_limits(lengths, batch_size, budget):
    texts = ["x" * n for n in lengths]
    batches = core.plan_batches(texts, batch_size=batch_size, max_tokens=budget, cap=8192)
    assert [i for b in batches for i in range(b.start, b.stop)] == list(range(len(texts)))
    for b in batches:
        assert 1 <= b.stop - b.start <= batch_size
        cost = sum(core.estimate_tokens(t, cap=8192) for t in texts[b.start : b.stop])
        assert cost <= budget or b.stop - b.start == 1


# ------------------------------------------------------------------------- retries
def test_429_retry_after_seconds_is_honoured(make_client, standin, fake_sleep):
    standin.inject(Fault.rate_limited(retry_after=7))
    out = make_client().embed_query("hello world")
    assert out.shape == (4, 128)
    assert fake_sleep.calls == [7.0]
    assert [r.status for r in standin.requests] == [429, 200]


def test_429_retry_after_http_date_is_honoured(make_client, standin, fake_sleep):
    now = 1_700_000_000.0
    standin.inject(Fault.rate_limited(retry_after=email.utils.formatdate(now + 12, usegmt=True)))
    make_client(clock=lambda: now).embed_query("x")
    assert fake_sleep.calls == [12.0]


def test_retry_after_is_capped_by_backoff_max(make_client, standin, fake_sleep):
    standin.inject(Fault.rate_limited(retry_after=3600))
    make_client(backoff_max=2.5).embed_query("x")
    assert fake_sleep.calls == [2.5]


def test_429_without_retry_after_uses_full_jitter_exponential_backoff(
    make_client, standin, fake_sleep
):
    standin.inject(*[Fault.rate_limited()] * 4)
    make_client(backoff_base=1.0, backoff_max=5.0).embed_query("x")
    assert len(fake_sleep.calls) == 4
    for attempt, slept in enumerate(fake_sleep.calls):
        assert 0.0 <= slept <= min(5.0, 2.0**attempt)
    assert len(set(fake_sleep.calls)) > 1  # jittered, not constant


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_then_success(make_client, standin, fake_sleep, status):
    standin.inject(Fault.server_error(status))
    out = make_client().embed_documents(["a b c"])
    assert out[0].shape == (5, 128)
    assert [r.status for r in standin.requests] == [status, 200]
    assert len(fake_sleep.calls) == 1


def test_exhausted_429_raises_rate_limit_error_with_retry_after(make_client, standin):
    standin.inject(*[Fault.rate_limited(retry_after=4)] * 3)
    with pytest.raises(RateLimitError) as info:
        make_client(max_retries=2).embed_query("x")
    assert info.value.retry_after == 4.0
    assert len(standin.requests) == 3


def test_exhausted_5xx_raises_server_error(make_client, standin):
    standin.inject(*[Fault.server_error(503)] * 3)
    with pytest.raises(EmbeddingServerError, match="HTTP 503"):
        make_client(max_retries=2).embed_query("x")
    assert len(standin.requests) == 3


def test_slow_answers_raise_embedding_timeout(make_client, standin, fake_sleep):
    standin.inject(Fault.slow(5.0), Fault.slow(5.0))
    with pytest.raises(EmbeddingTimeout) as info:
        make_client(timeout=0.2, max_retries=1).embed_query("x")
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    assert len(fake_sleep.calls) == 1


def test_timeout_then_success(make_client, standin):
    standin.inject(Fault.slow(5.0))
    assert make_client(timeout=0.2).embed_query("x y").shape == (4, 128)


def test_connection_refused_is_retried_then_reported():
    sleep = FakeSleep()
    client = JinaEmbeddings(
        SECRET, base_url=f"http://127.0.0.1:{_free_port()}", max_retries=2, sleep=sleep
    )
    with pytest.raises(EmbeddingError, match="could not reach") as info:
        client.embed_query("x")
    assert isinstance(info.value.__cause__, httpx.TransportError)
    assert len(sleep.calls) == 2
    client.close()


def test_other_4xx_is_not_retried():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(404, json={"detail": "Not Found"})

    client = _mock_client(httpx.MockTransport(handler))
    with pytest.raises(EmbeddingError, match="HTTP 404: Not Found"):
        client.embed_query("x")
    assert len(calls) == 1


def test_parse_retry_after_forms():
    now = 1_000_000.0
    assert retry.parse_retry_after("3", now=now) == 3.0
    assert retry.parse_retry_after(" 2.5 ", now=now) == 2.5
    assert retry.parse_retry_after("-4", now=now) == 0.0
    assert retry.parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert retry.parse_retry_after("soon", now=now) is None
    assert retry.parse_retry_after(None, now=now) is None


# ------------------------------------------------------------------------- malformed responses
def _matrix(n: int, width: int = 128) -> list[list[float]]:
    return [[1.0] + [0.0] * (width - 1) for _ in range(n)]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"<html>oops</html>", "not JSON"),
        ({"usage": {}}, "'data'"),
        ({"data": [{"embeddings": _matrix(2)}]}, "'index'"),
        ({"data": [{"index": 0}]}, "'embeddings'"),
        ({"data": []}, "0 items"),
        ({"data": [{"index": 5, "embeddings": _matrix(2)}]}, "out of range"),
        ({"data": [{"index": 0, "embeddings": []}]}, "empty"),
        ({"data": [{"index": 0, "embeddings": [[0.1] * 128, [0.1] * 64]}]}, "ragged"),
        ({"data": [{"index": 0, "embeddings": _matrix(2, 96)}]}, "width 96"),
        ({"data": [{"index": 0, "embeddings": [0.1] * 128}]}, "shape"),
        (b'{"data": [{"index": 0, "embeddings": [[NaN' + b", 0.0" * 127 + b"]]}]}", "NaN"),
        ({"data": [{"index": 0, "embeddings": [["a"] * 128]}]}, "numeric"),
    ],
)
def test_malformed_responses_raise_embedding_error(payload, needle):
    client = _mock_client(_mock(payload))
    with pytest.raises(EmbeddingError, match=needle):
        client.embed_query("x")


def test_duplicate_index_is_rejected():
    payload = {
        "data": [{"index": 0, "embeddings": _matrix(1)}, {"index": 0, "embeddings": _matrix(1)}]
    }
    with pytest.raises(EmbeddingError, match="repeated"):
        _mock_client(_mock(payload)).embed_documents(["a", "b"])


# ------------------------------------------------------------------------- concurrency
def test_sync_concurrency_is_bounded(make_client):
    with JinaStandIn(api_key=SECRET, latency=0.03) as slow:
        texts = [f"doc {i}" for i in range(12)]
        out = make_client(base_url=slow.base_url, batch_size=1, max_concurrency=3).embed_documents(
            texts
        )
        assert 1 <= slow.max_in_flight <= 3
        assert len(slow.requests) == 12
    for text, matrix in zip(texts, out):
        np.testing.assert_allclose(matrix, standin_matrix(text), atol=1e-5)


async def test_async_concurrency_is_bounded_and_ordered(make_client):
    with JinaStandIn(api_key=SECRET, latency=0.03) as slow:
        texts = [f"doc {i} " + "x " * i for i in range(12)]
        client = make_client(base_url=slow.base_url, batch_size=1, max_concurrency=2)
        out = await client.aembed_documents(texts)
        await client.aclose()
        assert 1 <= slow.max_in_flight <= 2
    for text, matrix in zip(texts, out):
        np.testing.assert_allclose(matrix, standin_matrix(text), atol=1e-5)


async def test_sync_and_async_results_are_identical(make_client, standin):
    texts = [f"sentence {i} with words" * (1 + i % 3) for i in range(20)]
    client = make_client(batch_size=3, max_concurrency=3)
    sync_docs = client.embed_documents(texts)
    async_docs = await client.aembed_documents(texts)
    assert all(np.array_equal(a, b) for a, b in zip(sync_docs, async_docs))
    assert np.array_equal(client.embed_query("q words"), await client.aembed_query("q words"))
    await client.aclose()


async def test_async_retries_share_the_sync_decisions(make_client, standin, fake_sleep):
    standin.inject(Fault.rate_limited(retry_after=3), Fault.server_error(500))
    client = make_client()
    assert (await client.aembed_query("x")).shape == (3, 128)
    assert fake_sleep.calls[0] == 3.0 and len(fake_sleep.calls) == 2
    standin.inject(*[Fault.server_error(502)] * 2)
    with pytest.raises(EmbeddingServerError):
        await make_client(max_retries=1).aembed_query("x")


async def test_async_cancellation_leaves_nothing_running(make_client):
    before = {t.ident for t in threading.enumerate()}
    with JinaStandIn(api_key=SECRET, latency=30.0) as stuck:
        client = make_client(base_url=stuck.base_url, batch_size=1, max_concurrency=2, timeout=60.0)
        task = asyncio.ensure_future(client.aembed_documents([f"d{i}" for i in range(6)]))
        while stuck.in_flight < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert asyncio.all_tasks() == {asyncio.current_task()}
        await client.aclose()
        assert stuck.max_in_flight <= 2
    leftovers = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert not [t for t in leftovers if "jina" in t.name and "standin" not in t.name]


def test_sync_failure_in_one_batch_raises_and_stops(make_client, standin):
    standin.inject(Fault(422, body=b'{"detail": "bad batch"}'))
    with pytest.raises(EmbeddingValidationError, match="bad batch"):
        make_client(batch_size=1, max_concurrency=1).embed_documents(["a", "b", "c"])
    assert len(standin.requests) == 1  # later batches never started
    assert not [t for t in threading.enumerate() if t.name.startswith("multivector-jina")]


async def test_async_client_survives_a_new_event_loop(make_client, standin):
    client = make_client()
    first = await client.aembed_query("x")
    result: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(client.aembed_query("x"))))
    worker.start()
    worker.join()
    assert np.array_equal(first, result[0])
    await client.aclose()


async def test_context_managers_close_pools(standin):
    with JinaEmbeddings(SECRET, base_url=standin.base_url) as client:
        client.embed_query("x")
        assert client._client is not None
    assert client._client is None
    async with JinaEmbeddings(SECRET, base_url=standin.base_url) as aclient:
        await aclient.aembed_query("x")
    assert aclient._aclient is None


# ------------------------------------------------------------------------- secret hygiene
def _chain_texts(exc: BaseException) -> list[str]:
    texts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current)]
        request = getattr(current, "_request", None)
        if isinstance(request, httpx.Request):
            texts += [repr(request), str(dict(request.headers))]
        current = current.__cause__ or current.__context__
    texts.append("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return texts


def test_key_never_leaks(make_client, standin, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(max_retries=2, timeout=0.2)
    for text in (repr(client), str(client), repr(vars(client))):
        assert SECRET not in text
    assert (
        "jina-colbert-v2" in repr(client)
        and "128" in repr(client)
        and standin.base_url in repr(client)
    )

    standin.inject(Fault.rate_limited(), Fault.server_error(500))
    client.embed_documents(["one", "two"])
    errors: list[BaseException] = []
    standin.inject(*[Fault.slow(5.0)] * 3)
    with pytest.raises(EmbeddingTimeout) as timeout_info:
        client.embed_query("x")
    errors.append(timeout_info.value)
    standin.inject(*[Fault.rate_limited(retry_after=1)] * 3)
    with pytest.raises(RateLimitError) as rate_info:
        client.embed_query("x")
    errors.append(rate_info.value)
    standin.inject(Fault(401, body=json.dumps({"detail": f"bad key {SECRET}"}).encode()))
    with pytest.raises(AuthenticationError) as auth_info:
        client.embed_query("x")
    errors.append(auth_info.value)

    assert "HTTP 429" in caplog.text and "retry" in caplog.text  # debug logging really ran
    assert SECRET not in caplog.text
    assert "one" not in [r.getMessage() for r in caplog.records]
    for error in errors:
        for text in _chain_texts(error):
            assert SECRET not in text
    assert isinstance(timeout_info.value.__cause__, httpx.TimeoutException)
    assert "[redacted]" in str(auth_info.value)


def test_debug_logs_carry_counts_not_texts(make_client, caplog):
    caplog.set_level(logging.DEBUG, logger="multivector.embeddings.jina")
    make_client(batch_size=2).embed_documents(["alpha secretword", "beta", "gamma"])
    messages = " ".join(
        r.getMessage() for r in caplog.records if r.name == "multivector.embeddings.jina"
    )
    assert "3 document text(s) -> 2 request(s)" in messages and "[2, 1]" in messages
    assert "secretword" not in messages


def test_pool_failure_cancels_pending_batches_and_joins_threads(make_client, standin):
    standin.inject(Fault(422, body=b'{"detail": "bad first batch"}'))
    with pytest.raises(EmbeddingValidationError, match="bad first batch"):
        make_client(batch_size=1, max_concurrency=2).embed_documents([f"d{i}" for i in range(40)])
    assert len(standin.requests) < 40  # pending batches were cancelled
    assert not [t for t in threading.enumerate() if t.name.startswith("multivector-jina")]


def test_base_url_none_means_the_public_api():
    client = JinaEmbeddings(SECRET, base_url=None, transport=httpx.MockTransport(_no_network))
    assert client.base_url == "https://api.jina.ai"
    assert client.settings.url == "https://api.jina.ai/v1/multi-vector"


def test_standin_v4_dense_mode_and_auth(standin):
    url = f"{standin.base_url}/v1/embeddings"
    body = {
        "model": "jina-embeddings-v4",
        "input": ["a b"],
        "task": "text-matching",
        "dimensions": 256,
    }
    dense = httpx.post(url, json=body, headers={"Authorization": f"Bearer {SECRET}"}).json()
    vector = np.asarray(dense["data"][0]["embedding"])
    assert vector.shape == (256,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    unauthorized = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401 and "Authorization" in unauthorized.json()["detail"]
    assert [r.authorized for r in standin.requests] == [True, False]
