"""Conformance tests for the LlamaIndex vector store, modelled on llama-index-core's
``tests/vector_stores/test_simple.py`` (LlamaIndex ships no shared suite), on every backend and
over every collection layout of ``integration_layouts`` (the ``store`` / ``empty_store`` fixtures):
ours (``MultiVectorStore.create``), the tutorial's ``DemoCollection`` (self-provided, the store
embeds) and a ``text2vec`` ``DemoCollection`` (the collection embeds).

A hashed-token embedder keeps them fast: each distinct lowercase word maps to a fixed unit vector,
so MaxSim is exact word overlap (a query word found in a document contributes 1).
"""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from llama_index.core.schema import (
    Document,
    IndexNode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import ConfigError, FilterError, OptionalDependencyError
from multivector.integrations.llama_index import (
    NODE_PROPERTIES,
    MultiVectorNodeWithScore,
    MultiVectorRetriever,
    MultiVectorStore,
)
from tests.conftest import make_client
from tests.integration_layouts import LAYOUTS, llama_index_store

DIM = 32


class HashEmbedder:
    """Deterministic token embedder: one fixed unit vector per lowercase word."""

    def __init__(self) -> None:
        self.calls = 0

    def _row(self, token: str) -> np.ndarray:
        raw = np.frombuffer(hashlib.sha256(token.encode()).digest(), dtype=np.uint8)[:DIM]
        row = raw.astype(np.float32) - 127.5
        return row / np.linalg.norm(row)

    def _matrix(self, text: str) -> np.ndarray:
        tokens = text.lower().replace(".", " ").split() or ["<empty>"]
        return np.stack([self._row(t) for t in tokens])

    def embed_documents(self, texts):
        self.calls += 1
        return [self._matrix(t) for t in texts]

    def embed_query(self, text):
        self.calls += 1
        return self._matrix(text)


A, B, C = "node-a", "node-b", "node-c"


def _nodes() -> list[TextNode]:
    """Three nodes as in test_simple.py (weights 1/2/3, ranks a/c/c) with distinct texts."""

    def node(id_: str, text: str, doc: str, metadata: dict) -> TextNode:
        return TextNode(
            id_=id_,
            text=text,
            embedding=[1.0, 0.0],  # a single vector LlamaIndex computed: must be ignored
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
            metadata=metadata,
        )

    return [
        node(
            A,
            "lorem ipsum apples oranges",
            "doc-0",
            {
                "weight": 1.0,
                "rank": "a",
                "quality": ["medium", "high"],
                "identifier": "6FTR78Yun",
                "page number": 1,
                "id": "x-1",
                "_private": {"k": [1, 2]},
                "note": "Star*Wars",
            },
        ),
        node(
            B,
            "lorem ipsum bananas",
            "doc-1",
            {
                "weight": 2.0,
                "rank": "c",
                "quality": ["medium"],
                "identifier": "6FTR78Ygl",
                "page number": 2,
                "id": "x-2",
                "note": "",
            },
        ),
        node(
            C,
            "lorem ipsum cherries apples",
            "doc-2",
            {
                "weight": 3.0,
                "rank": "c",
                "quality": ["low", "medium", "high"],
                "identifier": "6ftr78Ztl",
                "page number": 3,
                "id": "x-3",
            },
        ),
    ]


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(params=LAYOUTS)
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_store(
    backend_name: str, layout: str, embedder: HashEmbedder
) -> Iterator[MultiVectorStore]:
    client = make_client(backend_name)
    s = llama_index_store(client, layout, embedder)
    assert s.mapping.nested is (layout == "ours")
    yield s
    client.close()


@pytest.fixture
def store(empty_store: MultiVectorStore) -> MultiVectorStore:
    empty_store.add(_nodes())
    return empty_store


def q(text: str = "lorem ipsum", k: int = 3, **kwargs) -> VectorStoreQuery:
    return VectorStoreQuery(query_str=text, similarity_top_k=k, **kwargs)


def mf(key: str, op: FilterOperator | str, value) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, operator=op, value=value)])


