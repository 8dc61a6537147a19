"""LlamaIndex nodes <-> collection objects (schema, objects to insert, hits back to nodes).

One node is one object whose uuid is the node id, with four properties:

- ``text`` (TEXT, BM25-searchable, the source of ``text2vec`` embedding): the node's raw content;
- ``ref_doc_id`` (TEXT, filterable, not searchable): the source document's id, or missing;
- ``metadata`` (OBJECT): ``node.metadata`` verbatim, so any key and any JSON shape round-trips;
- ``_node_content`` (OBJECT, not filterable): the rest of the node's JSON (class, relationships,
  templates, ...) without embedding, metadata or text, so the exact node type comes back.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.schema import (
    BaseNode,
    Document,
    ImageDocument,
    ImageNode,
    IndexNode,
    MetadataMode,
    Node,
    NodeWithScore,
    TextNode,
)
from llama_index.core.vector_stores.types import VectorStoreQueryResult

from multivector._types import Matrix, MatrixLike
from multivector.api.ingest import DataObject
from multivector.errors import ConfigError, InvalidObjectError, StorageFormatError
from multivector.results import ScoreExplanation, TokenHighlight
from multivector.retrieval import RetrievedHit
from multivector.schema.config import CollectionConfig, DataType, Property, Tokenization

__all__ = [
    "CONTENT_PROPERTY",
    "METADATA_PROPERTY",
    "NODE_PROPERTIES",
    "REF_DOC_PROPERTY",
    "TEXT_PROPERTY",
    "AddPlan",
    "MultiVectorNodeWithScore",
    "NodeRecord",
    "check_node_schema",
    "node_to_record",
    "plan_add",
    "query_result",
    "record_to_node",
    "scored_nodes",
]

TEXT_PROPERTY = "text"
REF_DOC_PROPERTY = "ref_doc_id"
METADATA_PROPERTY = "metadata"
CONTENT_PROPERTY = "_node_content"

#: The schema a LlamaIndex collection needs (create one with ``properties=NODE_PROPERTIES``).
NODE_PROPERTIES: tuple[Property, ...] = (
    Property(name=TEXT_PROPERTY, data_type=DataType.TEXT),
    Property(
        name=REF_DOC_PROPERTY,
        data_type=DataType.TEXT,
        tokenization=Tokenization.FIELD,
        index_searchable=False,
    ),
    Property(name=METADATA_PROPERTY, data_type=DataType.OBJECT),
    Property(name=CONTENT_PROPERTY, data_type=DataType.OBJECT, index_filterable=False),
)

_NODE_CLASSES: dict[str, type[BaseNode]] = {
    cls.class_name(): cls for cls in (TextNode, Document, ImageNode, ImageDocument, IndexNode, Node)
}


@dataclass(frozen=True)
class NodeRecord:
    """A node split into the object's uuid and properties."""

    node_id: str
    text: str
    ref_doc_id: str | None
    metadata: dict[str, Any]
    content: dict[str, Any]

    def properties(self) -> dict[str, Any]:
        """The object's properties (``ref_doc_id`` left out when the node has no source)."""
        props: dict[str, Any] = {
            TEXT_PROPERTY: self.text,
            METADATA_PROPERTY: self.metadata,
            CONTENT_PROPERTY: self.content,
        }
        if self.ref_doc_id is not None:
            props[REF_DOC_PROPERTY] = self.ref_doc_id
        return props


def node_to_record(node: BaseNode) -> NodeRecord:
    """Split ``node``: its single-vector ``embedding`` is dropped, metadata must be JSON."""
    metadata = dict(node.metadata)
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidObjectError(
            f"node {node.node_id!r}: metadata is not JSON-serialisable ({exc}); store only str, "
            "numbers, bools, None, lists and dicts"
        ) from None
    content = node.model_dump(mode="json")
    content.pop("embedding", None)
    content.pop("metadata", None)
    if "text" in content:
        content["text"] = ""
    resource = content.get("text_resource")
    if isinstance(resource, dict):
        resource["text"] = None
    return NodeRecord(
        node_id=node.node_id,
        text=node.get_content(metadata_mode=MetadataMode.NONE),
        ref_doc_id=node.ref_doc_id,
        metadata=metadata,
        content=content,
    )


def record_to_node(properties: Mapping[str, Any]) -> BaseNode:
    """Rebuild the node an object was made from (its exact class, metadata and relationships)."""
    raw = properties.get(CONTENT_PROPERTY)
    if not isinstance(raw, dict):
        raise StorageFormatError(
            f"object has no {CONTENT_PROPERTY!r} property: it was not written by MultiVectorStore"
        )
    content = copy.deepcopy(raw)
    text = properties.get(TEXT_PROPERTY) or ""
    if "text" in content:
        content["text"] = text
    resource = content.get("text_resource")
    if isinstance(resource, dict):
        resource["text"] = text
    content["metadata"] = copy.deepcopy(properties.get(METADATA_PROPERTY) or {})
    content["embedding"] = None
    cls = _NODE_CLASSES.get(str(content.get("class_name")), TextNode)
    content.pop("class_name", None)
    return cls.model_validate(content)


