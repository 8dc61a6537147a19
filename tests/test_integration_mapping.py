"""Both integrations over collections they did not make: the shared DocumentMapping (layouts,
reserved keys, filter placement and settling), the Weaviate tutorial's DemoCollection through
LangChain and LlamaIndex on every backend, and the framework habits (``from_existing_collection``,
aliases, refused arguments, embedder kinds, failure messages).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from conftest import make_client
from integration_layouts import (
    SEED_DOCUMENTS,
    SEED_NAME,
    SEED_VECTOR,
    WordEmbedder,
    import_seed_documents,
    seed_collection,
)
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

import multivector
from multivector import Configure, DataType, Property, generate_uuid5
from multivector.embeddings.adapters import EmbeddingsAdapter, check_multi_vector, framework_of
from multivector.errors import (
    ConfigError,
    DimensionMismatchError,
    FilterError,
    InvalidObjectError,
    InvalidVectorError,
)
from multivector.integrations import langchain as lc
from multivector.integrations import llama_index as li
from multivector.integrations.langchain.arguments import SEARCH_TYPES
from multivector.integrations.mapping import (
    MATCH_NOTHING,
    OVERFLOW_KEY,
    DocumentMapping,
    settle,
)
from multivector.query import Filter
from multivector.schema.config import CollectionConfig

DOC2 = generate_uuid5("doc2")


# ----------------------------------------------------------------------------- the mapping
def _config(*props: Property, auto_schema: bool = True) -> CollectionConfig:
    return CollectionConfig(name="C", properties=props, auto_schema=auto_schema)


TEXT = Property(name="text", data_type=DataType.TEXT)
DOCID = Property(name="docid", data_type=DataType.TEXT)
META = Property(name="metadata", data_type=DataType.OBJECT)


def test_layout_follows_the_schema() -> None:
    assert DocumentMapping.of(_config(TEXT, META)).layout == "nested"
    assert DocumentMapping.of(_config(TEXT, DOCID)).layout == "flat"
    as_text = Property(name="metadata", data_type=DataType.TEXT)
    assert DocumentMapping.of(_config(TEXT, as_text)).layout == "flat"  # not an OBJECT
    with pytest.raises(ConfigError, match=r"text_key='docid'.*pass text_key="):
        DocumentMapping.of(
            _config(Property(name="docid", data_type=DataType.INT)), text_key="docid"
        )


def test_flat_layout_keeps_reserved_and_odd_keys_in_the_overflow_property() -> None:
    flat = DocumentMapping.of(_config(TEXT, DOCID))
    metadata = {
        "docid": "doc4",
        "id": 7,
        "UUID": "x",
        "page number": 2,
        "text": "a metadata key named like the text property",
        "metadata": {"deep": [1]},
        "_private": True,
        "none": None,
    }
    props = flat.properties("body", metadata)
    assert props["text"] == "body" and props["docid"] == "doc4" and props["_private"] is True
    assert props[OVERFLOW_KEY] == {
        "id": 7,
        "UUID": "x",
        "page number": 2,
        "text": "a metadata key named like the text property",
        "metadata": {"deep": [1]},
        "none": None,
    }
    assert flat.metadata(props) == metadata and flat.text(props) == "body"
    assert flat.location("docid") == ("docid", ())
    assert flat.location("id") == (OVERFLOW_KEY, ("id",))
    nested = DocumentMapping.of(_config(TEXT, META))
    assert nested.properties("body", metadata) == {"text": "body", "metadata": metadata}
    assert nested.location("docid") == ("metadata", ("docid",))


def test_settle_reads_unknown_properties_as_missing() -> None:
    config = _config(TEXT, DOCID)
    eq = Filter.by_property("nope").equal(1)
    ne = Filter.by_property("nope").not_equal(1)
    known = Filter.by_property("docid").equal("doc1")
    assert settle(eq, config) is MATCH_NOTHING
    assert settle(ne, config) is None
    assert settle(Filter.all_of([known, ne]), config) == known
    assert settle(Filter.any_of([known, eq]), config) == known
    assert settle(Filter.all_of([known, eq]), config) is MATCH_NOTHING
    assert settle(Filter.any_of([eq, ne]), config) is None
    assert settle(Filter.not_(eq), config) is None
    assert settle(Filter.not_(known), config) == Filter.not_(known)
    assert settle(Filter.by_id().equal("x"), config) == Filter.by_id().equal("x")
    assert settle(Filter.by_property("nope").is_none(True), config) is None


# ----------------------------------------------------------------------------- the seed, LangChain
@pytest.fixture
def seed(backend_name: str) -> Iterator[multivector.Client]:
    """The tutorial's Option 2: DemoCollection, self-provided matrices (a word embedder's)."""
    client = make_client(backend_name)
    import_seed_documents(seed_collection(client), WordEmbedder().matrix)
    yield client
    client.close()


def test_langchain_filters_on_the_seed_collection(seed: multivector.Client) -> None:
    store = lc.MultiVectorStore(seed.collections.use(SEED_NAME), WordEmbedder())
    assert store.mapping.layout == "flat" and store.target_vector == SEED_VECTOR
    query = "A good database for AI app builders"
    for search_type in ("similarity", "hybrid", "keyword", "mmr"):
        found = store.search(query, search_type, k=3, filter={"docid": "doc2"})
        assert [d.id for d in found] == [DOC2], search_type
        assert found[0].metadata == {"docid": "doc2"}
    retriever = lc.MultiVectorRetriever(vectorstore=store, k=3)
    assert [d.metadata["docid"] for d in retriever.invoke(query, filter={"docid": "doc2"})] == [
        "doc2"
    ]
    assert {d.metadata["docid"] for d in retriever.invoke(query)} == {"doc1", "doc2", "doc3"}
    assert store.similarity_search(query, k=3, filter={"nope": "x"}) == []  # no object has it
    assert len(store.similarity_search(query, k=3, filter={"nope": {"$ne": "x"}})) == 3
    assert store.get_by_ids([DOC2]) == [
        Document(id=DOC2, page_content=SEED_DOCUMENTS[1]["text"], metadata={"docid": "doc2"})
    ]


def test_langchain_writes_reserved_keys_to_the_seed_collection(seed: multivector.Client) -> None:
    collection = seed.collections.use(SEED_NAME)
    store = lc.MultiVectorStore.from_existing_collection(SEED_NAME, WordEmbedder(), client=seed)
    meta = {"docid": "doc4", "id": 7, "page number": 2, "tags": ["x", "y"], "none": None}
    (uid,) = store.add_texts(["Qdrant is a vector search engine"], [meta], ids=["n4"])
    stored = collection.query.fetch_object_by_id(uid)
    assert stored is not None
    assert stored.properties["docid"] == "doc4" and stored.properties["tags"] == ["x", "y"]
    assert stored.properties[OVERFLOW_KEY] == {"id": 7, "page number": 2, "none": None}
    assert store.get_by_ids(["n4"])[0].metadata == meta
    for spec in ({"id": 7}, {"page number": {"$gte": 2}}, {"tags": "y"}, {"docid": "doc4"}):
        assert [d.id for d in store.similarity_search("vector", k=5, filter=spec)] == ["n4"], spec
    with pytest.raises(
        InvalidObjectError, match=r"1 of 1 texts failed.*nothing was stored"
    ) as info:
        store.add_texts(["wrong type"], [{"docid": 5}])
    assert isinstance(info.value.__cause__, InvalidObjectError)
    assert "'text'" in str(info.value)  # names the property type the value did not fit
    assert len(collection) == 4


# ----------------------------------------------------------------------------- the seed, LlamaIndex
def test_llama_index_reads_the_seed_collection_as_text_nodes(seed: multivector.Client) -> None:
    store = li.MultiVectorStore.from_existing_collection(SEED_NAME, WordEmbedder(), client=seed)
    result = store.query(VectorStoreQuery(query_str="deep learning framework", similarity_top_k=3))
    assert result.ids is not None and result.nodes is not None and result.ids[0] == DOC2
    top = result.nodes[0]
    assert type(top) is TextNode and top.node_id == DOC2
    assert top.get_content() == SEED_DOCUMENTS[1]["text"] and top.metadata == {"docid": "doc2"}
    only = MetadataFilters(filters=[MetadataFilter(key="docid", value="doc2")])
    found = store.query(VectorStoreQuery(query_str="database", similarity_top_k=3, filters=only))
    assert found.ids == [DOC2]
    assert [n.node_id for n in store.get_nodes(filters=only)] == [DOC2]
    assert len(store.get_nodes()) == 3
    assert store.query(VectorStoreQuery(query_str="x", doc_ids=["d"])).ids == []
    store.delete("no-such-document")  # no node has a ref_doc_id yet: deletes nothing
    assert len(store.client) == 3
    assert "ref_doc_id" not in {p.name for p in store.client.config.properties}


def test_llama_index_adds_node_fields_to_the_seed_collection(seed: multivector.Client) -> None:
    store = li.MultiVectorStore.from_existing_collection(SEED_NAME, WordEmbedder(), client=seed)
    node = TextNode(
        id_="n1",
        text="Milvus is another vector database",
        metadata={"docid": "doc9", "id": "x", "page number": 3, "weight": 1},
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="src")},
    )
    assert store.add([node]) == ["n1"]
    names = {p.name: p.data_type for p in store.client.config.properties}
    assert names["ref_doc_id"] is DataType.TEXT and names["_node_content"] is DataType.OBJECT
    (back,) = store.get_nodes(["n1"])
    assert back == node and back.metadata == node.metadata  # exact, 1 stays an int
    docid = MetadataFilters(filters=[MetadataFilter(key="docid", value="doc9")])
    assert store.query(VectorStoreQuery(query_str="vector", filters=docid)).ids == ["n1"]
    odd = MetadataFilters(filters=[MetadataFilter(key="page number", operator=">", value=2)])
    assert store.query(VectorStoreQuery(query_str="vector", filters=odd)).ids == ["n1"]
    store.delete("src")
    assert len(store.client) == 3  # the tutorial's objects stay


# ----------------------------------------------------------------------------- embedder kinds
@pytest.mark.parametrize(
    "model", [DeterministicFakeEmbedding(size=8), MockEmbedding(embed_dim=8)], ids=["lc", "li"]
)
def test_llama_index_refuses_single_vector_models_at_construction(model, client) -> None:
    with pytest.raises(ConfigError, match=r"single-vector.*MiniLMTokenEmbedder.*EmbeddingsAdapter"):
        li.MultiVectorStore.create(client, embedder=model)
    assert not client.collections.exists("LlamaIndexNodes")  # refused before anything was made
    seed_collection(client)
    with pytest.raises(ConfigError, match="embedder=EmbeddingsAdapter"):
        li.MultiVectorStore.from_existing_collection(SEED_NAME, model, client=client)
    with pytest.raises(ConfigError, match="lacks embed_documents"):
        li.MultiVectorStore.from_existing_collection(SEED_NAME, object(), client=client)
    store = li.MultiVectorStore.from_existing_collection(
        SEED_NAME, EmbeddingsAdapter(model), client=client
    )
    store.add([TextNode(id_="a", text="one row"), TextNode(id_="b", text="another")])
    stored = store.client.query.fetch_object_by_id("a", include_vector=True)
    assert stored is not None and np.asarray(stored.vector[SEED_VECTOR]).shape == (1, 8)
    top = store.query(VectorStoreQuery(query_str="another", similarity_top_k=1)).ids
    # DeterministicFakeEmbedding hashes the text (the same text, the same vector); MockEmbedding
    # gives every text one constant vector, so both nodes tie
    assert top == (["b"] if framework_of(model) == "langchain" else top) and len(top or []) == 1


def test_framework_detection_is_by_class_name() -> None:
    assert framework_of(DeterministicFakeEmbedding(size=2)) == "langchain"
    assert framework_of(MockEmbedding(embed_dim=2)) == "llama_index"
    assert framework_of(WordEmbedder()) is None
    assert check_multi_vector(None, where="x") is None
    li_adapter = EmbeddingsAdapter(MockEmbedding(embed_dim=3))
    assert li_adapter.embed_documents(["a", "b"])[1].shape == (1, 3)
    assert li_adapter.embed_query("a").shape == (1, 3)


class OneVectorModel:
    """A user's single-vector model that does not say so: only the first add can tell."""

    def embed_documents(self, texts):
        return [[1.0, 0.0, 0.0] for _ in texts]

    def embed_query(self, text):
        return [1.0, 0.0, 0.0]


