"""Keys never leak: not in ``repr`` / ``vars()`` of what holds them, not in any attribute or cause
of a raised error (messages, ``args``, ``detail``, a ``JSONDecodeError``'s ``doc``, kept requests
and responses, traceback frame locals), on the Jina path and on the Qdrant path.
"""

from __future__ import annotations

import copy
import http.server
import json
import pickle
import socket
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import multivector
from multivector import Configure
from multivector._secrets import MASK, Secret, scrub_exception
from multivector.backends.qdrant.caller import QdrantCaller
from multivector.embeddings import JinaEmbeddings
from multivector.embeddings.factory import EmbedderFactory
from multivector.errors import (
    AuthenticationError,
    BackendError,
    EmbeddingError,
    EmbeddingTimeout,
    EmbeddingValidationError,
    RateLimitError,
)
from multivector.testing import Fault, JinaStandIn

SECRET = "jina_TOPSECRET_0123456789abcdef"
TESTS = Path(__file__).resolve().parent
QDRANT_SECRET = "qdrant-TOPSECRET-key-42"


# ------------------------------------------------------------------------------------ dumping
def _dump(value: Any, out: list[str], seen: set[int], depth: int = 0) -> None:
    """Every text a logger, debugger or error reporter could print of ``value``: its repr and
    str, the vars of objects it holds (recursively), an exception's args, chain, formatted
    traceback and the repr of each traceback frame's locals.
    """
    if id(value) in seen or depth > 6:
        return
    seen.add(id(value))
    try:
        out.append(repr(value))
    except Exception as exc:  # pragma: no cover - a broken repr is its own bug
        out.append(f"<repr failed: {exc!r}>")
    if isinstance(value, (str, int, float, bool, type(None))):
        return
    if isinstance(value, (bytes, bytearray)):
        out.append(bytes(value).decode("latin-1"))
        return
    if isinstance(value, BaseException):
        out.append(str(value))
        out.append("".join(traceback.format_exception(value)))
        for item in (value.args, value.__cause__, value.__context__):
            _dump(item, out, seen, depth + 1)
        tb = value.__traceback__
        while tb is not None:  # each frame's locals, one level deep, as error reporters show them
            if not _is_callers_frame(tb.tb_frame.f_code.co_filename):
                out.append(repr(tb.tb_frame.f_locals))
            tb = tb.tb_next
    if isinstance(value, dict):
        for key, item in value.items():
            _dump(key, out, seen, depth + 1)
            _dump(item, out, seen, depth + 1)
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _dump(item, out, seen, depth + 1)
        return
    if isinstance(value, httpx.Headers):
        out.append(repr(list(value.raw)))
        return
    if hasattr(value, "__dict__") and not isinstance(value, type) and not callable(value):
        _dump(dict(vars(value)), out, seen, depth + 1)


def _is_callers_frame(filename: str) -> bool:
    """A frame of this test or of pytest: the caller's own locals (it holds the key itself)."""
    return filename.startswith(str(TESTS)) or "_pytest" in filename or "pluggy" in filename


def texts_of(*values: Any) -> str:
    out: list[str] = []
    seen: set[int] = set()
    for value in values:
        _dump(value, out, seen)
    return "\n".join(out)


def shallow(*objects: Any) -> str:
    """``repr`` / ``str`` / ``vars()`` of each object (what a user prints)."""
    parts = []
    for obj in objects:
        parts += [repr(obj), str(obj)]
        if hasattr(obj, "__dict__"):
            parts.append(repr(vars(obj)))
    return "\n".join(parts)


# ------------------------------------------------------------------------------------ holders
def test_secret_holder_masks_and_refuses_pickling() -> None:
    secret = Secret(SECRET)
    assert secret.get() == SECRET
    assert SECRET not in repr(secret) and SECRET not in str(secret) and "*" in repr(secret)
    with pytest.raises(TypeError):
        vars(secret)  # no __dict__ to show
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(secret)
    assert copy.deepcopy(secret) is secret


