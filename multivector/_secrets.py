"""Secrets (API keys): a holder that never shows its value, and scrubbing of raised errors.

:class:`Secret` keeps a key out of ``repr`` / ``str`` / ``vars()`` of whatever holds it, and
refuses to be pickled. :func:`scrub_exception` removes keys from an exception and from everything
an error reporter, logger or debugger prints of it: its message and ``args``, its attributes
(``detail``, a ``JSONDecodeError``'s ``doc``, a response's ``content``, nested lists and dicts),
the headers of any HTTP request or response it keeps, its notes, and the same again for its whole
``__cause__`` / ``__context__`` chain. The finished frames of every traceback in the chain are
cleared of their local variables (they may hold raw request headers or an echoed response); the
line-by-line traceback itself is kept. Messages are redacted where they are built; this is the
second line of defence at each boundary that translates a lower layer's error.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable, MutableMapping
from typing import Any, NoReturn

__all__ = ["MASK", "Secret", "scrub_exception", "scrub_text", "scrub_value"]

#: What replaces a secret.
MASK = "[redacted]"
#: Header names whose values are credentials whatever they hold.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "x-jinaai-api-key", "cookie"}
)
_MAX_DEPTH = 32
_USERINFO = re.compile(r"//[^/@]*@")


class Secret:
    """Holds one secret string; ``repr``, ``str`` and ``vars()`` of its holder show a mask only.

    Pickling (and so sending it to another process by accident) is refused; copies share it.
    """

    __slots__ = ("__value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, got {type(value).__name__}")
        self.__value = value

    def get(self) -> str:
        """The secret itself (only where it is sent)."""
        return self.__value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "an API key is not picklable; pass the key again (headers=..., api_key=...) after loading"
        )

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


def _secrets(secrets: Iterable[str | Secret | None]) -> list[str]:
    out = []
    for item in secrets:
        value = item.get() if isinstance(item, Secret) else item
        if isinstance(value, str) and value.strip():
            out.append(value.strip())
    return sorted(set(out), key=len, reverse=True)  # longest first: a key containing another


def scrub_text(text: str, secrets: Iterable[str | Secret | None]) -> str:
    """``text`` with every secret replaced by :data:`MASK`."""
    for secret in _secrets(secrets):
        text = text.replace(secret, MASK)
    return text


def _clean(value: Any, secrets: list[str], depth: int) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
        for secret in secrets:
            raw = raw.replace(secret.encode("utf-8", "replace"), MASK.encode())
        return raw if isinstance(value, bytes) else bytearray(raw)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_clean(v, secrets, depth + 1) for v in value)
    if isinstance(value, list):
        return [_clean(v, secrets, depth + 1) for v in value]
    if isinstance(value, dict):
        return {
            _clean(k, secrets, depth + 1): _clean(v, secrets, depth + 1) for k, v in value.items()
        }
    return value


def scrub_value(value: Any, secrets: Iterable[str | Secret | None]) -> Any:
    """A copy of ``value`` (str, bytes, or lists / tuples / dicts of them) without the secrets;
    any other object is returned as it is.
    """
    return _clean(value, _secrets(secrets), 0)


def _scrub_headers(holder: object, secrets: list[str]) -> None:
    headers = getattr(holder, "headers", None)
    if not isinstance(headers, MutableMapping):
        return
    try:
        for name in list(headers.keys()):
            value = headers[name]
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            if str(name).lower() in SENSITIVE_HEADERS or _clean(text, secrets, 0) != text:
                headers[name] = MASK
    except (TypeError, ValueError, RuntimeError):  # pragma: no cover - an exotic mapping
        return


def _scrub_url(holder: object, secrets: list[str]) -> None:
    url = getattr(holder, "url", None)
    if url is None or isinstance(url, str) or not hasattr(url, "scheme"):
        return
    text = str(url)
    cleaned = _USERINFO.sub("//", _clean(text, secrets, 0))
    if cleaned != text:
        try:
            holder.url = type(url)(cleaned)  # type: ignore[attr-defined]
        except Exception:  # pragma: no cover - a URL type that cannot be rebuilt
            pass


def _scrub_http(value: object, secrets: list[str]) -> None:
    """Headers and URL of an HTTP request or response kept by an exception (and of a
    response's request).
    """
    for holder in (value, *(_inner(value, name) for name in ("_request", "request"))):
        if holder is not None:
            _scrub_headers(holder, secrets)
            _scrub_url(holder, secrets)


def _inner(value: object, name: str) -> object:
    try:
        inner = getattr(value, name, None)
    except RuntimeError:  # httpx raises when a response has no request
        return None
    return None if inner is value else inner


def scrub_exception(
    exc: BaseException, secrets: Iterable[str | Secret | None], *, clear_frames: bool = True
) -> BaseException:
    """Remove ``secrets`` from ``exc`` and its whole cause / context chain, in place; returns it.

    With ``clear_frames``, the finished frames of every traceback in the chain lose their local
    variables (they may hold raw request headers); the traceback lines remain. Frames still
    running (the caller's) are left alone.
    """
    keys = _secrets(secrets)
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if keys:
            try:
                current.args = tuple(_clean(a, keys, 1) for a in current.args)
            except (TypeError, AttributeError):  # pragma: no cover - args cannot be set
                pass
        for name, value in list(getattr(current, "__dict__", {}).items()):
            if isinstance(value, BaseException):
                todo.append(value)
                continue
            if keys and isinstance(value, (str, bytes, bytearray, list, tuple, dict)):
                cleaned = _clean(value, keys, 0)
                if cleaned is not value:
                    try:
                        setattr(current, name, cleaned)
                    except (AttributeError, TypeError):  # pragma: no cover - a read-only slot
                        pass
            elif value is not None:
                _scrub_http(value, keys)
        for chained in (current.__cause__, current.__context__):
            if chained is not None:
                todo.append(chained)
        todo.extend(getattr(current, "exceptions", ()) or ())  # exception groups
        if clear_frames and current.__traceback__ is not None:
            traceback.clear_frames(current.__traceback__)
    return exc
