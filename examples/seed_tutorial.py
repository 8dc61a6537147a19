"""Weaviate's multi-vector tutorial, step by step, on multivector's embedded store.

    python examples/seed_tutorial.py

It follows https://docs.weaviate.io/weaviate/tutorials/multi-vector-embeddings with
``multivector.connect()`` in place of ``weaviate.connect_to_local()``:

* Option 1, the ColBERT model integration (``text2vec_jinaai``, jina-colbert-v2). With
  ``JINAAI_APIKEY`` (or ``JINA_API_KEY``) set it calls Jina AI; without a key it starts a local
  stand-in of Jina's API on 127.0.0.1 (``multivector.testing.JinaStandIn``), so it runs offline.
* Option 2, user-provided embeddings (``self_provided``). The tutorial fetches them from Jina; here
  they come from the offline MiniLM token embedder, since any multi-vector model will do.

Each option ends as an app would go on: the same ``DemoCollection`` through a LangChain retriever
and a LlamaIndex query engine (a ``MockLLM`` here; any LLM in a real app), both filtered on the
``docid`` property (``pip install 'multivector[langchain,llama-index]'``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import multivector
from multivector import Configure, DataType, Property, generate_uuid5
from multivector.embeddings import JinaEmbeddings

# An example dataset (as in the tutorial)
documents = [
    {"id": "doc1", "text": "Weaviate is a vector database that is great for AI app builders."},
    {
        "id": "doc2",
        "text": "PyTorch is a deep learning framework that is great for AI model builders.",
    },
    {
        "id": "doc3",
        "text": "For people building AI driven products, Weaviate is a good database for their tech stack.",
    },
]
QUERY = "A good database for AI app builders"
collection_name = "DemoCollection"


@contextlib.contextmanager
def jina_endpoint(log: Callable[[str], None] = print) -> Iterator[tuple[str, str | None]]:
    """Yield ``(api_key, base_url)``: the real API when a key is set, else a local stand-in."""
    key = os.getenv("JINAAI_APIKEY") or os.getenv("JINA_API_KEY")
    if key:
        log("Using Jina AI's API (key from the environment).")
        yield key, None
        return
    from multivector.testing import JinaStandIn

    with JinaStandIn() as server:
        log(f"No JINAAI_APIKEY set: using a local stand-in of Jina's API at {server.base_url}.")
        yield server.api_key, server.base_url


def print_shapes(collection: multivector.Collection, log: Callable[[str], None]) -> list[Any]:
    """1.3.1 Confirm embedding shape (as in the tutorial)."""
    response = collection.query.fetch_objects(limit=3, include_vector=True)
    log(f"Embedding data type: {type(response.objects[0].vector['multi_vector'])}")
    log(f"Embedding first element type: {type(response.objects[0].vector['multi_vector'][0])}")
    shapes = []
    for i in range(3):
        vec = response.objects[i].vector["multi_vector"]
        shapes.append((len(vec), len(vec[0])))
        log(f"This embedding's shape is ({len(vec)}, {len(vec[0])})")
    return shapes


def print_results(title: str, response: Any, log: Callable[[str], None]) -> list[str]:
    """Print each hit's properties; returns the docids in rank order."""
    log(f"--- {title}")
    for result in response.objects:
        log(str(result.properties))
    return [str(result.properties["docid"]) for result in response.objects]


def option1_model_integration(log: Callable[[str], None] = print) -> dict[str, Any]:
    """Option 1: the jina-colbert-v2 model integration embeds documents and queries."""
    log("=== Option 1: ColBERT model integration (jina-colbert-v2)")
    out: dict[str, Any] = {}
    with jina_endpoint(log) as (jinaai_key, base_url):
        # 1.1 Connect
        with multivector.connect(headers={"X-JinaAI-Api-Key": jinaai_key}) as client:
            # 1.2 Collection configuration
            client.collections.create(
                collection_name,
                vector_config=[
                    # ColBERT vectorizer
                    Configure.MultiVectors.text2vec_jinaai(
                        name="multi_vector",
                        source_properties=["text"],
                        model="jina-colbert-v2",
                        base_url=base_url,  # None: Jina AI's public API
                    ),
                ],
                properties=[
                    Property(name="text", data_type=DataType.TEXT),
                    Property(name="docid", data_type=DataType.TEXT),
                ],
            )
            # 1.3 Import data: no embeddings needed, the integration computes them
            collection = client.collections.use(collection_name)
            with collection.batch.fixed_size(batch_size=10) as batch:
                for doc in documents:
                    batch.add_object(
                        properties={"text": doc["text"], "docid": doc["id"]},
                        uuid=generate_uuid5(doc["id"]),
                    )
            if collection.batch.failed_objects:
                log(f"Number of failed imports: {len(collection.batch.failed_objects)}")
                log(f"First failed object: {collection.batch.failed_objects[0]}")
            out["count"] = len(collection)
            log(str(out["count"]))  # This should print `3`
            out["shapes"] = print_shapes(collection, log)

            # 1.4.1 Near text search
            out["near_text"] = print_results(
                "near_text",
                collection.query.near_text(query=QUERY, target_vector="multi_vector"),
                log,
            )
            # 1.4.2 Hybrid search (simple)
            out["hybrid"] = print_results(
                "hybrid",
                collection.query.hybrid(query=QUERY, target_vector="multi_vector"),
                log,
            )
            # 1.4.3 Vector search: a raw ColBERT query matrix from the same model
            with JinaEmbeddings(
                api_key=jinaai_key, model="jina-colbert-v2", base_url=base_url
            ) as jina:
                query_matrix = jina.embed_query(QUERY)
            out["near_vector"] = print_results(
                "near_vector",
                collection.query.near_vector(
                    near_vector=query_matrix.tolist(),  # [[e11, e12, ...], [e21, ...], ...]
                    target_vector="multi_vector",
                ),
                log,
            )
            # 1.4.4 Hybrid search with that matrix
            out["hybrid_vector"] = print_results(
                "hybrid (manual vector)",
                collection.query.hybrid(
                    query=QUERY, vector=query_matrix, target_vector="multi_vector"
                ),
                log,
            )
            # Then: the frameworks, over this very collection (it embeds queries itself)
            out.update(query_with_frameworks(collection, None, log))
    return out