def test_factory_embedder_client_and_collection_show_no_key() -> None:
    with JinaStandIn(api_key=SECRET) as server:
        factory = EmbedderFactory({"X-JinaAI-Api-Key": SECRET}, timeout=5.0)
        with pytest.raises(TypeError, match="not picklable"):
            pickle.dumps(factory)
        client = multivector.connect(headers={"X-JinaAI-Api-Key": SECRET})
        col = client.collections.create(
            "Docs", vector_config=Configure.MultiVectors.text2vec_jinaai(base_url=server.base_url)
        )
        col.data.insert({"text": "solar panels"})  # builds the embedder and sends a request
        embedder = col.embedder("default")
        assert isinstance(embedder, JinaEmbeddings)
        with pytest.raises(TypeError, match="not picklable"):
            pickle.dumps(embedder)
        text = shallow(
            factory,
            client,
            client._embedder_factory,
            client.collections,
            col,
            col.data,
            col.query,
            col.batch,
            embedder,
            embedder.settings,
        )
        assert SECRET not in text
        assert "x-jinaai-api-key" in repr(client)  # the header's name, never its value
        assert embedder._secret is not None and embedder._secret.get() == SECRET  # still usable
        client.close()


# ------------------------------------------------------------------------------------ Jina
@pytest.fixture
def server() -> Iterator[JinaStandIn]:
    with JinaStandIn(api_key=SECRET) as stand_in:
        yield stand_in


def _jina(server: JinaStandIn, **options: Any) -> JinaEmbeddings:
    options.setdefault("sleep", lambda seconds: None)
    return JinaEmbeddings(SECRET, base_url=server.base_url, **options)


def test_validation_detail_that_echoes_the_key_is_scrubbed(server: JinaStandIn) -> None:
    detail = [{"loc": ["body", "input", 0], "msg": f"bad input for key {SECRET}"}, SECRET]
    server.inject(Fault(422, body=json.dumps({"detail": detail}).encode()))
    with _jina(server) as client, pytest.raises(EmbeddingValidationError) as info:
        client.embed_query("x")
    error = info.value
    assert SECRET not in repr(error.detail) and MASK in repr(error.detail)
    assert error.detail[0]["loc"] == ["body", "input", 0]  # the structure survives
    assert SECRET not in texts_of(error)


def test_a_non_json_body_that_echoes_the_key_is_scrubbed_from_the_cause(
    server: JinaStandIn,
) -> None:
    server.inject(Fault.malformed(body=f"oops, key={SECRET} {{".encode()))
    with _jina(server) as client, pytest.raises(EmbeddingError, match="not JSON") as info:
        client.embed_documents(["a"])
    cause = info.value.__cause__
    assert isinstance(cause, json.JSONDecodeError)
    assert SECRET not in cause.doc and MASK in cause.doc
    assert SECRET not in texts_of(info.value)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_every_error_kind_carries_no_key_anywhere(server: JinaStandIn, mode: str) -> None:
    client = _jina(server, max_retries=1, timeout=0.3, async_sleep=_no_sleep)
    cases: list[tuple[list[Fault], type[BaseException]]] = [
        (
            [Fault(401, body=json.dumps({"detail": f"bad key {SECRET}"}).encode())],
            AuthenticationError,
        ),
        ([Fault.rate_limited(retry_after=0)] * 2, RateLimitError),
        ([Fault.slow(3.0)] * 2, EmbeddingTimeout),
        ([Fault(503, body=f"down ({SECRET})".encode())] * 2, EmbeddingError),
    ]
    for faults, kind in cases:
        server.reset()
        server.inject(*faults)
        with pytest.raises(kind) as info:
            if mode == "sync":
                client.embed_documents(["one", "two"])
            else:
                import asyncio

                asyncio.run(client.aembed_documents(["one", "two"]))
        assert SECRET not in texts_of(info.value), kind.__name__
    client.close()


async def _no_sleep(seconds: float) -> None:
    return None


