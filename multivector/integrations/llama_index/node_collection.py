"""The collection a LlamaIndex store lives in: opened when it exists (whatever made it), else
created with the node schema (:data:`~.nodes.NODE_PROPERTIES`) and one multi-vector space; and
the client it lives in (given, or opened on a path or in memory).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from multivector._types import MultiVectorEmbedder
from multivector.api.client import Client
from multivector.api.collection import Collection
from multivector.api.connect import connect
from multivector.errors import ConfigError
from multivector.integrations.llama_index.nodes import NODE_PROPERTIES, TEXT_PROPERTY
from multivector.schema.config import VectorDType
from multivector.schema.configure import Configure

__all__ = ["open_client", "open_existing", "open_node_collection", "with_client"]

T = TypeVar("T")


def open_client(client: Client | None, path: str | Path | None) -> tuple[Client, bool]:
    """``client`` (not owned), else a new one (owned): durable under ``path``, else in memory."""
    if client is not None and path is not None:
        raise ConfigError("pass either client=... or path=..., not both")
    if client is None:
        return connect(path), True
    if not isinstance(client, Client):
        raise ConfigError(
            f"client must be a multivector Client (multivector.connect(...) or "
            f"connect_to_qdrant(...)), got {type(client).__name__}"
        )
    return client, False


def with_client(
    client: Client | None, path: str | Path | None, build: Callable[[Client], T]
) -> tuple[T, Client | None]:
    """``build(client)`` on :func:`open_client`'s client, and that client when it was opened here
    (the caller closes it; it is closed at once when ``build`` fails).
    """
    opened, owned = open_client(client, path)
    try:
        return build(opened), (opened if owned else None)
    except BaseException:
        if owned:
            opened.close()
        raise


def open_existing(
    client: Client, collection_name: str, *, embedder: MultiVectorEmbedder | None, space: str | None
) -> tuple[Collection, MultiVectorEmbedder | None]:
    """Existing collection ``collection_name`` and the embedder the store itself must run.

    When ``embedder`` is given for a space that embeds text itself, the collection embeds with
    it (and a built-in embedder is not built a second time); otherwise the store runs it.
    """
    config = client.collections.list_all().get(collection_name)
    if config is None:  # let the client name the collections that do exist
        return client.collections.use(collection_name), embedder
    vec = config.vector(space) if space is not None else None
    if vec is None and space is None and len(config.vectors) == 1:
        vec = config.vectors[0]
    vectorizes = vec is not None and vec.has_vectorizer
    collection = client.collections.use(
        collection_name,
        embedders={vec.name: embedder} if vec is not None and vectorizes and embedder else None,
    )
    return collection, None if vectorizes else embedder


def open_node_collection(
    client: Client,
    collection_name: str,
    *,
    embedder: MultiVectorEmbedder | None,
    vector_name: str,
    dtype: VectorDType,
) -> tuple[Collection, MultiVectorEmbedder | None]:
    """Open ``collection_name`` in ``client``, creating it when missing, and the embedder the store
    itself must run (None when the collection's ``text2vec`` space embeds with ``embedder``).

    A new collection gets a ``text2vec`` space ``vector_name`` over ``text`` when ``embedder`` is
    given (a built-in embedder is stored as its settings, so a reopen needs none), else a
    self-provided one.
    """
    if client.collections.exists(collection_name):
        return open_existing(client, collection_name, embedder=embedder, space=vector_name)
    space = (
        Configure.MultiVectors.text2vec(
            vector_name,
            embedder=embedder,
            source_properties=[TEXT_PROPERTY],
            dtype=dtype,
        )
        if embedder is not None
        else Configure.MultiVectors.self_provided(vector_name, dtype=dtype)
    )
    collection = client.collections.create(
        collection_name,
        vector_config=[space],
        properties=list(NODE_PROPERTIES),
        auto_schema=False,
    )
    return collection, None
