"""The collection layouts every integration suite runs over, on each backend.

- ``ours``: the collection our constructors make (LangChain ``from_texts``, LlamaIndex ``create``):
  metadata nested in one ``metadata`` OBJECT property;
- ``seed``: the Weaviate tutorial's calls, ``DemoCollection`` with properties ``text`` and
  ``docid`` and a ``self_provided`` space ``multi_vector`` (the store brings the embedder);
- ``text2vec``: the same schema with a ``text2vec`` space, so the collection embeds by itself.

Both seed layouts keep metadata flat (one property per key) and get new keys by auto-schema.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

import multivector
from multivector import Configure, DataType, Property

LAYOUTS = ("ours", "seed", "text2vec")
SEED_NAME = "DemoCollection"
SEED_VECTOR = "multi_vector"
SEED_DOCUMENTS = [
    {"id": "doc1", "text": "Weaviate is a vector database that is great for AI app builders."},
    {
        "id": "doc2",
        "text": "PyTorch is a deep learning framework that is great for AI model builders.",
    },
    {
        "id": "doc3",
        "text": "For people building AI driven products, Weaviate is a good database for their "
        "tech stack.",
    },
]


def seed_collection(client: multivector.Client, *, embedder: Any = None) -> multivector.Collection:
    """``DemoCollection`` as the tutorial creates it: ``self_provided``, or ``text2vec`` over
    ``text`` when ``embedder`` is given.
    """
    vector = (
        Configure.MultiVectors.self_provided(name=SEED_VECTOR)
        if embedder is None
        else Configure.MultiVectors.text2vec(
            name=SEED_VECTOR, embedder=embedder, source_properties=["text"]
        )
    )
    return client.collections.create(
        SEED_NAME,
        vector_config=[vector],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="docid", data_type=DataType.TEXT),
        ],
    )


def import_seed_documents(collection: multivector.Collection, embed: Any = None) -> None:
    """The tutorial's batch import (``embed(text)`` gives each matrix for a self-provided space)."""
    with collection.batch.fixed_size(batch_size=10) as batch:
        for doc in SEED_DOCUMENTS:
            vector = None if embed is None else {SEED_VECTOR: embed(doc["text"])}
            batch.add_object(
                properties={"text": doc["text"], "docid": doc["id"]},
                uuid=multivector.generate_uuid5(doc["id"]),
                vector=vector,
            )
    assert not collection.batch.failed_objects, collection.batch.failed_objects


class WordEmbedder:
    """A deterministic multi-vector embedder: one fixed unit vector per lowercase word, so MaxSim
    counts shared words (a query word found in a document contributes exactly 1).
    """

    dim = 16

    def __init__(self) -> None:
        self.calls = 0

    def _vec(self, word: str) -> np.ndarray:
        v = np.random.default_rng(zlib.crc32(word.encode())).normal(size=self.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def matrix(self, text: str) -> np.ndarray:
        words = re.findall(r"\w+", text.lower()) or ["<empty>"]
        return np.stack([self._vec(w) for w in words])

    def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        self.calls += 1
        return [self.matrix(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return self.matrix(text)


def mean_best_cosine(query: np.ndarray, doc: np.ndarray) -> float:
    """NumPy reference: MaxSim divided by the number of query tokens."""
    return float((query @ doc.T).max(axis=1).sum()) / query.shape[0]


def llama_index_store(client: multivector.Client, layout: str, embedder: Any) -> Any:
    """An empty LlamaIndex store over ``layout`` in ``client`` (``embedder``: a multi-vector one)."""
    from multivector.integrations.llama_index import MultiVectorStore

    if layout == "ours":
        return MultiVectorStore.create(client, embedder=embedder)
    if layout == "seed":
        seed_collection(client)
        return MultiVectorStore.from_existing_collection(SEED_NAME, embedder, client=client)
    seed_collection(client, embedder=embedder)
    return MultiVectorStore.from_existing_collection(SEED_NAME, client=client)


def langchain_store(client: multivector.Client, layout: str, embedding: Any) -> Any:
    """An empty LangChain store over ``layout`` in ``client`` (``embedding``: any kind)."""
    from multivector.embeddings.adapters import as_embedder
    from multivector.integrations.langchain import MultiVectorStore

    if layout == "ours":
        return MultiVectorStore.from_texts([], embedding, collection_name="Standard", client=client)
    if layout == "seed":
        seed_collection(client)
        return MultiVectorStore.from_existing_collection(SEED_NAME, embedding, client=client)
    seed_collection(client, embedder=as_embedder(embedding))
    return MultiVectorStore.from_existing_collection(SEED_NAME, client=client)
