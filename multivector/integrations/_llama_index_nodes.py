"""LlamaIndex nodes <-> collection objects.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llama_index.core.schema import (
    BaseNode,
    Document,
    ImageDocument,
    ImageNode,
    IndexNode,
    MetadataMode,
    Node,
    TextNode,
)

from multivector.config import DataType, Property, Tokenization
from multivector.errors import InvalidObjectError, StorageFormatError

__all__ = [
    "CONTENT_PROPERTY",
    "METADATA_PROPERTY",
    "NODE_PROPERTIES",
    "REF_DOC_PROPERTY",
    "TEXT_PROPERTY",
    "NodeRecord",
    "node_to_record",
    "record_to_node",
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
