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

from typing import Any

from multivector._types import AsyncMultiVectorEmbedder, MultiVectorEmbedder
from multivector._uuid import generate_uuid5
from multivector._version import __version__
from multivector.api.async_client import AsyncClient, use_async, use_async_with_qdrant
from multivector.api.async_collection import AsyncCollection
from multivector.api.client import Client, Collections
from multivector.api.collection import Collection
from multivector.api.connect import connect, connect_to_qdrant
from multivector.api.ingest import DataObject
from multivector.errors import MultiVectorError
from multivector.results import BatchFailure, MetadataReturn, Object, QueryReturn
from multivector.schema.aggregation import Metrics
from multivector.schema.config import DataType, Property, Tokenization
from multivector.schema.configure import Configure
from multivector.schema.grouping import GroupBy, GroupByAggregate
from multivector.schema.query import BM25Operator, Filter, HybridFusion, MetadataQuery
from multivector.schema.tenancy import Tenant

__all__ = [
    "AsyncClient",
    "AsyncCollection",
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
    "GroupBy",
    "GroupByAggregate",
    "HybridFusion",
    "MetadataQuery",
    "MetadataReturn",
    "Metrics",
    "MultiVectorEmbedder",
    "MultiVectorError",
    "Object",
    "Property",
    "QueryReturn",
    "Tenant",
    "Tokenization",
    "__version__",
    "connect",
    "connect_to_qdrant",
    "evaluate",
    "generate_uuid5",
    "use_async",
    "use_async_with_qdrant",
]


def __getattr__(name: str) -> Any:
    # ``multivector.evaluate`` is loaded on first use so that ``import multivector`` stays light.
    if name == "evaluate":
        from multivector.evaluation.run import evaluate

        return evaluate
    raise AttributeError(f"module 'multivector' has no attribute {name!r}")
