"""Jina AI multi-vector embeddings (``jina-colbert-v2``, ``jina-embeddings-v4``), sync and async.

Both clients run the same pure request flow (:mod:`multivector.embeddings._jina_flow`, over the
decisions of ``_jina_core`` and ``_jina_retry``); they differ only in how they send
(``httpx.Client`` on a bounded thread pool vs ``httpx.AsyncClient`` under an
``asyncio.Semaphore``) and how they sleep between retries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Generator, Sequence
from types import TracebackType

import httpx

from multivector._secrets import Secret, scrub_exception, scrub_text
from multivector._types import F32Array
from multivector.embeddings._jina_core import (
    DEFAULT_BASE_URL,
    KEY_HOWTO,
    InputType,
    JinaSettings,
    build_body,
    build_request,
    plan_batches,
)
from multivector.embeddings._jina_flow import (
    Job,
    Outcome,
    Step,
    batch_flow,
    drive_async,
    drive_sync,
    redact_request,
    run_bounded_async,
    run_bounded_sync,
)
from multivector.embeddings._jina_retry import RetryPolicy
from multivector.errors import AuthenticationError, ConfigError

__all__ = ["JinaEmbeddings"]

logger = logging.getLogger("multivector.embeddings.jina")
ENV_VARS = ("JINA_API_KEY", "JINAAI_APIKEY")
_USER_AGENT = "multivector (+https://github.com/multivector)"


#: Pool-closing tasks scheduled by ``close()`` on a running loop (kept until done).
_CLOSING: set[asyncio.Future[None]] = set()


def _close_async_pool(client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop | None) -> None:
    if loop is None or loop.is_closed() or not loop.is_running():
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(client.aclose())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)
    else:
        asyncio.run_coroutine_threadsafe(client.aclose(), loop)


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise ConfigError(
            "embed_documents() takes a list of strings, not one string; use embed_query() or [text]"
        )
    if not isinstance(texts, Sequence):
        raise ConfigError(f"texts must be a list of strings, got {type(texts).__name__}")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise ConfigError(f"texts[{i}] is {type(text).__name__}, not str; pass text only")
    return out


class JinaEmbeddings:
    """Token matrices from Jina AI's multi-vector API; implements ``AsyncMultiVectorEmbedder``.

    The API key comes from ``api_key``, else ``JINA_API_KEY``, else ``JINAAI_APIKEY``; it is read at
    first use (construction never touches the network) and never appears in messages, logs or repr.
    Inputs are split into requests of at most ``batch_size`` (<= 512) texts and an estimated
    ``max_tokens_per_request`` tokens, sent ``max_concurrency`` at a time; 429, 5xx and transport
    errors are retried ``max_retries`` times with full-jitter exponential backoff (``backoff_base``
    doubling, capped at ``backoff_max``), honouring ``Retry-After`` (also capped at ``backoff_max``).
    ``timeout`` bounds each attempt (connect, each read and write); ``total_timeout`` bounds one
    request end to end, retries and waits included (None: no overall bound); past it the last
    failure's error is raised (``EmbeddingTimeout`` for a server that does not answer).
    Errors carry no key in their messages, attributes or causes; ``close`` / ``aclose`` release the
    HTTP connection pools.
    ``transport`` / ``async_transport`` (e.g. ``httpx.MockTransport``), ``sleep`` / ``async_sleep``,
    ``rng``, ``clock`` (wall time, for ``Retry-After`` dates) and ``monotonic`` (the deadline's
    clock) are injection points for tests.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        model: str = "jina-colbert-v2",
        dimensions: int = 128,
        base_url: str | None = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_concurrency: int = 4,
        batch_size: int = 64,
        max_tokens_per_request: int = 32768,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        total_timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        if api_key is not None and not isinstance(api_key, str):
            raise ConfigError(f"api_key must be a str or None, got {type(api_key).__name__}")
        self._settings = JinaSettings(
            model=model,
            dimensions=dimensions,
            base_url=base_url if base_url is not None else DEFAULT_BASE_URL,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            batch_size=batch_size,
            max_tokens_per_request=max_tokens_per_request,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            total_timeout=total_timeout,
        )
        self._secret = Secret(api_key.strip()) if api_key and api_key.strip() else None
        self._policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=self._settings.backoff_base,
            backoff_max=self._settings.backoff_max,
            rng=rng or random.Random(),
            clock=clock or time.time,
            request_timeout=self._settings.timeout,
            total_timeout=self._settings.total_timeout,
            monotonic=monotonic or time.monotonic,
        )
        self._transport = transport
        self._async_transport = async_transport
        self._sleep = sleep or time.sleep
        self._async_sleep = async_sleep or asyncio.sleep
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    # ------------------------------------------------------------------ introspection
    @property
    def settings(self) -> JinaSettings:
        """The validated settings (no key in them)."""
        return self._settings

    @property
    def model(self) -> str:
        """The Jina model name."""
        return self._settings.model

    @property
    def dimensions(self) -> int:
        """Width of every token vector returned."""
        return self._settings.dimensions

    @property
    def base_url(self) -> str:
        """The API root, without a trailing slash."""
        return self._settings.base_url

    def __repr__(self) -> str:
        s = self._settings
        return (
            f"JinaEmbeddings(model={s.model!r}, dimensions={s.dimensions}, base_url={s.base_url!r})"
        )

    # ------------------------------------------------------------------ shared preparation
    def _api_key(self) -> str:
        if self._secret is not None:
            return self._secret.get()
        for var in ENV_VARS:
            value = os.environ.get(var, "").strip()
            if value:
                return value
        raise AuthenticationError(f"no Jina AI API key is configured; {KEY_HOWTO}")

    def _jobs(self, texts: list[str], input_type: InputType) -> list[Job]:
        key = self._api_key()
        s = self._settings
        cap = s.spec.max_query_tokens if input_type == "query" else s.spec.max_document_tokens
        batches = plan_batches(
            texts, batch_size=s.batch_size, max_tokens=s.max_tokens_per_request, cap=cap
        )
        logger.debug(
            "jina: %d %s text(s) -> %d request(s), batch sizes %s",
            len(texts),
            input_type,
            len(batches),
            [b.stop - b.start for b in batches],
        )
        headers = {
            "Authorization": f"Bearer {key}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        return [
            Job(
                build_request(s, build_body(s, texts[b.start : b.stop], input_type), headers),
                b.stop - b.start,
            )
            for b in batches
        ]

    def _flow(self, job: Job) -> Generator[Step, Outcome, list[F32Array]]:
        return batch_flow(
            job, dimensions=self._settings.dimensions, policy=self._policy, redact=self._redact
        )

    def _secrets(self) -> list[str | Secret | None]:
        return [self._secret, *(os.environ.get(v) for v in ENV_VARS)]

    def _redact(self, text: str) -> str:
        return scrub_text(text, self._secrets())

    def _scrubbed(self, exc: BaseException, jobs: Sequence[Job]) -> BaseException:
        """``exc`` without the key anywhere in it or its causes (requests redacted too)."""
        for job in jobs:
            redact_request(job.request)
        return scrub_exception(exc, self._secrets())

    def _limits(self) -> httpx.Limits:
        n = self._settings.max_concurrency
        return httpx.Limits(max_connections=n, max_keepalive_connections=n)

    # ------------------------------------------------------------------ sync
    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._client.is_closed:
                self._client = httpx.Client(
                    transport=self._transport, timeout=self._settings.timeout, limits=self._limits()
                )
            return self._client

    def _embed_sync(self, texts: list[str], input_type: InputType) -> list[F32Array]:
        if not texts:
            return []
        jobs = self._jobs(texts, input_type)
        client = self._sync_client()

        def run(job: Job) -> Callable[[], list[F32Array]]:
            return lambda: drive_sync(self._flow(job), client.send, self._sleep)

        try:
            parts = run_bounded_sync(
                [run(j) for j in jobs],
                limit=self._settings.max_concurrency,
                name="multivector-jina",
            )
        except Exception as exc:
            self._scrubbed(exc, jobs)
            raise
        finally:
            for job in jobs:
                redact_request(job.request)
        return [m for part in parts for m in part]

    def embed_documents(self, texts: Sequence[str]) -> list[F32Array]:
        """One float32 ``[n_tokens, dimensions]`` matrix per document, in input order."""
        return self._embed_sync(_check_texts(texts), "document")

    def embed_query(self, text: str) -> F32Array:
        """The query's float32 ``[n_tokens, dimensions]`` matrix (query encoding)."""
        if not isinstance(text, str):
            raise ConfigError(f"embed_query() takes a str, got {type(text).__name__}")
        return self._embed_sync([text], "query")[0]

    def close(self) -> None:
        """Close the HTTP connection pools (the client stays usable; a pool reopens on demand).

        The async pool is closed on its own event loop while that loop runs (as a task when it is
        this thread's loop, thread-safely when it runs elsewhere); a pool whose loop has ended
        holds no open connection that could still be closed and is dropped.
        """
        with self._lock:
            client, self._client = self._client, None
            aclient, loop_ref = self._aclient, self._aclient_loop
            self._aclient, self._aclient_loop = None, None
        if client is not None:
            client.close()
        if aclient is not None:
            _close_async_pool(aclient, loop_ref() if loop_ref is not None else None)

    def __enter__(self) -> JinaEmbeddings:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ async
    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        bound = self._aclient_loop() if self._aclient_loop is not None else None
        if self._aclient is None or self._aclient.is_closed or bound is not loop:
            # An AsyncClient's pool belongs to one event loop; a new loop gets a new client.
            self._aclient = httpx.AsyncClient(
                transport=self._async_transport,
                timeout=self._settings.timeout,
                limits=self._limits(),
            )
            self._aclient_loop = weakref.ref(loop)
        return self._aclient

    async def _embed_async(self, texts: list[str], input_type: InputType) -> list[F32Array]:
        if not texts:
            return []
        jobs = self._jobs(texts, input_type)
        client = self._async_client()

        def run(job: Job) -> Callable[[], Awaitable[list[F32Array]]]:
            return lambda: drive_async(self._flow(job), client.send, self._async_sleep)

        try:
            parts = await run_bounded_async(
                [run(j) for j in jobs], limit=self._settings.max_concurrency
            )
        except Exception as exc:
            self._scrubbed(exc, jobs)
            raise
        finally:
            for job in jobs:
                redact_request(job.request)
        return [m for part in parts for m in part]

    async def aembed_documents(self, texts: Sequence[str]) -> list[F32Array]:
        """Async :meth:`embed_documents`."""
        return await self._embed_async(_check_texts(texts), "document")

    async def aembed_query(self, text: str) -> F32Array:
        """Async :meth:`embed_query`."""
        if not isinstance(text, str):
            raise ConfigError(f"aembed_query() takes a str, got {type(text).__name__}")
        return (await self._embed_async([text], "query"))[0]

    async def aclose(self) -> None:
        """Close both HTTP connection pools (an async pool bound to another event loop is closed
        as :meth:`close` does).
        """
        client, loop_ref = self._aclient, self._aclient_loop
        bound = loop_ref() if loop_ref is not None else None
        if client is not None and bound is asyncio.get_running_loop():
            self._aclient, self._aclient_loop = None, None
            await client.aclose()
        self.close()

    async def __aenter__(self) -> JinaEmbeddings:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