def test_rejected_nodes_say_exactly_what_was_stored(backend_name: str) -> None:
    client = make_client(backend_name)
    try:
        collection = client.collections.create(
            "Nodes",
            vector_config=[Configure.MultiVectors.self_provided("colbert", dimension=4)],
            properties=list(li.NODE_PROPERTIES),
            auto_schema=False,
        )
        store = li.MultiVectorStore(collection)
        nodes = [TextNode(id_=n, text=n) for n in ("a", "bad", "c")]
        good = np.eye(4, dtype=np.float32)[:2]
        matrices = {"a": good, "bad": np.ones((2, 3), dtype=np.float32), "c": good}
        with pytest.raises(DimensionMismatchError) as info:
            store.add(nodes, matrices=matrices)
        message = str(info.value)
        assert "1 of 3 node(s) were rejected and NOT stored: ['bad']" in message
        assert "the other 2 were stored" in message
        assert isinstance(info.value.__cause__, DimensionMismatchError)
        assert {n.node_id for n in store.get_nodes()} == {"a", "c"}

        lazy = li.MultiVectorStore(
            client.collections.create(
                "Lazy",
                vector_config=[Configure.MultiVectors.self_provided("colbert")],
                properties=list(li.NODE_PROPERTIES),
            ),
            OneVectorModel(),
        )
        with pytest.raises(InvalidVectorError, match=r"2 of 2 .*no node was stored.*1-D vector"):
            lazy.add([TextNode(id_="x", text="x"), TextNode(id_="y", text="y")])
        assert len(lazy.client) == 0
    finally:
        client.close()


