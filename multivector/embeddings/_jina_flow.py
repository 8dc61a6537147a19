"""The request flow of the Jina client and the two loops that drive it.

:func:`call_flow` is a generator in the style of httpx's ``Auth.auth_flow``: it yields
:class:`Send` / :class:`Sleep` steps and receives each request's outcome (an ``httpx.Response`` or
the ``httpx.TransportError`` it raised). Every decision (what to retry, how long to wait, which error
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
Outcome: TypeAlias = "httpx.Response | httpx.TransportError | None"


def _redact(request: httpx.Request) -> None:
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


def call_flow(
    request: httpx.Request,
    parse: Callable[[httpx.Response], T],
    *,
    policy: RetryPolicy,
    redact: Callable[[str], str],
) -> Generator[Step, Outcome, T]:
    """Send ``request`` until it succeeds, retrying 429, 5xx and transport errors with backoff.

    Returns ``parse(response)`` of the first 2xx answer; raises the matching
    :class:`~multivector.errors.EmbeddingError` subclass otherwise.
    """
    failure: Failure | None = None
    attempts = policy.max_retries + 1
    for attempt in range(attempts):
        if failure is not None:
            delay = backoff_delay(attempt - 1, failure.retry_after, policy)
            logger.debug(
                "jina: retry %d/%d in %.3fs after %s",
                attempt,
                policy.max_retries,
                delay,
                failure.what,
            )
            yield Sleep(delay)
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
        elif isinstance(outcome, httpx.TransportError):
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
    _redact(request)
    error = final_error(failure, attempts, request)
    if failure.exc is not None:
        try:
            _redact(failure.exc.request)
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
            except httpx.TransportError as exc:
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
            except httpx.TransportError as exc:
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
