"""Where a LangChain store's collection comes from: a client (given, or opened on a path or in
memory) and a collection (opened when it exists, else created in the ``from_texts`` layout).

Nothing here imports LangChain.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multivector._types import MultiVectorEmbedder
from multivector.api.client import Client
from multivector.api.collection import Collection
from multivector.api.connect import connect
from multivector.errors import ConfigError
from multivector.schema.config import DataType, Property
from multivector.schema.configure import Configure

__all__ = ["STORE_OPTIONS", "VECTOR_NAME", "Opened", "open_client", "open_collection"]

#: The vector space ``from_texts`` creates.
VECTOR_NAME = "multi_vector"
#: Keyword arguments ``from_texts`` / ``from_existing_collection`` pass on to the constructor.
STORE_OPTIONS = frozenset({"target_vector", "text_key", "metadata_key"})


@dataclass
class Opened:
    """A client and whether the store opened it (and so must close it)."""

    client: Client
    owned: bool


def open_client(client: Client | None, path: str | Path | None) -> Opened:
    """``client``, else a new one: durable under ``path``, in memory when ``path`` is None."""
    if client is not None and path is not None:
        raise ConfigError(
            "pass either client=... or path=..., not both (path opens a new durable client)"
        )
    if client is not None:
        if not isinstance(client, Client):
            raise ConfigError(
                f"client must be a multivector Client (multivector.connect(...) or "
                f"connect_to_qdrant(...)), got {type(client).__name__}"
            )
        return Opened(client, owned=False)
    return Opened(connect(path), owned=True)


def check_options(where: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The store options among ``options``; anything else is an error naming it."""
    unknown = sorted(set(options) - STORE_OPTIONS)
    if unknown:
        raise ConfigError(
            f"{where}: unexpected arguments {unknown}; known: {sorted(STORE_OPTIONS)}, plus "
            "ids, collection_name, client and path"
        )
    return dict(options)


def open_collection(
    client: Client,
    name: str | None,
    embedder: MultiVectorEmbedder | None,
    *,
    text_key: str = "text",
    metadata_key: str = "metadata",
) -> Collection:
    """Collection ``name`` of ``client`` when it exists, else a new one (a fresh
    ``LangChain_<hex>`` name when ``name`` is None): properties ``text_key`` (TEXT) and
    ``metadata_key`` (OBJECT), a ``text2vec`` space ``multi_vector`` embedding ``text_key``
    (a built-in embedder is stored as its settings, so a reopen needs no embedding).
    """
    name = name or f"LangChain_{_uuid.uuid4().hex}"
    if client.collections.exists(name):
        return client.collections.use(name)
    if embedder is None:
        raise ConfigError(
            f"collection {name!r} does not exist, and creating it needs an embedding: pass "
            "embedding=... (a multi-vector embedder or a LangChain Embeddings)"
        )
    return client.collections.create(
        name,
        vector_config=Configure.MultiVectors.text2vec(
            name=VECTOR_NAME, embedder=embedder, source_properties=[text_key]
        ),
        properties=[
            Property(name=text_key, data_type=DataType.TEXT),
            Property(name=metadata_key, data_type=DataType.OBJECT),
        ],
        auto_schema=False,
    )