# ----------------------------------------------------------------- add / query
def test_flags_and_add_returns_ids_in_order(empty_store: MultiVectorStore) -> None:
    assert empty_store.stores_text is True
    assert empty_store.is_embedding_query is False
    nodes = list(reversed(_nodes()))
    assert empty_store.add(nodes) == [C, B, A]
    assert len(empty_store.client) == 3


def test_query_without_filters_returns_all_sorted(store: MultiVectorStore) -> None:
    result = store.query(q("apples oranges"))
    assert result.ids is not None and result.similarities is not None and result.nodes is not None
    assert result.ids == [A, C, B]
    assert [n.node_id for n in result.nodes] == result.ids
    assert result.similarities == sorted(result.similarities, reverse=True)
    # the doc holding every query word scores a mean best cosine of exactly 1
    assert result.similarities[0] == pytest.approx(1.0, abs=1e-3)


def test_top_k_applies(store: MultiVectorStore) -> None:
    assert store.query(q("apples", k=1)).ids == [A] or store.query(q("apples", k=1)).ids == [C]
    assert len(store.query(q("apples", k=2)).ids or []) == 2


def test_similarities_comparable_across_queries(store: MultiVectorStore) -> None:
    full = store.query(q("bananas", k=1)).similarities or []
    half = store.query(q("bananas zebra", k=1)).similarities or []
    assert full[0] == pytest.approx(1.0, abs=1e-3)
    assert half[0] < full[0]  # one of two query words found: a lower, comparable similarity


def test_single_vector_embedding_is_ignored(store: MultiVectorStore) -> None:
    for node in store.get_nodes():
        assert node.embedding is None
    result = store.query(VectorStoreQuery(query_str="bananas", query_embedding=[1.0, 0.0]))
    assert result.ids == [B]


def test_query_needs_text_or_matrix(store: MultiVectorStore) -> None:
    with pytest.raises(ConfigError, match="query_str"):
        store.query(VectorStoreQuery(query_embedding=[1.0, 0.0]))


# --------------------------------------------------------------- metadata
METADATA_SHAPES = [
    {},
    {"id": "not-the-node-id", "_private": 1, "page number": 7, "a.b": "dots"},
    {"nested": {"deep": {"list": [1, 2.5, None, True, "x", {"k": []}]}}},
    {"ints": 1, "floats": 1.0, "neg": -0.0, "big": 2**53, "bool": False, "none": None},
    {"unicode": "h\u00e9llo \u2603 \U0001f600", "empty": "", "list": []},
]


@pytest.mark.parametrize("metadata", METADATA_SHAPES)
def test_metadata_round_trips_exactly(empty_store: MultiVectorStore, metadata: dict) -> None:
    node = TextNode(id_="m", text="metadata shapes", metadata=metadata)
    empty_store.add([node])
    (back,) = empty_store.get_nodes(["m"])
    assert back.metadata == metadata
    assert list(back.metadata) == list(metadata)  # key order too
    assert _types(back.metadata) == _types(metadata)  # 1 stays int, 1.0 stays float
    assert back.hash == node.hash
    (hit,) = empty_store.query(q("metadata shapes", k=1)).nodes or []
    assert hit.metadata == metadata


def _types(value):
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def test_non_json_metadata_is_rejected(empty_store: MultiVectorStore) -> None:
    with pytest.raises(ValueError, match="JSON"):
        empty_store.add([TextNode(id_="bad", text="x", metadata={"nan": float("nan")})])
    assert len(empty_store.client) == 0


