"""LlamaIndex nodes <-> collection objects (schema, objects to insert, hits back to nodes).

One node is one object whose uuid is the node id. Its text and metadata are placed by the
collection's :class:`~multivector.integrations.mapping.DocumentMapping` (shared with LangChain),
and two node fields are added:

- ``text`` (``text_key``; TEXT, BM25-searchable, the source of ``text2vec`` embedding): the
  node's raw content;
- ``metadata`` (OBJECT): ``node.metadata`` verbatim, in collections with that property (those
  :data:`NODE_PROPERTIES` declares); in other collections (the flat layout, e.g. the seed's
  ``text`` + ``docid``) each metadata key is a property of its own, so filters on ``docid`` work;
- ``ref_doc_id`` (TEXT): the source document's id, or missing;
- ``_node_content`` (OBJECT): the rest of the node's JSON (class, relationships, templates, ...)
  without embedding or text, so the exact node type comes back; in the flat layout it also keeps
  the metadata verbatim (the properties are typed, this copy is exact).

A collection without the node fields gets them on the first write, through auto-schema. An
object without ``_node_content`` (written by another app, or the seed's calls) reads back as a
``TextNode`` built from the mapping: its id, its text, its other properties as metadata.
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
from multivector.errors import ConfigError, InvalidObjectError, MultiVectorError, StorageFormatError
from multivector.integrations.mapping import NODE_CONTENT_KEY, REF_DOC_KEY, DocumentMapping
from multivector.results import ScoreExplanation, TokenHighlight
from multivector.retrieval import RetrievedHit, RetrieverSettings
from multivector.retrieval.scores import leg_scores
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
    "check_writable",
    "node_to_record",
    "plan_add",
    "query_result",
    "raise_failures",
    "record_to_node",
    "scored_nodes",
]

TEXT_PROPERTY = "text"
REF_DOC_PROPERTY = REF_DOC_KEY
METADATA_PROPERTY = "metadata"
CONTENT_PROPERTY = NODE_CONTENT_KEY
#: How a store lays out nodes when it is given no mapping: metadata nested in ``metadata``.
NESTED = DocumentMapping()

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

    def properties(self, mapping: DocumentMapping = NESTED) -> dict[str, Any]:
        """The object's properties in ``mapping``'s layout (``ref_doc_id`` left out when the node
        has no source).
        """
        props = mapping.properties(self.text, self.metadata)
        content = self.content if mapping.nested else {**self.content, "metadata": self.metadata}
        props[CONTENT_PROPERTY] = content
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


def record_to_node(
    properties: Mapping[str, Any],
    mapping: DocumentMapping = NESTED,
    node_id: str | None = None,
) -> BaseNode:
    """Rebuild the node an object was made from (its exact class, metadata and relationships).

    An object no store wrote (no ``_node_content``) becomes a ``TextNode`` with id ``node_id``,
    the mapping's text and metadata; without ``node_id`` that is a StorageFormatError.
    """
    raw = properties.get(CONTENT_PROPERTY)
    text = mapping.text(properties)
    if not isinstance(raw, dict):
        if node_id is None:
            raise StorageFormatError(
                f"object has no {CONTENT_PROPERTY!r} property: it was not written by "
                "MultiVectorStore (pass its id to read it as a TextNode)"
            )
        return TextNode(id_=node_id, text=text, metadata=mapping.metadata(properties))
    content = copy.deepcopy(raw)
    if "text" in content:
        content["text"] = text
    resource = content.get("text_resource")
    if isinstance(resource, dict):
        resource["text"] = text
    if not isinstance(content.get("metadata"), dict):  # the flat layout keeps an exact copy
        content["metadata"] = copy.deepcopy(mapping.metadata(properties))
    content["embedding"] = None
    cls = _NODE_CLASSES.get(str(content.get("class_name")), TextNode)
    content.pop("class_name", None)
    return cls.model_validate(content)


def check_node_schema(
    config: CollectionConfig, *, has_embedder: bool, space: str, text_key: str = TEXT_PROPERTY
) -> None:
    """Refuse a collection whose vectorizer would embed more than the node text (the node fields
    themselves are added on the first write, see :func:`check_writable`).
    """
    vec = config.vector(space)
    if not has_embedder and vec is not None and vec.has_vectorizer:
        sources = set(vec.source_properties)
        if text_key not in sources or REF_DOC_PROPERTY in sources:
            raise ConfigError(
                f"vector {space!r} of {config.name!r} must embed only the node text: configure "
                f"it with source_properties=[{text_key!r}] (found {sorted(sources) or 'every text'}"
                "), or pass MultiVectorStore(..., embedder=...)"
            )


def check_writable(config: CollectionConfig, mapping: DocumentMapping) -> None:
    """Refuse a write the collection would reject for every node: node fields it lacks while
    auto-schema is off, or a node field of the wrong type.
    """
    wanted = {
        mapping.text_key: DataType.TEXT,
        REF_DOC_PROPERTY: DataType.TEXT,
        CONTENT_PROPERTY: DataType.OBJECT,
    }
    if mapping.nested:
        wanted[mapping.metadata_key] = DataType.OBJECT
    wrong = [
        f"{name!r} is {have.data_type.value!r}, not {want.value!r}"
        for name, want in wanted.items()
        if (have := config.property(name)) is not None and have.data_type is not want
    ]
    missing = [name for name in wanted if config.property(name) is None]
    if wrong or (missing and not config.auto_schema):
        problems = wrong + ([f"missing {missing} (auto_schema is off)"] if missing else [])
        raise ConfigError(
            f"collection {config.name!r} cannot hold LlamaIndex nodes: {'; '.join(problems)}. "
            "Create it with properties=list(NODE_PROPERTIES) (multivector.integrations."
            "llama_index), or with auto_schema=True so the node fields are added on first write; "
            "nothing was stored"
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
                f"the embedder returned {len(embedded)} matrices for {len(self.pending)} texts; "
                "no node was stored"
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
    mapping: DocumentMapping = NESTED,
) -> AddPlan:
    """Objects for ``nodes``: a given matrix wins, else the store's embedder (pending), else the
    collection's vectorizer; a node with none of these is an error (and nothing is stored).
    """
    given = dict(matrices or {})
    unknown = set(given) - {n.node_id for n in nodes}
    if unknown:
        raise ConfigError(
            f"matrices given for unknown node ids {sorted(unknown)[:5]}; no node was stored"
        )
    plan = AddPlan(space)
    for i, node in enumerate(nodes):
        record = node_to_record(node)
        matrix = given.get(record.node_id)
        if matrix is None and has_embedder:
            plan.pending.append(i)
            plan.texts.append(record.text)
        elif matrix is None and not vectorizes:
            raise ConfigError(
                f"node {record.node_id!r} has no matrix and the store has no embedder, so none of "
                f"the {len(nodes)} nodes was stored: pass MultiVectorStore(collection, "
                "embedder=...), a text2vec collection, or add(nodes, matrices={node_id: matrix})"
            )
        vector = None if matrix is None else {space: matrix}
        props = record.properties(mapping)
        plan.objects.append(DataObject(props, uuid=record.node_id, vector=vector))
        plan.ids.append(record.node_id)
    return plan


def raise_failures(errors: Mapping[int, Any], ids: Sequence[str]) -> None:
    """Raise when a batch rejected nodes, saying exactly which were stored and which were not.

    The error has the first failure's type (an :class:`InvalidObjectError` otherwise) and that
    failure as its cause.
    """
    if not errors:
        return
    rejected = [ids[i] for i in sorted(errors)]
    stored = len(ids) - len(rejected)
    first = errors[min(errors)]
    more = " ..." if len(rejected) > 5 else ""
    message = (
        f"{len(rejected)} of {len(ids)} node(s) were rejected and NOT stored: {rejected[:5]}{more}; "
        + (f"the other {stored} were stored. " if stored else "no node was stored. ")
        + f"First: node {first.uuid!r}: {first.message}"
    )
    cause = first.error
    kind = type(cause) if isinstance(cause, MultiVectorError) else InvalidObjectError
    try:
        error = kind(message)
    except TypeError:  # an error class with a richer constructor
        error = InvalidObjectError(message)
    raise error from cause


# -------------------------------------------------------------------- reads
class MultiVectorNodeWithScore(NodeWithScore):
    """A ``NodeWithScore`` that also carries the raw score and how it was made.

    ``score`` is the similarity (documented in :mod:`multivector.integrations.llama_index.store`);
    ``raw_score`` the mode's own score (MaxSim, BM25 or fused); ``explanation`` each hybrid leg's
    raw and normalised score. ``vector_similarity`` (MaxSim / query tokens) and ``keyword_score``
    (BM25) are the legs' raw scores, comparable across queries (a hybrid ``score`` is normalised
    per query). ``highlights`` (only when asked for) holds the document token that matched each
    query token best, with its character span. Node metadata is untouched, so fusion over
    several retrievers deduplicates as expected.
    """

    raw_score: float | None = None
    explanation: ScoreExplanation | None = None
    vector_similarity: float | None = None
    keyword_score: float | None = None
    highlights: tuple[TokenHighlight, ...] | None = None

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex component name."""
        return "MultiVectorNodeWithScore"


