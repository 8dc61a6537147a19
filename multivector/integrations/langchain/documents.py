"""LangChain documents to multivector objects and back, through the shared
:class:`~multivector.integrations.mapping.DocumentMapping`.

``page_content`` is the text property (``text_key``), ``Document.metadata`` lives where the
mapping says (one ``metadata`` OBJECT property, verbatim, in collections ``from_texts`` makes;
a property per key in a collection made elsewhere, such as the seed's ``text`` + ``docid``), and
``Document.id`` is the object's id.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.documents import Document

from multivector.api.ingest import DataObject
from multivector.errors import ConfigError, InvalidObjectError, MultiVectorError
from multivector.integrations.mapping import DocumentMapping

__all__ = ["check_inserted", "text_objects", "to_document"]


def to_document(
    uid: str,
    props: Mapping[str, Any],
    text_key: str | DocumentMapping,
    metadata_key: str = "metadata",
) -> Document:
    """The ``Document`` of a stored object (its id ``uid`` and ``props``).

    ``text_key`` is the store's :class:`DocumentMapping` (or, as before, the text property's
    name, with ``metadata_key`` naming the nested metadata property).
    """
    mapping = (
        text_key
        if isinstance(text_key, DocumentMapping)
        else DocumentMapping(text_key, metadata_key, nested=True)
    )
    return Document(id=uid, page_content=mapping.text(props), metadata=mapping.metadata(props))


def text_objects(
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any] | None] | None,
    ids: Sequence[str | None] | None,
    *,
    mapping: DocumentMapping,
) -> tuple[list[str], list[DataObject]]:
    """The ids (given, else fresh uuid4 strings) and objects of ``texts`` with their metadata."""
    n = len(texts)
    if metadatas is not None and len(metadatas) != n:
        raise ConfigError(f"got {len(metadatas)} metadatas for {n} texts; pass one per text")
    if ids is not None and len(ids) != n:
        raise ConfigError(f"got {len(ids)} ids for {n} texts; pass one per text (or None)")
    uids = [i if i else str(_uuid.uuid4()) for i in (ids or [None] * n)]
    objects = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ConfigError(f"texts[{i}] is a {type(text).__name__}, not str: {text!r:.60}")
        meta = metadatas[i] if metadatas is not None else None
        props = mapping.properties(text, dict(meta or {}))
        objects.append(DataObject(properties=props, uuid=uids[i]))
    return uids, objects


def check_inserted(result: Any, ids: list[str]) -> list[str]:
    """``ids`` when the batch ``result`` has no errors; else an error saying which texts were
    stored and which were not, of the first failure's type (its cause attached).
    """
    if not result.has_errors:
        return ids
    errors = result.errors
    failed = [ids[i] for i in sorted(errors)]
    stored = len(ids) - len(failed)
    first = errors[min(errors)]
    message = (
        f"{len(failed)} of {len(ids)} texts failed and were not stored (ids {failed[:5]}"
        f"{' ...' if len(failed) > 5 else ''}); "
        + (f"the other {stored} were stored. " if stored else "nothing was stored. ")
        + f"First: {first.message}"
    )
    cause = first.error
    kind = type(cause) if isinstance(cause, MultiVectorError) else InvalidObjectError
    try:
        error = kind(message)
    except TypeError:  # an error class with a richer constructor
        error = InvalidObjectError(message)
    raise error from cause
