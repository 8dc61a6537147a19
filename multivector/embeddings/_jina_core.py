"""Pure core of the Jina AI client: settings, models, batching, request bodies and parsing.

Nothing here sends or sleeps. The retry decisions (which failure to retry, how long to wait, the
final error) are in :mod:`._jina_retry`; :mod:`._jina_flow` runs both as one request flow that the
sync and the async client share, so they differ only in how they send and sleep.

Jina's contract, as documented (jina.ai model pages, the API's OpenAPI description and Weaviate's
tutorial): ``POST /v1/multi-vector`` takes ``{model, input, input_type: "document"|"query",
dimensions: 128|96|64, embedding_type: "float"}`` and answers ``{data: [{index, embeddings}],
usage: {total_tokens}}``; ``jina-embeddings-v4`` answers the same ``data[i].embeddings`` from
``POST /v1/embeddings`` with ``task`` and ``return_multivector: true`` (128-wide token vectors).
Errors carry a FastAPI-style ``detail``; 429 answers may carry ``Retry-After`` and responses carry
``X-RateLimit-Remaining-Requests`` / ``X-RateLimit-Remaining-Tokens`` (no reset time is documented).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar

import httpx
import numpy as np

from multivector._types import F32Array
from multivector.errors import (
    ConfigError,
    EmbeddingError,
)

logger = logging.getLogger("multivector.embeddings.jina")

T = TypeVar("T")
InputType = Literal["document", "query"]
DEFAULT_BASE_URL = "https://api.jina.ai"
#: Jina accepts at most this many inputs in one request.
MAX_INPUTS_PER_REQUEST = 512
KEY_HOWTO = (
    "pass JinaEmbeddings(api_key=...), connect with "
    "multivector.connect(headers={'X-JinaAI-Api-Key': ...}), or set the JINA_API_KEY (or "
    "JINAAI_APIKEY) environment variable; get a key at https://jina.ai/api-dashboard/key-manager "
    "(offline: run multivector.testing.JinaStandIn and pass its base_url and api_key)"
)


@dataclass(frozen=True)
class ModelSpec:
    """What the client needs to know about one Jina multi-vector model."""

    name: str
    path: str
    dimensions: tuple[int, ...]
    max_document_tokens: int
    max_query_tokens: int


MODELS: Mapping[str, ModelSpec] = {
    "jina-colbert-v2": ModelSpec("jina-colbert-v2", "/v1/multi-vector", (128, 96, 64), 8192, 32),
    "jina-colbert-v1-en": ModelSpec("jina-colbert-v1-en", "/v1/multi-vector", (128,), 8192, 32),
    "jina-embeddings-v4": ModelSpec("jina-embeddings-v4", "/v1/embeddings", (128,), 32768, 32768),
}


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{name}={value!r} is invalid; pass an int {bound}")
    return value


def _check_float(name: str, value: object, *, positive: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (positive and value <= 0) or value < 0:  # type: ignore[operator]
        kind = "> 0" if positive else ">= 0"
        raise ConfigError(f"{name}={value!r} is invalid; pass a finite number {kind}")
    return float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class JinaSettings:
    """Validated, immutable settings of a :class:`~multivector.embeddings.JinaEmbeddings`."""

    model: str = "jina-colbert-v2"
    dimensions: int = 128
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    max_retries: int = 5
    max_concurrency: int = 4
    batch_size: int = 64
    max_tokens_per_request: int = 32768
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    #: Seconds one request may take from its first attempt to its last answer, retries and the
    #: waits between them included (None: only ``timeout`` per attempt and ``max_retries`` bound it).
    total_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(
                f"model={self.model!r} is not a Jina multi-vector model; use one of {sorted(MODELS)}"
            )
        spec = MODELS[self.model]
        if isinstance(self.dimensions, bool) or self.dimensions not in spec.dimensions:
            raise ConfigError(
                f"dimensions={self.dimensions!r} is not supported by {self.model}; use one of {list(spec.dimensions)}"
            )
        if not isinstance(self.base_url, str) or not self.base_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(
                f"base_url={self.base_url!r} is invalid; pass e.g. {DEFAULT_BASE_URL!r}"
            )
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        object.__setattr__(self, "timeout", _check_float("timeout", self.timeout, positive=True))
        _check_int("max_retries", self.max_retries, 0)
        _check_int("max_concurrency", self.max_concurrency, 1)
        _check_int("batch_size", self.batch_size, 1, MAX_INPUTS_PER_REQUEST)
        _check_int("max_tokens_per_request", self.max_tokens_per_request, 1)
        object.__setattr__(
            self, "backoff_base", _check_float("backoff_base", self.backoff_base, positive=False)
        )
        object.__setattr__(
            self, "backoff_max", _check_float("backoff_max", self.backoff_max, positive=False)
        )
        if self.total_timeout is not None:
            total = _check_float("total_timeout", self.total_timeout, positive=True)
            object.__setattr__(self, "total_timeout", total)

    @property
    def spec(self) -> ModelSpec:
        """The model's :class:`ModelSpec`."""
        return MODELS[self.model]

    @property
    def url(self) -> str:
        """The endpoint this model is served from."""
        return self.base_url + self.spec.path