def check_node_schema(config: CollectionConfig, *, has_embedder: bool, space: str) -> None:
    """Refuse a collection without :data:`NODE_PROPERTIES`, or whose vectorizer would embed
    more than the node text.
    """
    problems = []
    for want in NODE_PROPERTIES:
        have = config.property(want.name)
        if have is None or have.data_type is not want.data_type:
            found = "missing" if have is None else have.data_type.value
            problems.append(f"{want.name!r} ({want.data_type.value}, found {found})")
    if problems:
        raise ConfigError(
            f"collection {config.name!r} lacks the node schema: {', '.join(problems)}; create it "
            "with properties=list(multivector.integrations.llama_index.store.NODE_PROPERTIES) or use "
            "MultiVectorStore.create(...)"
        )
    vec = config.vector(space)
    if not has_embedder and vec is not None and vec.has_vectorizer:
        sources = set(vec.source_properties)
        if TEXT_PROPERTY not in sources or REF_DOC_PROPERTY in sources:
            raise ConfigError(
                f"vector {space!r} of {config.name!r} must embed only the node text: configure "
                "it with source_properties=['text'] (or pass MultiVectorStore(..., embedder=...))"
            )


# ------------------------------------------------------------------- writes
@dataclass
class AddPlan:
    """Objects to insert; ``pending`` positions still need the store's embedder (``texts``)."""

    space: str
    objects: list[DataObject] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def attach(self, embedded: Sequence[Matrix]) -> None:
        """Give each pending object its embedded matrix."""
        if len(embedded) != len(self.pending):
            raise InvalidObjectError(
                f"the embedder returned {len(embedded)} matrices for {len(self.pending)} texts"
            )
        for i, matrix in zip(self.pending, embedded):
            self.objects[i].vector = {self.space: matrix}


def plan_add(
    nodes: Sequence[BaseNode],
    matrices: Mapping[str, MatrixLike] | None,
    *,
    space: str,
    has_embedder: bool,
    vectorizes: bool,
) -> AddPlan:
    """Objects for ``nodes``: a given matrix wins, else the store's embedder (pending), else the
    collection's vectorizer; a node with none of these is an error.
    """
    given = dict(matrices or {})
    unknown = set(given) - {n.node_id for n in nodes}
    if unknown:
        raise ConfigError(f"matrices given for unknown node ids {sorted(unknown)[:5]}")
    plan = AddPlan(space)
    for i, node in enumerate(nodes):
        record = node_to_record(node)
        matrix = given.get(record.node_id)
        if matrix is None and has_embedder:
            plan.pending.append(i)
            plan.texts.append(record.text)
        elif matrix is None and not vectorizes:
            raise ConfigError(
                f"node {record.node_id!r} has no matrix and the store has no embedder: pass "
                "MultiVectorStore(collection, embedder=...), a text2vec collection, or "
                "add(nodes, matrices={node_id: matrix})"
            )
        vector = None if matrix is None else {space: matrix}
        plan.objects.append(DataObject(record.properties(), uuid=record.node_id, vector=vector))
        plan.ids.append(record.node_id)
    return plan


# -------------------------------------------------------------------- reads
class MultiVectorNodeWithScore(NodeWithScore):
    """A ``NodeWithScore`` that also carries the raw score and how it was made.

    ``score`` is the similarity (documented in :mod:`multivector.integrations.llama_index.store`);
    ``raw_score`` the mode's own score (MaxSim, BM25 or fused); ``explanation`` each hybrid leg's
    raw and normalised score; ``highlights`` (only when asked for) the document token that
    matched each query token best, with its character span. Node metadata is untouched, so
    fusion over several retrievers deduplicates as expected.
    """

    raw_score: float | None = None
    explanation: ScoreExplanation | None = None
    highlights: tuple[TokenHighlight, ...] | None = None

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex component name."""
        return "MultiVectorNodeWithScore"


def query_result(hits: Sequence[RetrievedHit]) -> VectorStoreQueryResult:
    """Retriever hits as a ``VectorStoreQueryResult`` (nodes, similarities, ids)."""
    return VectorStoreQueryResult(
        nodes=[record_to_node(h.properties) for h in hits],
        similarities=[h.similarity for h in hits],
        ids=[h.uuid for h in hits],
    )


def scored_nodes(hits: Sequence[RetrievedHit]) -> list[NodeWithScore]:
    """Retriever hits as :class:`MultiVectorNodeWithScore` (similarity as ``score``)."""
    return [
        MultiVectorNodeWithScore(
            node=record_to_node(h.properties),
            score=h.similarity,
            raw_score=h.score,
            explanation=h.explanation,
            highlights=h.highlights,
        )
        for h in hits
    ]
