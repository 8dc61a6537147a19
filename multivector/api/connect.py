"""``connect`` / ``connect_to_qdrant``: open a store and wrap it in a :class:`Client`.

The one place that chooses a backend and hands the client the factory for built-in embedders.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multivector.api.client import Client
from multivector.embeddings.factory import EmbedderFactory

__all__ = ["connect", "connect_to_qdrant"]


def connect(
    path: str | Path | None = None,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> Client:
    """Open the embedded store: in memory when ``path`` is None, else durable under that folder.

    ``headers`` carries provider keys as in Weaviate (``{"X-JinaAI-Api-Key": key}``); they are
    used to embed text for ``text2vec_jinaai`` spaces and never printed.
    """
    if path is None:
        if options:
            raise TypeError(
                f"connect(): unexpected options {sorted(options)} for an in-memory store"
            )
        from multivector.backends.embedded.client import EmbeddedClient

        return Client(EmbeddedClient(), headers=headers, embedder_factory=EmbedderFactory(headers))
    from multivector.backends.durable.client import open_durable_client

    return Client(
        open_durable_client(path, **options),
        headers=headers,
        embedder_factory=EmbedderFactory(headers),
    )


def connect_to_qdrant(
    url: str | None = None,
    api_key: str | None = None,
    location: str | None = None,
    path: str | Path | None = None,
    headers: Mapping[str, str] | None = None,
    **client_options: Any,
) -> Client:
    """The same client on Qdrant: a server or cluster (``url``), or in-process
    (``location=":memory:"`` or ``path=...``). Needs ``pip install 'multivector[qdrant]'``.
    """
    from multivector.backends.qdrant.client import open_qdrant_client

    backend = open_qdrant_client(
        url=url, api_key=api_key, location=location, path=path, **client_options
    )
    return Client(backend, headers=headers, embedder_factory=EmbedderFactory(headers))