def query_result(
    hits: Sequence[RetrievedHit], mapping: DocumentMapping = NESTED
) -> VectorStoreQueryResult:
    """Retriever hits as a ``VectorStoreQueryResult`` (nodes, similarities, ids)."""
    return VectorStoreQueryResult(
        nodes=[record_to_node(h.properties, mapping, h.uuid) for h in hits],
        similarities=[h.similarity for h in hits],
        ids=[h.uuid for h in hits],
    )


def scored_nodes(
    hits: Sequence[RetrievedHit],
    mapping: DocumentMapping = NESTED,
    settings: RetrieverSettings | None = None,
    n_query_tokens: int | None = None,
) -> list[NodeWithScore]:
    """Retriever hits as :class:`MultiVectorNodeWithScore` (similarity as ``score``); with the
    search's ``settings``, each leg's raw score too.
    """
    out: list[NodeWithScore] = []
    for h in hits:
        legs = leg_scores(h, settings, n_query_tokens) if settings is not None else None
        out.append(
            MultiVectorNodeWithScore(
                node=record_to_node(h.properties, mapping, h.uuid),
                score=h.similarity,
                raw_score=h.score,
                explanation=h.explanation,
                vector_similarity=None if legs is None else legs.vector_similarity,
                keyword_score=None if legs is None else legs.keyword_score,
                highlights=h.highlights,
            )
        )
    return out
