"""A local stand-in for Jina AI's multi-vector API: a real HTTP server on 127.0.0.1.

It speaks the documented contract of ``POST /v1/multi-vector`` (``jina-colbert-v2``,
``jina-colbert-v1-en``) and ``POST /v1/embeddings`` (``jina-embeddings-v4`` with
``return_multivector``): Bearer key check (401), body validation (422 with ``detail``, more than 512
inputs included), one token matrix per input with ``data`` items deliberately shuffled, and
``usage.total_tokens``. Tokens are a lowercase word split plus two special tokens, capped at the
model's limit (32 for colbert queries). Each token vector is a hashed random projection of the
token (plus a small input-type term), L2-normalised, so equal words match and retrieval over it
behaves sensibly. Faults can be scripted for the next requests (:class:`Fault`).

Usage::

    with JinaStandIn() as server:
        emb = JinaEmbeddings(api_key=server.api_key, base_url=server.base_url)

Run ``python -m multivector.testing.jina_server`` to serve one until interrupted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import numpy as np

from multivector._types import F32Array

__all__ = ["Fault", "JinaStandIn", "RecordedRequest", "standin_matrix"]

MAX_INPUTS = 512
_BASE_WIDTH = 128
_DENSE_WIDTH = 2048
_WORD = re.compile(r"\w+|[^\w\s]")
_COLBERT = {"jina-colbert-v2": (128, 96, 64), "jina-colbert-v1-en": (128,)}
_V4_TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage")


@dataclass(frozen=True)
class Fault:
    """A scripted answer for one request: wait ``delay`` s, then answer ``status`` (with
    ``headers`` and ``body``) or, when ``status`` is None, answer normally.
    """

    status: int | None = 500
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0

    @classmethod
    def rate_limited(cls, retry_after: str | float | None = None) -> Fault:
        """HTTP 429, with a ``Retry-After`` header when given (seconds or an HTTP date)."""
        headers = {"X-RateLimit-Remaining-Requests": "0", "X-RateLimit-Remaining-Tokens": "0"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return cls(429, headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """A 5xx answer."""
        return cls(status)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after ``seconds`` (use with a shorter client timeout)."""
        return cls(None, delay=seconds)

    @classmethod
    def malformed(cls, body: bytes = b"{not json", status: int = 200) -> Fault:
        """Answer ``status`` with a raw ``body``."""
        return cls(status, body=body)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in answered (the key itself is never recorded)."""

    path: str
    body: Any
    status: int
    authorized: bool


def tokenize(text: str, *, limit: int) -> list[str]:
    """The stand-in's tokens: ``[CLS]``, lowercase words and punctuation, ``[SEP]``; at most ``limit``."""
    words = _WORD.findall(text.lower())[: max(0, limit - 2)]
    return ["[CLS]", *words, "[SEP]"]


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


@functools.lru_cache(maxsize=65536)
def _token_vector(token: str, input_type: str, width: int) -> F32Array:
    base = np.random.default_rng(_seed(token)).standard_normal(_BASE_WIDTH)
    side = np.random.default_rng(_seed(f"{input_type}\x00{token}")).standard_normal(_BASE_WIDTH)
    vec = (
        (base + 0.2 * side)[:width] if width <= _BASE_WIDTH else np.resize(base + 0.2 * side, width)
    )
    out: F32Array = (vec / np.linalg.norm(vec)).astype(np.float32)
    out.setflags(write=False)
    return out


def standin_matrix(
    text: str, *, input_type: str = "document", width: int = 128, limit: int = 8192
) -> F32Array:
    """The ``[n_tokens, width]`` matrix the stand-in returns for ``text`` (deterministic)."""
    rows = [_token_vector(t, input_type, width) for t in tokenize(text, limit=limit)]
    return np.stack(rows).astype(np.float32, copy=False)


class _Reject(Exception):
    def __init__(self, status: int, detail: object) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail


def _texts(raw: object) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise _Reject(422, "input must be a non-empty list of strings")
    if len(raw) > MAX_INPUTS:
        raise _Reject(
            422, f"input has {len(raw)} items; at most {MAX_INPUTS} are allowed per request"
        )
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            item = item["text"]
        if not isinstance(item, str):
            raise _Reject(422, f"input[{i}] must be a string or {{'text': ...}}")
        out.append(item)
    return out