# ----------------------------------------------------------------------------- LangChain habits
def test_retriever_refuses_arguments_it_would_ignore(seed: multivector.Client) -> None:
    store = lc.MultiVectorStore(seed.collections.use(SEED_NAME), WordEmbedder())
    with pytest.raises(ConfigError, match=r"\['docstore', 'id_key'\].*LangChain's own"):
        lc.MultiVectorRetriever(vectorstore=store, docstore={}, id_key="doc_id")
    with pytest.raises(ConfigError, match=r"unknown arguments \['colour'\]; known: .*'alpha'"):
        lc.MultiVectorRetriever(vectorstore=store, colour="red")
    with pytest.raises(ConfigError, match="score_threshold"):
        lc.MultiVectorRetriever(vectorstore=store, search_type="similarity_score_threshold")
    with pytest.raises(ConfigError, match="unexpected arguments"):
        lc.MultiVectorStore.from_texts(["x"], WordEmbedder(), client=seed, persist_directory="d")


@pytest.mark.parametrize("search_type", sorted(SEARCH_TYPES))
def test_as_retriever_takes_every_search_type(seed: multivector.Client, search_type: str) -> None:
    store = lc.MultiVectorStore(seed.collections.use(SEED_NAME), WordEmbedder())
    kwargs = {"k": 2, "score_threshold": 0.5} if search_type.endswith("threshold") else {"k": 2}
    retriever = store.as_retriever(search_type=search_type, search_kwargs=kwargs)
    found = retriever.invoke("Weaviate database")
    assert 1 <= len(found) <= 2
    assert retriever.invoke("Weaviate database", filter={"docid": "doc3"})[0].id == generate_uuid5(
        "doc3"
    )