# ----------------------------------------------------------------------------------- batching
class Batch(NamedTuple):
    """A contiguous slice ``texts[start:stop]`` sent in one request."""

    start: int
    stop: int


def estimate_tokens(text: str, *, cap: int) -> int:
    """A cheap, deliberately generous token estimate: ``ceil(len / 3) + 2``, at most ``cap``."""
    return min(cap, -(-len(text) // 3) + 2)


def plan_batches(
    texts: Sequence[str], *, batch_size: int, max_tokens: int, cap: int
) -> list[Batch]:
    """Split ``texts`` into contiguous batches of at most ``batch_size`` inputs whose estimated
    tokens stay within ``max_tokens`` (a single text above the budget goes alone).
    """
    batches: list[Batch] = []
    start, budget = 0, 0
    for i, text in enumerate(texts):
        estimate = estimate_tokens(text, cap=cap)
        if i > start and (i - start >= batch_size or budget + estimate > max_tokens):
            batches.append(Batch(start, i))
            start, budget = i, 0
        budget += estimate
    if start < len(texts):
        batches.append(Batch(start, len(texts)))
    return batches


# ----------------------------------------------------------------------------------- requests
def build_body(
    settings: JinaSettings, texts: Sequence[str], input_type: InputType
) -> dict[str, Any]:
    """The JSON body Jina expects for ``texts``."""
    if settings.spec.path == "/v1/embeddings":
        return {
            "model": settings.model,
            "input": [{"text": t} for t in texts],
            "task": "retrieval.query" if input_type == "query" else "retrieval.passage",
            "return_multivector": True,
            "embedding_type": "float",
        }
    return {
        "model": settings.model,
        "input": list(texts),
        "input_type": input_type,
        "dimensions": settings.dimensions,
        "embedding_type": "float",
    }


def build_request(
    settings: JinaSettings, body: Mapping[str, Any], headers: Mapping[str, str]
) -> httpx.Request:
    """A ready ``POST`` request; ``headers`` carries the ``Authorization`` header."""
    return httpx.Request("POST", settings.url, json=dict(body), headers=dict(headers))


# ----------------------------------------------------------------------------------- parsing
def _matrix(raw: object, where: str, dimensions: int) -> F32Array:
    if not isinstance(raw, list) or not raw:
        raise EmbeddingError(f"Jina response {where} is empty or not a list of token vectors")
    try:
        with np.errstate(all="ignore"):
            arr = np.asarray(raw, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise EmbeddingError(f"Jina response {where} is ragged or not numeric") from exc
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise EmbeddingError(
            f"Jina response {where} has shape {arr.shape}; expected [n_tokens, {dimensions}]"
        )
    if arr.shape[1] != dimensions:
        raise EmbeddingError(
            f"Jina response {where} has token vectors of width {arr.shape[1]}; expected {dimensions}"
        )
    if not np.isfinite(arr).all():
        raise EmbeddingError(f"Jina response {where} holds NaN or infinite values")
    return arr


def parse_embeddings(payload: object, *, expected: int, dimensions: int) -> list[F32Array]:
    """Token matrices from a decoded Jina response, placed by ``data[i].index``.

    Raises :class:`EmbeddingError` naming the missing or malformed field.
    """
    if not isinstance(payload, dict):
        raise EmbeddingError(f"Jina response is not a JSON object (got {type(payload).__name__})")
    data = payload.get("data")
    if not isinstance(data, list):
        raise EmbeddingError("Jina response has no 'data' list")
    if len(data) != expected:
        raise EmbeddingError(f"Jina response 'data' has {len(data)} items; expected {expected}")
    out: list[F32Array | None] = [None] * expected
    for pos, item in enumerate(data):
        if not isinstance(item, dict):
            raise EmbeddingError(f"Jina response data[{pos}] is not an object")
        index = item.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise EmbeddingError(f"Jina response data[{pos}] has no integer 'index'")
        if not 0 <= index < expected or out[index] is not None:
            raise EmbeddingError(
                f"Jina response data[{pos}] has index {index} out of range or repeated"
            )
        raw = item.get("embeddings", item.get("embedding"))
        if raw is None:
            raise EmbeddingError(f"Jina response data[{pos}] has no 'embeddings'")
        out[index] = _matrix(raw, f"data[{pos}].embeddings", dimensions)
    return [m for m in out if m is not None]


def parse_response(response: httpx.Response, *, expected: int, dimensions: int) -> list[F32Array]:
    """Decode a 2xx response and parse it with :func:`parse_embeddings`."""
    try:
        payload = response.json()
    except ValueError as exc:
        raise EmbeddingError(
            f"Jina answered HTTP {response.status_code} with a body that is not JSON"
        ) from exc
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if isinstance(usage, dict):
        logger.debug("jina: usage total_tokens=%s", usage.get("total_tokens"))
    return parse_embeddings(payload, expected=expected, dimensions=dimensions)