def option2_user_provided(log: Callable[[str], None] = print) -> dict[str, Any]:
    """Option 2: user-provided matrices (here from the offline MiniLM token embedder)."""
    from multivector.embeddings.minilm import MiniLMTokenEmbedder

    log("")
    log("=== Option 2: user-provided embeddings (offline MiniLM token vectors)")
    model = MiniLMTokenEmbedder()

    def get_colbert_embedding(source_text: str) -> list[list[float]]:
        # Any multi-vector model works; the tutorial calls Jina AI here (input_type "document").
        matrix: list[list[float]] = model.embed_documents([source_text])[0].tolist()
        return matrix

    out: dict[str, Any] = {}
    # 2.1 Connect (no provider key needed: we bring our own embeddings)
    with multivector.connect() as client:
        # 2.2 Collection configuration
        client.collections.create(
            collection_name,
            vector_config=[
                # User-provided embeddings
                Configure.MultiVectors.self_provided(name="multi_vector"),
            ],
            properties=[
                Property(name="text", data_type=DataType.TEXT),
                Property(name="docid", data_type=DataType.TEXT),
            ],
        )
        # 2.3 Import data with each object's matrix
        collection = client.collections.use(collection_name)
        with collection.batch.fixed_size(batch_size=10) as batch:
            for doc in documents:
                batch.add_object(
                    properties={"text": doc["text"], "docid": doc["id"]},
                    uuid=generate_uuid5(doc["id"]),
                    vector={"multi_vector": get_colbert_embedding(doc["text"])},
                )
        if collection.batch.failed_objects:
            log(f"Number of failed imports: {len(collection.batch.failed_objects)}")
            log(f"First failed object: {collection.batch.failed_objects[0]}")
        out["count"] = len(collection)
        log(str(out["count"]))  # This should print `3`
        out["shapes"] = print_shapes(collection, log)

        # 2.4.1 Vector search with a query matrix from the same model
        query_matrix = get_colbert_embedding(QUERY)
        out["near_vector"] = print_results(
            "near_vector",
            collection.query.near_vector(near_vector=query_matrix, target_vector="multi_vector"),
            log,
        )
        # 2.4.2 Hybrid search: pass the query matrix along (there is no model to embed the text)
        out["hybrid"] = print_results(
            "hybrid (manual vector)",
            collection.query.hybrid(query=QUERY, vector=query_matrix, target_vector="multi_vector"),
            log,
        )
        # Then: the frameworks, over this very collection (they embed queries with the model)
        out.update(query_with_frameworks(collection, model, log))
    return out


def query_with_frameworks(
    collection: multivector.Collection, embedder: Any, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Query ``DemoCollection`` through a LangChain retriever and a LlamaIndex query engine,
    filtered on ``docid``. ``embedder`` embeds the queries (None: the collection's vectorizer).
    """
    try:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.llms import MockLLM
        from llama_index.core.vector_stores import MetadataFilter, MetadataFilters

        from multivector.integrations.langchain import MultiVectorLangChainStore
        from multivector.integrations.llama_index import (
            MultiVectorEmbedding,
            MultiVectorLlamaIndexStore,
        )
    except ImportError as exc:  # the frameworks are optional extras
        log(
            f"(skipping LangChain / LlamaIndex: {exc}; pip install 'multivector[langchain,llama-index]')"
        )
        return {}
    out: dict[str, Any] = {}

    # LangChain: the collection's `text` is page_content, its other properties the metadata
    store = MultiVectorLangChainStore(collection, embedder)
    retriever = store.as_retriever(
        search_type="hybrid", search_kwargs={"k": 3, "filter": {"docid": "doc2"}}
    )
    docs = retriever.invoke(QUERY)
    log("--- LangChain retriever (hybrid, filter={'docid': 'doc2'})")
    for doc in docs:
        log(f"{doc.metadata} {doc.page_content}")
    out["langchain"] = [doc.metadata["docid"] for doc in docs]

    # LlamaIndex: no single-vector model and no OpenAI key (MultiVectorEmbedding fills the slot)
    vector_store = MultiVectorLlamaIndexStore(collection, embedder)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=MultiVectorEmbedding())
    engine = index.as_query_engine(
        llm=MockLLM(),  # any LlamaIndex LLM in a real app
        filters=MetadataFilters(filters=[MetadataFilter(key="docid", value="doc2")]),
        similarity_top_k=3,
    )
    response = engine.query(QUERY)
    log("--- LlamaIndex query engine (filters: docid == 'doc2')")
    for hit in response.source_nodes:
        log(f"{hit.node.metadata} score={hit.score:.3f} {hit.node.get_content()}")
    out["llama_index"] = [hit.node.metadata["docid"] for hit in response.source_nodes]
    out["llama_index_answer"] = str(response)
    return out


def main() -> int:
    option1_model_integration()
    option2_user_provided()
    return 0


if __name__ == "__main__":
    sys.exit(main())
