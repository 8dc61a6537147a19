"""The collection a LlamaIndex store lives in: opened when it exists, else created with the node
schema (:data:`~.nodes.NODE_PROPERTIES`) and one multi-vector space.
"""

from __future__ import annotations

from multivector._types import MultiVectorEmbedder
from multivector.api.client import Client
from multivector.api.collection import Collection
from multivector.integrations.llama_index.nodes import NODE_PROPERTIES, TEXT_PROPERTY
from multivector.schema.config import VectorDType
from multivector.schema.configure import Configure

__all__ = ["open_node_collection"]


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
    given, else a self-provided one.
    """
    if client.collections.exists(collection_name):
        config = client.collections.list_all()[collection_name]
        vec = config.vector(vector_name)
        text2vec = vec is not None and vec.vectorizer == "text2vec"
        collection = client.collections.use(
            collection_name,
            embedders={vector_name: embedder} if embedder is not None and text2vec else None,
        )
        return collection, None if text2vec else embedder
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