@pytest.mark.parametrize(
    "node",
    [
        TextNode(id_="t", text="plain text node", metadata={"a": 1}, start_char_idx=3),
        Document(id_="d", text="a whole document", metadata={"source": "file.txt"}),
        IndexNode(id_="i", text="an index node", index_id="other-index"),
    ],
    ids=["TextNode", "Document", "IndexNode"],
)
def test_node_type_and_relationships_round_trip(empty_store: MultiVectorStore, node) -> None:
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="src", metadata={"p": 1})
    empty_store.add([node])
    (back,) = empty_store.get_nodes([node.node_id])
    assert type(back) is type(node)
    assert back == node
    assert back.ref_doc_id == "src"


# ---------------------------------------------------------------- deletes / gets
def test_delete_removes_every_node_of_the_document(store: MultiVectorStore) -> None:
    store.add([TextNode(id_="a2", text="more apples", relationships=_source("doc-0"))])
    store.delete("doc-0")
    assert store.query(q("apples lorem", k=5)).ids == [C, B]
    assert {n.node_id for n in store.get_nodes()} == {B, C}
    store.delete("no-such-doc")
    assert len(store.client) == 2


def _source(doc: str) -> dict:
    return {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)}


def test_delete_nodes_by_ids_filters_and_both(store: MultiVectorStore) -> None:
    store.delete_nodes(node_ids=[A, "missing"])
    assert {n.node_id for n in store.get_nodes()} == {B, C}
    store.delete_nodes(node_ids=[B, C], filters=mf("rank", "==", "zzz"))  # intersection: none
    assert len(store.client) == 2
    store.delete_nodes(filters=mf("weight", ">", 2.5))
    assert [n.node_id for n in store.get_nodes()] == [B]
    store.delete_nodes(node_ids=[])  # an empty list deletes nothing
    assert len(store.client) == 1
    with pytest.raises(ConfigError, match="clear"):
        store.delete_nodes()


def test_get_nodes_by_ids_filters_and_both(store: MultiVectorStore) -> None:
    assert [n.node_id for n in store.get_nodes([C, A, "missing"])] == [C, A]
    assert [n.node_id for n in store.get_nodes(filters=mf("rank", "==", "c"))] == [B, C]
    assert [n.node_id for n in store.get_nodes([A, B], filters=mf("rank", "==", "c"))] == [B]
    assert [n.node_id for n in store.get_nodes()] == [A, B, C]
    assert store.get_nodes([]) == []
    (a,) = store.get_nodes([A])
    assert a.get_content() == "lorem ipsum apples oranges"


def test_clear_empties_and_store_stays_usable(store: MultiVectorStore) -> None:
    store.clear()
    assert len(store.client) == 0
    assert store.query(q()).ids == []
    store.add(_nodes()[:1])
    assert store.query(q("apples", k=3)).ids == [A]


def test_add_replaces_an_existing_id(store: MultiVectorStore) -> None:
    store.add([TextNode(id_=A, text="kiwis only", metadata={"rank": "z"})])
    assert len(store.client) == 3
    assert store.query(q("kiwis", k=1)).ids == [A]
    assert store.get_nodes([A])[0].metadata == {"rank": "z"}


def test_persist_is_a_no_op(store: MultiVectorStore, tmp_path) -> None:
    store.persist(str(tmp_path / "vector_store.json"))
    assert list(tmp_path.iterdir()) == []
    assert len(store.client) == 3


# ------------------------------------------------------------------- filters
def ids(store: MultiVectorStore, filters: MetadataFilters | None, **kwargs) -> set[str]:
    return set(store.query(q("lorem ipsum", k=10, filters=filters, **kwargs)).ids or [])