def test_path_and_client_on_from_texts(tmp_path) -> None:
    emb = WordEmbedder()
    store = lc.MultiVectorStore.from_documents(
        [Document(page_content="late interaction", metadata={"id": 1})],
        emb,
        path=tmp_path / "store",
        collection_name="Notes",
    )
    with pytest.raises(ConfigError, match="either client"):
        lc.MultiVectorStore.from_texts(["x"], emb, client=multivector.connect(), path=tmp_path)
    store.close()
    again = lc.MultiVectorStore.from_existing_collection(
        "Notes", emb, path=tmp_path / "store", text_key="text"
    )
    try:
        found = again.similarity_search("late interaction", k=1)
        assert found[0].page_content == "late interaction" and found[0].metadata == {"id": 1}
    finally:
        again.close()
    with pytest.raises(ConfigError, match=r"your own embedder.*pass it again"):
        lc.MultiVectorStore.from_existing_collection("Notes", path=tmp_path / "store")


def test_aliases_let_one_app_import_both() -> None:
    from multivector.integrations.langchain import (
        MultiVectorLangChainRetriever,
        MultiVectorLangChainStore,
    )
    from multivector.integrations.llama_index import (
        MultiVectorLlamaIndexRetriever,
        MultiVectorLlamaIndexStore,
    )

    assert MultiVectorLangChainStore is lc.MultiVectorStore
    assert MultiVectorLangChainRetriever is lc.MultiVectorRetriever
    assert MultiVectorLlamaIndexStore is li.MultiVectorStore
    assert MultiVectorLlamaIndexRetriever is li.MultiVectorRetriever
    for module in (lc, li):
        assert len(set(module.__all__)) == len(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), name


def test_bad_filters_still_raise_on_the_flat_layout(seed: multivector.Client) -> None:
    store = lc.MultiVectorStore(seed.collections.use(SEED_NAME), WordEmbedder())
    with pytest.raises(FilterError, match="does not fit the property type"):
        store.similarity_search("x", filter={"docid": 3})  # docid is a TEXT property
    llama = li.MultiVectorStore(seed.collections.use(SEED_NAME), WordEmbedder())
    wrong = MetadataFilters(
        filters=[MetadataFilter(key="docid", operator=FilterOperator.IN, value="a")]
    )
    with pytest.raises(FilterError, match="takes a list"):
        llama.query(VectorStoreQuery(query_str="x", filters=wrong))
