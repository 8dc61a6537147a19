"""The one boundary where qdrant-client exceptions become :class:`~multivector.errors.BackendError`.

Every call into Qdrant goes through :meth:`QdrantCaller.call`: transient failures (connection
errors, timeouts, HTTP 429 / 5xx) are retried with exponential backoff; anything else, and a
transient failure that outlasts the retries, is raised as ``BackendError`` with a message naming
the operation and the fix, and with the qdrant-client exception as its ``__cause__``. The API key
never leaves this module: it is held in a :class:`~multivector._secrets.Secret` (masked in
``repr`` / ``vars()``) and scrubbed from the message and from the whole cause chain (arguments,
attributes, request and response headers, frame locals of the lower layers' tracebacks).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from multivector._secrets import Secret, scrub_exception
from multivector.errors import BackendError, MultiVectorError

__all__ = ["MIN_SERVER_VERSION", "QdrantCaller", "check_server_version", "redact_url"]

T = TypeVar("T")

#: Multi-vector MaxSim and the sparse ``Modifier.IDF`` both arrived in Qdrant 1.10.
MIN_SERVER_VERSION = (1, 10, 0)

_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


def redact_url(url: str | None) -> str | None:
    """``url`` without user info or query string (they may carry credentials)."""
    if url is None:
        return None
    url = re.sub(r"//[^/@]*@", "//", url)
    return url.split("?", 1)[0]


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _is_transient(exc: BaseException) -> bool:
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    if isinstance(exc, UnexpectedResponse):
        return _status_of(exc) in _TRANSIENT_STATUS
    if isinstance(exc, (ResponseHandlingException, ConnectionError, TimeoutError)):
        return True
    code = getattr(exc, "code", None)  # grpc.RpcError
    if callable(code):
        try:
            name = str(getattr(code(), "name", ""))
        except Exception:  # pragma: no cover - defensive: a broken grpc error object
            return False
        return name in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED")
    return False


def _hint(exc: BaseException) -> str:
    status = _status_of(exc)
    text = f"{type(exc).__name__}: {exc}".lower()
    if status in (401, 403) or "unauthori" in text or "forbidden" in text:
        return "the server rejected the credentials; check api_key"
    if "timed out" in text or "timeout" in text:
        return "the server did not answer in time; raise timeout=... or check the server load"
    if status is None and ("connect" in text or "refused" in text or "resolve" in text):
        return "could not reach the server; check the url and that Qdrant is running"
    return "see the Qdrant server log for details"


@dataclass
class QdrantCaller:
    """Runs qdrant-client calls with retries and error translation.

    ``secret`` (the API key, given as a str or a :class:`Secret`, kept as a ``Secret``) is scrubbed
    from every error; ``where`` names the deployment.
    """

    where: str
    secret: Secret | str | None = field(default=None, repr=False)
    max_retries: int = 3
    backoff: float = 0.25
    #: Serialise every call (qdrant-client's local mode, ``:memory:`` / ``path``, is not
    #: thread-safe: a read during another thread's upsert can fail inside it). A server: False.
    serialise: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.secret, str):
            self.secret = Secret(self.secret) if self.secret.strip() else None

    def scrub(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        secret = self.secret.get() if isinstance(self.secret, Secret) else self.secret
        return text.replace(secret, "***") if secret else text

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``; transient failures are retried, every failure is translated."""
        if self.serialise:
            with self._lock:
                return self._call(what, fn, *args, **kwargs)
        return self._call(what, fn, *args, **kwargs)

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except MultiVectorError:  # ours already (raised by a callback): keep its type
                raise
            except Exception as exc:
                if _is_transient(exc) and attempt < self.max_retries:
                    time.sleep(self.backoff * (2**attempt))
                    attempt += 1
                    continue
                detail = self.scrub(f"{type(exc).__name__}: {exc}")[:600]
                retried = f" after {attempt} retries" if attempt else ""
                error = BackendError(
                    f"Qdrant at {self.where}: {what} failed{retried} ({detail}); {_hint(exc)}"
                )
                error.__cause__ = exc
                scrub_exception(error, [self.secret])  # the cause chain keeps no key
                raise error from exc


def _parse_version(text: str) -> tuple[int, int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", text)[:3]]
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


def check_server_version(version: str, *, where: str) -> None:
    """Raise BackendError when a Qdrant server is older than :data:`MIN_SERVER_VERSION`."""
    if _parse_version(version) < MIN_SERVER_VERSION:
        need = ".".join(map(str, MIN_SERVER_VERSION))
        raise BackendError(
            f"Qdrant at {where} runs version {version}, which is too old: multivector needs "
            f">= {need} (multi-vector MaxSim and sparse vectors with Modifier.IDF); upgrade the server"
        )