FILTER_CASES = [
    ("rank", FilterOperator.EQ, "c", {B, C}),
    ("weight", FilterOperator.EQ, 2, {B}),  # int operand equals a float value, as in LlamaIndex
    ("weight", FilterOperator.NE, 1.0, {B, C}),
    ("weight", FilterOperator.GT, 1.5, {B, C}),
    ("weight", FilterOperator.LT, 1.1, {A}),
    ("weight", FilterOperator.GTE, 2.0, {B, C}),
    ("weight", FilterOperator.LTE, 1.0, {A}),
    ("rank", FilterOperator.IN, ["a", "c"], {A, B, C}),
    ("rank", FilterOperator.NIN, ["c"], {A}),
    ("quality", FilterOperator.ANY, ["high", "low"], {A, C}),
    ("quality", FilterOperator.ALL, ["medium", "high"], {A, C}),
    ("quality", FilterOperator.CONTAINS, "high", {A, C}),
    ("identifier", FilterOperator.TEXT_MATCH, "6FTR78Y", {A, B}),
    ("identifier", FilterOperator.TEXT_MATCH_INSENSITIVE, "6ftr78", {A, B, C}),
    ("note", FilterOperator.TEXT_MATCH, "r*W", {A}),  # wildcards in the operand are literal
    ("note", FilterOperator.TEXT_MATCH, "r?W", set()),
    ("note", FilterOperator.IS_EMPTY, None, {B, C}),  # "" and missing
    ("page number", FilterOperator.GTE, 2, {B, C}),
    ("id", FilterOperator.EQ, "x-3", {C}),
    ("_private", FilterOperator.IS_EMPTY, None, {B, C}),
    ("unknown_field", FilterOperator.EQ, "c", set()),
    ("unknown_field", FilterOperator.NE, "c", {A, B, C}),
]


@pytest.mark.parametrize(("key", "op", "value", "expected"), FILTER_CASES)
def test_every_operator(store: MultiVectorStore, key, op, value, expected) -> None:
    filters = mf(key, op, value)
    assert ids(store, filters) == expected
    assert {n.node_id for n in store.get_nodes(filters=filters)} == expected


def test_every_llama_index_operator_is_covered() -> None:
    assert {case[1] for case in FILTER_CASES} == set(FilterOperator)


@pytest.mark.parametrize(
    ("key", "op", "value"),
    [
        c[:3]
        for c in FILTER_CASES
        if c[0] in ("rank", "weight", "identifier") or c[1] in ("any", "all")
    ],
)
def test_operators_agree_with_llama_index_reference(
    store: MultiVectorStore, key, op, value
) -> None:
    filters = mf(key, op, value)
    metadata = {n.node_id: n.metadata for n in _nodes()}
    keep = build_metadata_filter_fn(lambda nid: metadata[nid], filters)
    assert ids(store, filters) == {nid for nid in metadata if keep(nid)}


def test_conditions_and_nesting(store: MultiVectorStore) -> None:
    rank_c = MetadataFilter(key="rank", value="c")
    weight_1 = MetadataFilter(key="weight", value=1.0)
    assert ids(store, MetadataFilters(filters=[rank_c, weight_1], condition="or")) == {A, B, C}
    assert ids(store, MetadataFilters(filters=[rank_c, weight_1], condition="and")) == set()
    assert ids(store, MetadataFilters(filters=[rank_c], condition=FilterCondition.NOT)) == {A}
    # NOT over several filters: none of them matches (as in SimpleVectorStore)
    none_of = MetadataFilters(
        filters=[weight_1, MetadataFilter(key="weight", value=3.0)], condition="not"
    )
    assert ids(store, none_of) == {B}
    nested = MetadataFilters(
        filters=[
            MetadataFilters(
                filters=[weight_1, MetadataFilter(key="weight", operator=">", value=2.5)],
                condition="or",
            ),
            MetadataFilters(
                filters=[MetadataFilter(key="quality", operator="contains", value="low")],
                condition="not",
            ),
        ],
        condition="and",
    )
    assert ids(store, nested) == {A}
    assert ids(store, MetadataFilters(filters=[])) == {A, B, C}


