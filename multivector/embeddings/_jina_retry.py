"""Retry decisions of the Jina AI client: what failed, whether to retry, how long to wait, and
the error raised when it gives up.

Pure, like :mod:`._jina_core`: nothing here sends or sleeps. :func:`classify_status` turns an
error response into a retryable :class:`Failure` (429, 5xx) or raises the final error (401/403,
400/422, any other status); :func:`backoff_delay` honours ``Retry-After`` (delta-seconds or an HTTP
date, :func:`parse_retry_after`) and otherwise uses full jitter; :func:`final_error` is the error
once retries run out. :mod:`._jina_flow` drives them.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from multivector.embeddings._jina_core import KEY_HOWTO
from multivector.errors import (
    AuthenticationError,
    EmbeddingError,
    EmbeddingServerError,
    EmbeddingTimeout,
    EmbeddingValidationError,
    RateLimitError,
)

__all__ = [
    "Failure",
    "RetryPolicy",
    "backoff_delay",
    "classify_status",
    "describe_detail",
    "error_detail",
    "final_error",
    "parse_retry_after",
    "redact_detail",
]

logger = logging.getLogger("multivector.embeddings.jina")


def error_detail(response: httpx.Response) -> object:
    """The API's ``detail`` (any JSON), else the body text (truncated)."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(payload, dict) and "detail" in payload:
        return payload["detail"]
    return payload


def redact_detail(detail: object, redact: Callable[[str], str], depth: int = 0) -> object:
    """``detail`` (any decoded JSON) with ``redact`` applied to every string in it."""
    if isinstance(detail, str):
        return redact(detail)
    if depth >= 32 and isinstance(detail, (list, dict)):
        return redact(describe_detail(detail))
    if isinstance(detail, list):
        return [redact_detail(item, redact, depth + 1) for item in detail]
    if isinstance(detail, dict):
        return {redact(str(k)): redact_detail(v, redact, depth + 1) for k, v in detail.items()}
    return detail


def describe_detail(detail: object) -> str:
    """A one-line human form of ``detail``, FastAPI validation lists included."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(p) for p in item.get("loc", ()))
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        text = "; ".join(parts)
    else:
        text = str(detail)
    return text if len(text) <= 300 else text[:297] + "..."


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``rng`` and ``clock`` are injectable for tests.

    ``total_timeout`` (seconds, None for no limit) bounds one request from its first attempt to its
    final answer, measured on ``monotonic``: no wait or attempt is started past it, and each
    attempt's timeout is cut to the time left (``request_timeout`` is the per-attempt ceiling).
    """

    max_retries: int
    backoff_base: float
    backoff_max: float
    rng: random.Random
    clock: Callable[[], float]
    request_timeout: float | None = None
    total_timeout: float | None = None
    monotonic: Callable[[], float] = field(default=time.monotonic)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), else None."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def backoff_delay(attempt: int, retry_after: float | None, policy: RetryPolicy) -> float:
    """Seconds to sleep before retry ``attempt + 1``: the server's hint when given, else full jitter
    over ``backoff_base * 2**attempt``; never more than ``backoff_max``.
    """
    if retry_after is not None:
        return min(retry_after, policy.backoff_max)
    ceiling = min(policy.backoff_max, policy.backoff_base * (2.0 ** min(attempt, 60)))
    return policy.rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Failure:
    kind: Literal["rate_limit", "server", "timeout", "transport"]
    what: str
    retry_after: float | None = None
    exc: httpx.RequestError | None = None


def classify_status(
    response: httpx.Response, redact: Callable[[str], str], policy: RetryPolicy
) -> Failure:
    """A retryable failure for 429 / 5xx; raises the final error for every other status."""
    status = response.status_code
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=policy.clock())
        logger.debug(
            "jina: rate limited; Retry-After=%s remaining-requests=%s remaining-tokens=%s",
            retry_after,
            response.headers.get("X-RateLimit-Remaining-Requests"),
            response.headers.get("X-RateLimit-Remaining-Tokens"),
        )
        return Failure("rate_limit", "HTTP 429", retry_after=retry_after)
    if status >= 500:
        what = f"HTTP {status}: {redact(describe_detail(error_detail(response)))}"
        return Failure(
            "server",
            what,
            retry_after=parse_retry_after(response.headers.get("Retry-After"), now=policy.clock()),
        )
    detail = error_detail(response)
    text = redact(describe_detail(detail))
    if status in (401, 403):
        raise AuthenticationError(
            f"Jina AI rejected the API key (HTTP {status}: {text}); {KEY_HOWTO}"
        )
    if status in (400, 422):
        raise EmbeddingValidationError(
            f"Jina AI rejected the request (HTTP {status}): {text}",
            detail=redact_detail(detail, redact),
        )
    raise EmbeddingError(f"Jina AI answered HTTP {status}: {text}")


def final_error(
    failure: Failure, attempts: int, request: httpx.Request, *, deadline: float | None = None
) -> EmbeddingError:
    """The error once retries (or, with ``deadline``, the total_timeout in seconds) ran out."""
    tail = f"after {attempts} attempt(s) to {request.url}"
    if deadline is not None:
        tail += f" within the total_timeout of {deadline:g}s"
    if failure.kind == "rate_limit":
        return RateLimitError(
            f"Jina AI still rate limited (HTTP 429) {tail}; lower max_concurrency or batch_size, "
            f"or raise max_retries (last Retry-After: {failure.retry_after})",
            retry_after=failure.retry_after,
        )
    if failure.kind == "server":
        return EmbeddingServerError(
            f"Jina AI kept failing ({failure.what}) {tail}; try again later"
        )
    if failure.kind == "timeout":
        return EmbeddingTimeout(
            f"Jina AI did not answer in time ({failure.what}) {tail}; raise timeout "
            "(connect(..., embedder_timeout=...) for a client's built-in embedders)"
        )
    return EmbeddingError(
        f"could not reach Jina AI ({failure.what}) {tail}; check base_url and network"
    )
