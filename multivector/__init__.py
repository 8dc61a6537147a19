"""multivector: late-interaction (ColBERT / MaxSim) retrieval fused with BM25 on an embedded store.

Shaped like the Weaviate v4 client::

    import multivector
    from multivector.config import Configure, Property, DataType

    with multivector.connect() as client:
        docs = client.collections.create(
            "Docs",
            vector_config=[Configure.MultiVectors.self_provided(name="multi_vector")],
            properties=[Property(name="text", data_type=DataType.TEXT)],
        )
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multivector._types import AsyncMultiVectorEmbedder, MultiVectorEmbedder
from multivector._uuid import generate_uuid5
from multivector.config import Configure, DataType, Property, Tokenization
from multivector.errors import MultiVectorError
from multivector.query import BM25Operator, Filter, HybridFusion, MetadataQuery
from multivector.results import BatchFailure, MetadataReturn, Object, QueryReturn
from multivector.stores.client import Client, Collections
from multivector.stores.collection import Collection
from multivector.stores.ingest import DataObject

__version__ = "0.1.0"

__all__ = [
    "AsyncMultiVectorEmbedder",
    "BM25Operator",
    "BatchFailure",
    "Client",
    "Collection",
    "Collections",
    "Configure",
    "DataObject",
    "DataType",
    "Filter",
    "HybridFusion",
    "MetadataQuery",
    "MetadataReturn",
    "MultiVectorEmbedder",
    "MultiVectorError",
    "Object",
    "Property",
    "QueryReturn",
    "Tokenization",
    "__version__",
    "connect",
    "connect_to_qdrant",
    "evaluate",
    "generate_uuid5",
]


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
        from multivector.stores.embedded_client import EmbeddedClient

        return Client(EmbeddedClient(), headers=headers)
    from multivector.stores.durable import open_durable_client

    return Client(open_durable_client(path, **options), headers=headers)


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
    from multivector.stores.qdrant import open_qdrant_client

    backend = open_qdrant_client(
        url=url, api_key=api_key, location=location, path=path, **client_options
    )
    return Client(backend, headers=headers)


def __getattr__(name: str) -> Any:
    # ``multivector.evaluate`` is loaded on first use so that ``import multivector`` stays light.
    if name == "evaluate":
        from multivector.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'multivector' has no attribute {name!r}")