@pytest.mark.parametrize(
    "filters",
    [
        mf("rank", "==", ["a", "c"]),  # a list where one value is expected
        mf("rank", "in", "a"),  # one value where a list is expected
        mf("rank", "==", None),  # no operand
        mf("weight", "text_match", 1),  # text match on a number
    ],
)
def test_filters_we_cannot_honour_raise(store: MultiVectorStore, filters) -> None:
    with pytest.raises(FilterError):
        store.query(q(filters=filters))
    with pytest.raises(FilterError):
        store.get_nodes(filters=filters)
    with pytest.raises(FilterError):
        MultiVectorRetriever(vector_store=store, filters=filters)


# ------------------------------------------------------------ doc / node ids
def test_doc_ids_and_node_ids_restrict(store: MultiVectorStore) -> None:
    assert ids(store, None, doc_ids=["doc-0", "doc-2"]) == {A, C}
    assert ids(store, None, node_ids=[B]) == {B}
    assert ids(store, None, doc_ids=["doc-0", "doc-1"], node_ids=[B, C]) == {B}
    assert ids(store, mf("rank", "==", "c"), node_ids=[C]) == {C}
    assert ids(store, None, doc_ids=[], node_ids=[]) == {A, B, C}  # empty: no restriction
    assert ids(store, None, doc_ids=["nope"]) == set()


# ------------------------------------------------------------------ query modes
def test_hybrid_alpha_extremes_match_single_legs(store: MultiVectorStore) -> None:
    text = "apples bananas cherries"
    vector = store.query(q(text, mode="default")).ids
    keyword = store.query(q(text, mode="text_search")).ids
    assert store.query(q(text, mode="hybrid", alpha=1.0)).ids == vector
    pure_keyword = store.query(q(text, mode="hybrid", alpha=0.0))
    assert pure_keyword.ids == keyword  # an explicit 0.0 stays 0.0
    assert all(0.0 <= s <= 1.0 for s in pure_keyword.similarities or [])
    half = store.query(q(text, mode=VectorStoreQueryMode.HYBRID, alpha=0.5))
    assert set(half.ids or []) == {A, B, C}
    assert (half.similarities or [0])[0] <= 1.0 + 1e-9


def test_hybrid_explanation_through_retriever(store: MultiVectorStore) -> None:
    retriever = MultiVectorRetriever(vector_store=store, mode="hybrid", alpha=0.5)
    results = retriever.retrieve("bananas")
    assert results[0].node.node_id == B
    top = results[0]
    assert isinstance(top, MultiVectorNodeWithScore)
    assert top.explanation is not None
    legs = {leg.leg: leg for leg in top.explanation.legs}
    assert set(legs) == {"vector", "keyword"}
    assert top.score == pytest.approx(sum(leg.contribution for leg in legs.values()))
    assert top.node.metadata == _nodes()[1].metadata  # nothing injected into metadata


@pytest.mark.parametrize("mode", ["sparse", "text_search"])
def test_keyword_modes_and_sparse_top_k(store: MultiVectorStore, mode: str) -> None:
    result = store.query(q("cherries", k=3, mode=mode))
    assert result.ids == [C]  # BM25: only the document holding the word
    assert (result.similarities or [0])[0] > 0
    both = store.query(q("apples", k=3, mode=mode, sparse_top_k=1))
    assert len(both.ids or []) == 1


def test_hybrid_top_k(store: MultiVectorStore) -> None:
    result = store.query(q("lorem apples", k=3, mode="hybrid", hybrid_top_k=2, alpha=0.5))
    assert len(result.ids or []) == 2


def test_mmr_mode_diversifies(empty_store: MultiVectorStore) -> None:
    empty_store.add(
        [
            TextNode(id_="p1", text="red apples red apples"),
            TextNode(id_="p2", text="red apples red apples"),
            TextNode(id_="p3", text="green apples pie"),
        ]
    )
    relevance = empty_store.query(q("red apples", k=2, mode="mmr", mmr_threshold=1.0))
    assert set(relevance.ids or []) == {"p1", "p2"}
    diverse = empty_store.query(q("red apples", k=2, mode="mmr", mmr_threshold=0.3))
    assert (diverse.ids or [])[1] == "p3"
    assert empty_store.query(q("red apples", k=2, mode="mmr"), mmr_prefetch_factor=2.0).ids


