"""The request flow of the Jina client and the two loops that drive it.

:func:`call_flow` is a generator in the style of httpx's ``Auth.auth_flow``: it yields
:class:`Send` / :class:`Sleep` steps and receives each request's outcome (an ``httpx.Response`` or
the ``httpx.RequestError`` it raised). Every decision (what to retry, how long to wait, which error
to raise) is a pure function of ``_jina_retry``; :func:`drive_sync` and :func:`drive_async` only send
and sleep, so the sync and async clients cannot drift apart.

``run_bounded_sync`` / ``run_bounded_async`` run several jobs with at most ``limit`` in flight and
return their results in submission order; on the first failure (or cancellation) the jobs not yet
started are cancelled and every started one is awaited, so nothing is left running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeAlias, TypeVar

import httpx

from multivector._types import F32Array
from multivector.embeddings._jina_core import parse_response
from multivector.embeddings._jina_retry import (
    Failure,
    RetryPolicy,
    backoff_delay,
    classify_status,
    final_error,
)
from multivector.errors import EmbeddingError

T = TypeVar("T")
logger = logging.getLogger("multivector.embeddings.jina")


@dataclass(frozen=True)
class Send:
    """Step: send this request and send back its response or transport error."""

    request: httpx.Request


@dataclass(frozen=True)
class Sleep:
    """Step: sleep this many seconds, then send back ``None``."""

    seconds: float


Step: TypeAlias = "Send | Sleep"
Outcome: TypeAlias = "httpx.Response | httpx.RequestError | None"


def redact_request(request: httpx.Request) -> None:
    """Mask the request's ``Authorization`` header (a sent or abandoned request keeps no key)."""
    if "Authorization" in request.headers:
        request.headers["Authorization"] = "Bearer [redacted]"


class Job(NamedTuple):
    """One ready request and the number of matrices its answer must hold."""

    request: httpx.Request
    expected: int


def batch_flow(
    job: Job, *, dimensions: int, policy: RetryPolicy, redact: Callable[[str], str]
) -> Generator[Step, Outcome, list[F32Array]]:
    """:func:`call_flow` for one batch, parsing its answer into ``job.expected`` matrices."""

    def parse(response: httpx.Response) -> list[F32Array]:
        return parse_response(response, expected=job.expected, dimensions=dimensions)

    return call_flow(job.request, parse, policy=policy, redact=redact)


def _attempt_timeout(policy: RetryPolicy, left: float | None) -> float | None:
    if left is None:
        return policy.request_timeout
    return left if policy.request_timeout is None else min(policy.request_timeout, left)


def call_flow(
    request: httpx.Request,
    parse: Callable[[httpx.Response], T],
    *,
    policy: RetryPolicy,
    redact: Callable[[str], str],
) -> Generator[Step, Outcome, T]:
    """Send ``request`` until it succeeds, retrying 429, 5xx and transport errors with backoff.

    Returns ``parse(response)`` of the first 2xx answer; raises the matching
    :class:`~multivector.errors.EmbeddingError` subclass otherwise. With ``policy.total_timeout``
    it gives up (with the last failure's error) once the time is spent, and never starts a wait
    that would end past it; each attempt's timeout is cut to the time left.
    """
    failure: Failure | None = None
    attempts = policy.max_retries + 1
    total = policy.total_timeout
    start = policy.monotonic()
    made = 0
    out_of_time = False

    def left() -> float | None:
        return None if total is None else total - (policy.monotonic() - start)

    for attempt in range(attempts):
        if failure is not None:
            delay = backoff_delay(attempt - 1, failure.retry_after, policy)
            remaining = left()
            if remaining is not None and delay >= remaining:
                out_of_time = True
                break
            logger.debug(
                "jina: retry %d/%d in %.3fs after %s",
                attempt,
                policy.max_retries,
                delay,
                failure.what,
            )
            yield Sleep(delay)
        remaining = left()
        if remaining is not None and remaining <= 0 and failure is not None:
            out_of_time = True
            break
        timeout = _attempt_timeout(policy, remaining)
        if timeout is not None:
            request.extensions = {
                **request.extensions,
                "timeout": httpx.Timeout(max(timeout, 0.001)).as_dict(),
            }
        made += 1
        outcome = yield Send(request)
        if isinstance(outcome, httpx.Response):
            logger.debug(
                "jina: POST %s -> HTTP %d (attempt %d)",
                request.url.path,
                outcome.status_code,
                attempt + 1,
            )
            if outcome.is_success:
                return parse(outcome)
            failure = classify_status(outcome, redact, policy)
        elif isinstance(outcome, httpx.RequestError):
            kind: Literal["timeout", "transport"] = (
                "timeout" if isinstance(outcome, httpx.TimeoutException) else "transport"
            )
            logger.debug(
                "jina: POST %s -> %s (attempt %d)",
                request.url.path,
                type(outcome).__name__,
                attempt + 1,
            )
            failure = Failure(kind, type(outcome).__name__, exc=outcome)
        else:
            raise EmbeddingError(
                f"internal error: the driver sent {outcome!r} instead of a response"
            )
    if failure is None:  # unreachable: the loop runs at least once and returns on success
        raise EmbeddingError("internal error: no attempt was made")
    if not out_of_time and total is not None:
        remaining = left()
        out_of_time = remaining is not None and remaining <= 0
    redact_request(request)
    error = final_error(failure, made, request, deadline=total if out_of_time else None)
    if failure.exc is not None:
        try:
            redact_request(failure.exc.request)
        except RuntimeError:  # the error was raised without a request
            pass
        raise error from failure.exc
    raise error


def drive_sync(
    flow: Generator[Step, Outcome, T],
    send: Callable[[httpx.Request], httpx.Response],
    sleep: Callable[[float], None],
) -> T:
    """Run ``flow`` to completion with a blocking ``send`` and ``sleep``."""
    step = next(flow)
    while True:
        outcome: Outcome = None
        if isinstance(step, Sleep):
            sleep(step.seconds)
        elif isinstance(step, Send):
            try:
                outcome = send(step.request)
            except httpx.RequestError as exc:  # transport, decoding, redirect loops
                outcome = exc
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result


async def drive_async(
    flow: Generator[Step, Outcome, T],
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """Run ``flow`` to completion with an awaitable ``send`` and ``sleep``."""
    step = next(flow)
    while True:
        outcome: Outcome = None
        if isinstance(step, Sleep):
            await sleep(step.seconds)
        elif isinstance(step, Send):
            try:
                outcome = await send(step.request)
            except httpx.RequestError as exc:  # transport, decoding, redirect loops
                outcome = exc
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result


def run_bounded_sync(jobs: Sequence[Callable[[], T]], *, limit: int, name: str) -> list[T]:
    """Run ``jobs`` on at most ``limit`` threads (inline when one job); results in order."""
    if len(jobs) <= 1 or limit <= 1:
        return [job() for job in jobs]
    pool = ThreadPoolExecutor(max_workers=min(limit, len(jobs)), thread_name_prefix=name)
    futures: list[Future[T]] = []
    try:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


async def run_bounded_async(jobs: Sequence[Callable[[], Awaitable[T]]], *, limit: int) -> list[T]:
    """Await ``jobs`` with at most ``limit`` in flight; results in order."""
    if len(jobs) == 1:
        return [await jobs[0]()]
    semaphore = asyncio.Semaphore(limit)

    async def bounded(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    tasks = [asyncio.ensure_future(bounded(job)) for job in jobs]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
