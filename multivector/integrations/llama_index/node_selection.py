"""Stored nodes picked by id and / or metadata filter: what ``get_nodes``, ``delete_nodes``,
``delete(ref_doc_id)`` and ``clear`` of the LlamaIndex store read or delete.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import MetadataFilters

from multivector.api.collection import Collection
from multivector.errors import ConfigError
from multivector.integrations.llama_index.filters import all_of, id_filters, translate_filters
from multivector.integrations.llama_index.nodes import NESTED, REF_DOC_PROPERTY, record_to_node
from multivector.integrations.mapping import MATCH_NOTHING, DocumentMapping, settle
from multivector.schema.query import Filter, FilterNode

__all__ = ["delete_all", "delete_document", "delete_selected", "get_selected", "selection"]

_DELETE_CHUNK = 1000


def selection(
    node_ids: Sequence[str] | None,
    filters: MetadataFilters | None,
    mapping: DocumentMapping = NESTED,
) -> FilterNode | None:
    """The filter for these node ids and ``filters`` (both: the intersection; neither: None)."""
    return all_of(
        [id_filters(doc_ids=None, node_ids=node_ids), translate_filters(filters, mapping=mapping)]
    )


def delete_document(collection: Collection, ref_doc_id: str) -> None:
    """Delete every node whose source document is ``ref_doc_id`` (none when no node has one)."""
    known = collection.backend.known_config
    where = settle(Filter.by_property(REF_DOC_PROPERTY).equal(ref_doc_id), known)
    if where is not MATCH_NOTHING and where is not None:
        collection.data.delete_many(where)


def delete_selected(
    collection: Collection,
    node_ids: Sequence[str] | None,
    filters: MetadataFilters | None,
    mapping: DocumentMapping = NESTED,
) -> None:
    """Delete the selected nodes: an empty ``node_ids`` deletes nothing, no selection raises."""
    if node_ids is not None and len(node_ids) == 0:
        return
    where = selection(node_ids, filters, mapping)
    if where is None:
        raise ConfigError(
            "delete_nodes() needs node_ids=[...] or filters=MetadataFilters(...); "
            "call clear() to delete every node"
        )
    settled = settle(where, collection.backend.known_config)
    if settled is None:  # a filter every node matches (e.g. != on a key no node has)
        delete_all(collection)
    elif settled is not MATCH_NOTHING:
        collection.data.delete_many(settled)


def get_selected(
    collection: Collection,
    node_ids: Sequence[str] | None,
    filters: MetadataFilters | None,
    mapping: DocumentMapping = NESTED,
) -> list[BaseNode]:
    """The selected nodes: in ``node_ids`` order when given (``[]``: none), else insertion order."""
    if node_ids is not None and len(node_ids) == 0:
        return []
    where = settle(selection(node_ids, filters, mapping), collection.backend.known_config)
    objects = collection.query.fetch_objects(filters=where).objects
    if node_ids is not None:
        rank = {nid: i for i, nid in reversed(list(enumerate(node_ids)))}
        objects = sorted(objects, key=lambda o: rank.get(o.uuid, len(rank)))
    return [record_to_node(o.properties, mapping, o.uuid) for o in objects]


def delete_all(collection: Collection) -> None:
    """Delete every node, a chunk of ids per request (the collection and its schema stay)."""
    ids = [o.uuid for o in collection.query.fetch_objects(return_properties=[]).objects]
    for start in range(0, len(ids), _DELETE_CHUNK):
        chunk = ids[start : start + _DELETE_CHUNK]
        collection.data.delete_many(Filter.by_id().contains_any(chunk))