@pytest.mark.parametrize("mode", ["svm", "semantic_hybrid", "linear_regression"])
def test_unsupported_modes_raise(store: MultiVectorStore, mode: str) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        store.query(q(mode=mode))


def test_unsupported_query_arguments_raise(store: MultiVectorStore) -> None:
    with pytest.raises(ConfigError, match="unknown keyword"):
        store.query(q(), nonsense=1)
    with pytest.raises(ConfigError, match="output_fields"):
        store.query(q(output_fields=["text"]))
    with pytest.raises(ConfigError, match="unsupported"):
        store.add([], bogus=True)


def test_fusion_type_ranked(store: MultiVectorStore) -> None:
    result = store.query(q("apples", mode="hybrid", alpha=0.5), fusion_type="ranked")
    assert result.similarities and result.similarities[0] == pytest.approx(1 / 60, rel=1e-6)


# -------------------------------------------------------- user-provided matrices
def test_user_matrices_and_query_matrix(backend_name: str, embedder: HashEmbedder) -> None:
    client = make_client(backend_name)
    try:
        collection = client.collections.create(
            "Nodes",
            vector_config=[Configure.MultiVectors.self_provided("colbert")],
            properties=list(NODE_PROPERTIES),
            auto_schema=False,
        )
        store = MultiVectorStore(collection=collection)  # no embedder: matrices only
        nodes = _nodes()
        matrices = {n.node_id: embedder.embed_query(n.text) for n in nodes}
        assert store.add(nodes, matrices=matrices) == [A, B, C]
        result = store.query(q("ignored text"), query_matrix=embedder.embed_query("bananas"))
        assert result.ids is not None and result.ids[0] == B
        assert store.query(q("bananas", mode="text_search")).ids == [B]
        with pytest.raises(ConfigError, match="no matrix"):
            store.add([TextNode(id_="z", text="no matrix")])
        with pytest.raises(ConfigError, match="self-provided"):
            store.query(q("bananas"))
    finally:
        client.close()


def test_given_matrix_wins_over_embedder(empty_store: MultiVectorStore, embedder) -> None:
    node = TextNode(id_="n", text="words here")
    empty_store.add([node], matrices={"n": embedder.embed_query("completely different")})
    assert empty_store.query(q("completely different", k=1)).similarities[0] == pytest.approx(
        1.0, abs=1e-3
    )
    with pytest.raises(ConfigError, match="unknown node ids"):
        empty_store.add([node], matrices={"other": embedder.embed_query("x")})


def test_text2vec_collection_needs_no_store_embedder(backend_name, embedder) -> None:
    client = make_client(backend_name)
    try:
        collection = client.collections.create(
            "Nodes",
            vector_config=[
                Configure.MultiVectors.text2vec(embedder=embedder, source_properties=["text"])
            ],
            properties=list(NODE_PROPERTIES),
            auto_schema=False,
        )
        store = MultiVectorStore(collection=collection, embedder=None)
        store.add(_nodes())
        assert store.query(q("bananas", k=1)).ids == [B]
        assert store.query(q("bananas", k=1, mode="hybrid", alpha=0.0)).ids == [B]
    finally:
        client.close()


def test_incompatible_collections_are_refused(backend_name, embedder) -> None:
    client = make_client(backend_name)
    try:
        strict = client.collections.create(
            "Strict",
            vector_config=[Configure.MultiVectors.self_provided()],
            properties=[Property(name="text", data_type=DataType.TEXT)],
            auto_schema=False,
        )
        store = MultiVectorStore(collection=strict, embedder=embedder)  # read-only use is fine
        assert store.query(q("lorem")).ids == []
        with pytest.raises(ConfigError, match=r"auto_schema is off.*nothing was stored"):
            store.add(_nodes())
        assert len(strict) == 0
        all_text = client.collections.create(
            "AllText",
            vector_config=[Configure.MultiVectors.text2vec(embedder=embedder)],
            properties=list(NODE_PROPERTIES),
        )
        with pytest.raises(ConfigError, match="source_properties"):
            MultiVectorStore(collection=all_text)
        with pytest.raises(ConfigError, match="Collection"):
            MultiVectorStore(collection="Plain")  # type: ignore[arg-type]
    finally:
        client.close()


