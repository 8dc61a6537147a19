"""``connect`` / ``connect_to_qdrant``: open a store and wrap it in a :class:`Client`.

The one place that chooses a backend and hands the client the factory for built-in embedders
(with the provider keys from ``headers`` and the ``embedder_timeout``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multivector._checks import check_number
from multivector._secrets import Secret
from multivector.api.client import Client
from multivector.embeddings.factory import EmbedderFactory
from multivector.errors import ConfigError

__all__ = ["DEFAULT_EMBEDDER_TIMEOUT", "connect", "connect_to_qdrant"]

#: Seconds one request of a built-in embedder (Jina) may take, retries and waits included.
DEFAULT_EMBEDDER_TIMEOUT = 30.0


def _factory(headers: Mapping[str, str] | None, embedder_timeout: float | None) -> EmbedderFactory:
    if headers is not None and not isinstance(headers, Mapping):
        raise ConfigError(
            f"headers must be a dict of header name -> value, got {type(headers).__name__}"
        )
    timeout = (
        None
        if embedder_timeout is None
        else check_number("embedder_timeout", embedder_timeout, minimum=0.0, strict=True)
    )
    return EmbedderFactory(headers, timeout=timeout)


def connect(
    path: str | Path | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    embedder_timeout: float | None = DEFAULT_EMBEDDER_TIMEOUT,
    **options: Any,
) -> Client:
    """Open the embedded store: in memory when ``path`` is None, else durable under that folder.

    ``headers`` carries provider keys as in Weaviate (``{"X-JinaAI-Api-Key": key}``); they are
    used to embed text for ``text2vec_jinaai`` spaces and never printed. ``embedder_timeout``
    (seconds, default 30) bounds each request those embedders send, end to end with every retry
    and wait: a hung provider fails ``near_text`` or an import with ``EmbeddingTimeout`` within
    it. None leaves only the embedder's own per-attempt timeout and retry count.
    """
    factory = _factory(headers, embedder_timeout)
    if path is None:
        if options:  # as Python does for an unexpected keyword argument (pinned by the tests)
            raise TypeError(
                f"connect(): unexpected options {sorted(options)} for an in-memory store; they "
                "apply to a durable store only (connect(path, ...))"
            )
        from multivector.backends.embedded.client import EmbeddedClient

        return Client(EmbeddedClient(), headers=headers, embedder_factory=factory)
    from multivector.backends.durable.client import open_durable_client

    return Client(open_durable_client(path, **options), headers=headers, embedder_factory=factory)


def connect_to_qdrant(
    url: str | None = None,
    api_key: str | None = None,
    location: str | None = None,
    path: str | Path | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    embedder_timeout: float | None = DEFAULT_EMBEDDER_TIMEOUT,
    **client_options: Any,
) -> Client:
    """The same client on Qdrant: a server or cluster (``url``), or in-process
    (``location=":memory:"`` or ``path=...``). Needs ``pip install 'multivector[qdrant]'``.

    ``headers`` and ``embedder_timeout`` are as in :func:`connect`; ``client_options`` go to
    ``QdrantClient`` (its own ``timeout`` bounds each Qdrant request).
    """
    from multivector.backends.qdrant.client import open_qdrant_client

    factory = _factory(headers, embedder_timeout)
    key = Secret(api_key) if isinstance(api_key, str) and api_key.strip() else api_key
    del api_key  # no frame of ours keeps the raw key (error reporters print frame locals)
    backend = open_qdrant_client(
        url=url, api_key=key, location=location, path=path, **client_options
    )
    return Client(backend, headers=headers, embedder_factory=factory)
