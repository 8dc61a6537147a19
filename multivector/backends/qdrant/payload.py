"""How an object is laid out as a Qdrant point: point ids, payload keys, property encoding.

Our ids are arbitrary non-empty strings; a Qdrant point id must be an unsigned int or a UUID.
:func:`point_id` keeps a canonical (lower-case, hyphenated) UUID as is and maps any other string
to a uuid5 in a namespace of our own; the original id is kept in the payload under ``id``.

Payload layout (top-level keys are ours; user properties live under ``p`` so no property name can
collide with them)::

    {"id": "<our id>", "seq": <insertion counter>, "ct": <created>, "ut": <updated>,
     "p": {<property>: <value>, ...},                      # DATE values as RFC 3339 strings
     "bm": {<text field>: {"n": <length>, "tf": {<term>: <count>}}},
     "terms": {<text field>: [<distinct term>, ...]}}       # keyword-indexed, for df counts
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid as _uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from multivector.schema.config import CollectionConfig, DataType
from multivector.schema.validation import parse_date

if TYPE_CHECKING:
    from multivector.backends.qdrant.bm25 import DocTerms

__all__ = [
    "ID_KEY",
    "PROPS_KEY",
    "SEQ_KEY",
    "decode_properties",
    "encode_properties",
    "object_payload",
    "point_id",
    "property_key",
]

ID_KEY = "id"
SEQ_KEY = "seq"
CREATED_KEY = "ct"
UPDATED_KEY = "ut"
PROPS_KEY = "p"
BM25_KEY = "bm"
TERMS_KEY = "terms"

_NAMESPACE = _uuid.uuid5(_uuid.NAMESPACE_URL, "https://github.com/multivector/qdrant-point-id")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def point_id(uuid: str) -> str:
    """The Qdrant point id of our id ``uuid`` (the id itself when it is a canonical UUID)."""
    try:
        parsed = _uuid.UUID(uuid)
    except (ValueError, AttributeError, TypeError):
        return str(_uuid.uuid5(_NAMESPACE, uuid))
    canonical = str(parsed)
    return canonical if canonical == uuid else str(_uuid.uuid5(_NAMESPACE, uuid))


def property_key(name: str, path: tuple[str, ...] = ()) -> str | None:
    """The Qdrant payload key of a property (and a path into an OBJECT property).

    Keys with characters outside ``[A-Za-z0-9_-]`` are quoted (``p.meta."page number"``); a key
    that cannot be quoted (empty, or holding ``"``) gives None: the caller filters client-side.
    """
    parts = [PROPS_KEY, name]
    for key in path:
        if _PLAIN_KEY.fullmatch(key):
            parts.append(key)
        elif key and '"' not in key:
            parts.append(f'"{key}"')
        else:
            return None
    return ".".join(parts)


def _encode(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def encode_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Validated properties as JSON payload (datetimes as RFC 3339 strings, offset kept)."""
    return {name: _encode(value) for name, value in properties.items()}


def decode_properties(payload: Mapping[str, Any], config: CollectionConfig) -> dict[str, Any]:
    """Payload properties back to the facade's types (DATE as timezone-aware datetimes)."""
    out: dict[str, Any] = {}
    for name, value in payload.items():
        prop = config.property(name)
        if value is not None and prop is not None and prop.data_type.element is DataType.DATE:
            if isinstance(value, list):
                value = [parse_date(v, where=name) if v is not None else None for v in value]
            else:
                value = parse_date(value, where=name)
        out[name] = value
    return out


def object_payload(
    uuid: str,
    properties: Mapping[str, Any],
    terms: DocTerms,
    *,
    seq: int,
    created: float,
    updated: float,
) -> dict[str, Any]:
    """The payload of one object (layout in the module docstring)."""
    return {
        ID_KEY: uuid,
        SEQ_KEY: seq,
        CREATED_KEY: created,
        UPDATED_KEY: updated,
        PROPS_KEY: encode_properties(properties),
        BM25_KEY: {f: {"n": terms.lengths[f], "tf": dict(c)} for f, c in terms.counts.items() if c},
        TERMS_KEY: {f: list(c) for f, c in terms.counts.items() if c},
    }