def test_create_reuses_an_existing_collection(backend_name, embedder) -> None:
    client = make_client(backend_name)
    try:
        first = MultiVectorStore.create(client, collection_name="Shared", embedder=embedder)
        first.add(_nodes())
        second = MultiVectorStore.create(client, collection_name="Shared", embedder=embedder)
        assert second.query(q("bananas", k=1)).ids == [B]
        second.close()  # the client was passed in: it stays open
        assert client.is_ready()
    finally:
        client.close()


# ------------------------------------------------------------------ async twins
async def test_async_twins(empty_store: MultiVectorStore) -> None:
    assert await empty_store.async_add(_nodes()) == [A, B, C]
    result = await empty_store.aquery(q("bananas", k=1))
    assert result.ids == [B]
    hybrid = await empty_store.aquery(q("bananas", k=1, mode="hybrid", alpha=0.0))
    assert hybrid.ids == [B]
    assert [n.node_id for n in await empty_store.aget_nodes([C])] == [C]
    await empty_store.adelete("doc-0")
    assert {n.node_id for n in await empty_store.aget_nodes()} == {B, C}
    await empty_store.adelete_nodes(filters=mf("rank", "==", "c"), node_ids=[B])
    assert [n.node_id for n in await empty_store.aget_nodes()] == [C]
    await empty_store.aclear()
    assert len(empty_store.client) == 0


async def test_async_and_sync_agree(store: MultiVectorStore) -> None:
    for mode in ("default", "hybrid", "text_search", "mmr"):
        sync = store.query(q("apples lorem", mode=mode, alpha=0.3))
        asynchronous = await store.aquery(q("apples lorem", mode=mode, alpha=0.3))
        assert sync.ids == asynchronous.ids
        assert sync.similarities == pytest.approx(asynchronous.similarities)


async def test_retriever_async_and_modes(store: MultiVectorStore) -> None:
    for mode in ("vector", "default", "keyword", "sparse", "hybrid", "mmr"):
        retriever = MultiVectorRetriever(vector_store=store, mode=mode, similarity_top_k=2)
        sync = retriever.retrieve("cherries apples")
        asynchronous = await retriever.aretrieve("cherries apples")
        assert [n.node.node_id for n in sync] == [n.node.node_id for n in asynchronous]
        assert sync[0].node.node_id == C
        assert len(sync) <= 2
    filtered = MultiVectorRetriever(
        vector_store=store, mode="vector", filters=mf("rank", "==", "a"), similarity_top_k=5
    )
    assert [n.node.node_id for n in filtered.retrieve("cherries")] == [A]
    with pytest.raises(ConfigError, match="mode"):
        MultiVectorRetriever(vector_store=store, mode="telepathy")


# -------------------------------------------------------------- optional extra
def test_import_multivector_does_not_import_llama_index() -> None:
    code = "import sys, multivector; print('llama_index' in ' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_llama_index_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "multivector.integrations.llama_index")
    monkeypatch.setitem(sys.modules, "llama_index.core.vector_stores.types", None)
    with pytest.raises(OptionalDependencyError, match=r"multivector\[llama-index\]"):
        importlib.import_module("multivector.integrations.llama_index")


def test_multivector_connect_is_the_default_client() -> None:
    store = MultiVectorStore.create(embedder=HashEmbedder())
    try:
        store.add(_nodes())
        assert store.query(q("bananas", k=1)).ids == [B]
        assert isinstance(store.client, multivector.Collection)
    finally:
        store.close()
