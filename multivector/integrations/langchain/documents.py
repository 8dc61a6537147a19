"""LangChain documents to multivector objects and back, in the LangChain store's storage layout.

Property ``text`` (TEXT, BM25-searchable) holds ``page_content``, property ``metadata`` (OBJECT)
holds ``Document.metadata`` verbatim, and ``Document.id`` is the object's id (the property names
are the store's ``text_key`` / ``metadata_key``). A collection made elsewhere without the metadata
property stores the metadata keys as properties, and its other properties read back as metadata.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document

from multivector.api.ingest import DataObject
from multivector.errors import ConfigError, InvalidObjectError

__all__ = ["check_inserted", "text_objects", "to_document"]


def to_document(uid: str, props: dict[str, Any], text_key: str, metadata_key: str) -> Document:
    """The ``Document`` of a stored object (its id ``uid`` and ``props``)."""
    if metadata_key in props:
        metadata = props[metadata_key] or {}
    else:  # a collection made elsewhere: its other properties are the metadata
        metadata = {k: v for k, v in props.items() if k != text_key}
    return Document(id=uid, page_content=props.get(text_key) or "", metadata=metadata)


def text_objects(
    texts: Sequence[str],
    metadatas: Sequence[dict[str, Any]] | None,
    ids: Sequence[str | None] | None,
    *,
    text_key: str,
    metadata_key: str,
    has_metadata: bool,
) -> tuple[list[str], list[DataObject]]:
    """The ids (given, else fresh uuid4 strings) and objects of ``texts`` with their metadata;
    ``has_metadata`` False spreads the metadata over properties instead of one OBJECT property.
    """
    n = len(texts)
    if metadatas is not None and len(metadatas) != n:
        raise ConfigError(f"got {len(metadatas)} metadatas for {n} texts; pass one per text")
    if ids is not None and len(ids) != n:
        raise ConfigError(f"got {len(ids)} ids for {n} texts; pass one per text (or None)")
    uids = [i if i else str(_uuid.uuid4()) for i in (ids or [None] * n)]
    objects = []
    for i, text in enumerate(texts):
        meta = dict(metadatas[i]) if metadatas is not None and metadatas[i] else {}
        props = {text_key: text, **({metadata_key: meta} if has_metadata else meta)}
        objects.append(DataObject(properties=props, uuid=uids[i]))
    return uids, objects


def check_inserted(result: Any, ids: list[str]) -> list[str]:
    """``ids`` when the batch ``result`` has no errors, else InvalidObjectError naming the first."""
    if result.has_errors:
        failures = "; ".join(f.message for f in list(result.errors.values())[:3])
        raise InvalidObjectError(f"{len(result.errors)} of {len(ids)} texts failed: {failures}")
    return ids