def test_embedder_errors_through_data_insert_and_batch_carry_no_key(server: JinaStandIn) -> None:
    client = multivector.connect(headers={"X-JinaAI-Api-Key": "wrong-" + SECRET})
    col = client.collections.create(
        "Docs", vector_config=Configure.MultiVectors.text2vec_jinaai(base_url=server.base_url)
    )
    server.inject(Fault(401, body=json.dumps({"detail": f"key wrong-{SECRET}"}).encode()))
    with pytest.raises(AuthenticationError) as info:
        col.data.insert({"text": "x"})
    with col.batch.fixed_size(4) as batch:
        batch.add_object({"text": "y"})
    failures = col.batch.failed_objects
    assert len(failures) == 1 and isinstance(failures[0].error, AuthenticationError)
    assert SECRET not in texts_of(info.value, failures, client, col)
    client.close()


def test_scrub_exception_walks_the_whole_chain() -> None:
    request = httpx.Request(
        "POST", f"https://u:p@example.invalid/x?k={SECRET}", headers={"api-key": SECRET}
    )
    inner = httpx.ConnectError(f"refused {SECRET}", request=request)
    try:
        try:
            raise inner
        except httpx.ConnectError as exc:
            context_error = ValueError("while", SECRET.encode(), {"k": [SECRET]})
            context_error.detail = {"nested": (SECRET, 1)}  # type: ignore[attr-defined]
            context_error.add_note(f"note {SECRET}")
            raise context_error from exc
    except ValueError as exc:
        outer = RuntimeError("outer")
        outer.__context__ = exc
    scrub_exception(outer, [SECRET])
    text = texts_of(outer, request)
    assert SECRET not in text
    assert request.headers["api-key"] == MASK and "u:p@" not in str(request.url)
    assert outer.__context__ is context_error and context_error.__cause__ is inner  # chain kept


# ------------------------------------------------------------------------------------ Qdrant
class _Unauthorised(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": {"error": f"bad api key {QDRANT_SECRET}"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def qdrant_url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorised)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_qdrant_errors_keep_their_cause_without_the_key(qdrant_url: str) -> None:
    with (
        pytest.warns(UserWarning, match="insecure"),
        pytest.raises(BackendError, match="api_key") as info,
    ):
        multivector.connect_to_qdrant(url=qdrant_url, api_key=QDRANT_SECRET, max_retries=0)
    error = info.value
    assert error.__cause__ is not None
    assert type(error.__cause__).__name__ == "UnexpectedResponse"
    assert getattr(error.__cause__, "status_code", None) == 401
    assert QDRANT_SECRET not in texts_of(error)


def test_an_unreachable_qdrant_keeps_the_transport_cause_without_the_key() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        pytest.warns(UserWarning, match="insecure"),
        pytest.raises(BackendError, match="could not reach") as info,
    ):
        multivector.connect_to_qdrant(
            url=f"http://127.0.0.1:{port}", api_key=QDRANT_SECRET, max_retries=0
        )
    chain = []
    error: BaseException | None = info.value
    while error is not None:
        chain.append(type(error).__name__)
        error = error.__cause__
    assert chain[0] == "BackendError" and len(chain) >= 2  # the transport error is kept
    assert QDRANT_SECRET not in texts_of(info.value)


def test_qdrant_caller_hides_the_key_and_keeps_our_error_types() -> None:
    caller = QdrantCaller(where="test", secret=QDRANT_SECRET, max_retries=0)
    assert QDRANT_SECRET not in shallow(caller)

    def ours() -> None:
        raise multivector.errors.ConfigError("a bad argument")

    with pytest.raises(multivector.errors.ConfigError, match="a bad argument"):
        caller.call("ours", ours)

    def theirs() -> None:
        raise KeyError(f"token {QDRANT_SECRET}")

    with pytest.raises(BackendError) as info:
        caller.call("theirs", theirs)
    assert isinstance(info.value.__cause__, KeyError)
    assert QDRANT_SECRET not in texts_of(info.value)


def test_qdrant_client_and_collection_show_no_key() -> None:
    client = multivector.connect_to_qdrant(location=":memory:")
    client.backend.caller.secret = Secret(QDRANT_SECRET)  # type: ignore[attr-defined]
    col = client.collections.create("Docs", vector_config=Configure.MultiVectors.self_provided())
    col.data.insert({"text": "x"}, vector=np.ones((1, 4), np.float32))
    assert QDRANT_SECRET not in shallow(
        client,
        client.backend,
        client.backend.caller,
        col,
        col.backend,  # type: ignore[attr-defined]
    )
    client.close()