def _answer(path: str, body: object, seed: int) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Reject(422, "body must be a JSON object")
    model = body.get("model")
    if body.get("embedding_type", "float") != "float":
        raise _Reject(422, "the stand-in supports embedding_type 'float' only")
    if path == "/v1/multi-vector":
        if model not in _COLBERT:
            raise _Reject(
                422, f"model {model!r} is not a multi-vector model; use one of {sorted(_COLBERT)}"
            )
        input_type = body.get("input_type", "document")
        if input_type not in ("document", "query"):
            raise _Reject(422, f"input_type must be 'document' or 'query', got {input_type!r}")
        width = body.get("dimensions", 128)
        if width not in _COLBERT[model]:
            raise _Reject(422, f"dimensions must be one of {list(_COLBERT[model])}, got {width!r}")
        limit, key, multi = (32 if input_type == "query" else 8192), "embeddings", True
    elif path == "/v1/embeddings":
        if model != "jina-embeddings-v4":
            raise _Reject(
                422, f"model {model!r} is not served by the stand-in; use 'jina-embeddings-v4'"
            )
        task = body.get("task", "retrieval.passage")
        if task not in _V4_TASKS:
            raise _Reject(422, f"task must be one of {list(_V4_TASKS)}, got {task!r}")
        input_type = "query" if task.endswith("query") else "document"
        multi = body.get("return_multivector") is True
        width = 128 if multi else body.get("dimensions", _DENSE_WIDTH)
        if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= _DENSE_WIDTH:
            raise _Reject(422, f"dimensions must be an int in 1..{_DENSE_WIDTH}, got {width!r}")
        limit, key = 32768, "embeddings" if multi else "embedding"
    else:
        raise _Reject(404, "Not Found")
    texts = _texts(body.get("input"))
    data, total = [], 0
    for i, text in enumerate(texts):
        matrix = standin_matrix(text, input_type=input_type, width=width, limit=limit)
        total += matrix.shape[0]
        if not multi:
            pooled = matrix.mean(axis=0)
            matrix = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        data.append({"object": "embeddings", "index": i, key: np.round(matrix, 6).tolist()})
    random.Random(seed).shuffle(data)
    return {
        "model": model,
        "object": "list",
        "usage": {"total_tokens": total, "prompt_tokens": total},
        "data": data,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, payload: bytes, headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (ConnectionError, OSError):  # the client gave up (timeout) and closed the socket
            self.close_connection = True

    def do_GET(self) -> None:
        self._send(200, b'{"status":"ok"}')

    def do_POST(self) -> None:
        state = self.server.standin
        with state._lock:
            state._in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state._in_flight)
            fault = state._faults.popleft() if state._faults else None
            seed = state._count
            state._count += 1
        try:
            self._handle(state, fault, seed)
        finally:
            with state._lock:
                state._in_flight -= 1

    def _handle(self, state: JinaStandIn, fault: Fault | None, seed: int) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = None
        authorized = self.headers.get("Authorization", "") == f"Bearer {state.api_key}"
        delay = state.latency + (fault.delay if fault else 0.0)
        if delay > 0 and state._stop.wait(delay):
            self.close_connection = True
            return
        if fault is not None and fault.status is not None:
            raw_answer = (
                fault.body
                if fault.body is not None
                else json.dumps({"detail": f"scripted HTTP {fault.status}"}).encode()
            )
            state._record(RecordedRequest(self.path, body, fault.status, authorized))
            self._send(fault.status, raw_answer, fault.headers)
            return
        payload: dict[str, Any]
        if not authorized:
            status, payload = (
                401,
                {"detail": "Invalid or missing API key: send 'Authorization: Bearer <key>'"},
            )
        elif body is None:
            status, payload = 422, {"detail": "request body is not valid JSON"}
        else:
            try:
                status, payload = 200, _answer(self.path, body, seed)
            except _Reject as rej:
                status, payload = rej.status, {"detail": rej.detail}
        state._record(RecordedRequest(self.path, body, status, authorized))
        self._send(status, json.dumps(payload).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: JinaStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: clients may hang up
        return


class JinaStandIn:
    """A context-managed local Jina API: ``.base_url``, ``.api_key``, ``.requests``, fault scripts.

    ``latency`` adds a delay to every request (to make concurrency observable); ``max_in_flight``
    records the most requests ever handled at once.
    """

    def __init__(self, *, api_key: str = "jina_standin_key", latency: float = 0.0) -> None:
        self.api_key = api_key
        self.latency = latency
        self.max_in_flight = 0
        self._requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._in_flight = 0
        self._count = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        if self._server is None:
            raise RuntimeError(
                "the stand-in is not running; use it as a context manager or call start()"
            )
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def in_flight(self) -> int:
        """Requests being handled right now."""
        with self._lock:
            return self._in_flight

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every answered request, in arrival order."""
        with self._lock:
            return list(self._requests)

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(record)

    def inject(self, *faults: Fault) -> None:
        """Script the answers to the next ``len(faults)`` requests, in order."""
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        """Forget recorded requests, pending faults and the in-flight maximum."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self.max_in_flight = 0

    def start(self) -> JinaStandIn:
        """Bind to 127.0.0.1 on a free port and serve from a daemon thread."""
        if self._server is None:
            self._stop.clear()
            self._server = _Server(("127.0.0.1", 0), _Handler)
            self._server.standin = self
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="jina-standin",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and wake any request still sleeping."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> JinaStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"JinaStandIn({where})"


def main() -> None:
    """Serve a stand-in until interrupted, printing how to point a client at it."""
    with JinaStandIn() as server:
        print(f"Jina stand-in at {server.base_url} (api_key={server.api_key!r}); Ctrl-C to stop")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
