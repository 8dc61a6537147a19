"""Validation at the public boundary: token matrices, object ids and property values.

Everything is checked before anything is stored, so a rejected object leaves no trace. Messages
name the object, the bad value and the fix.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import uuid as _uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from multivector.errors import (
    ConfigError,
    DimensionMismatchError,
    InvalidObjectError,
    InvalidVectorError,
)
from multivector.schema.config import CollectionConfig, DataType, Property, validate_property_name
from multivector.schema.object_values import MAX_OBJECT_DEPTH, plain_json

__all__ = [
    "MAX_OBJECT_DEPTH",
    "coerce_properties",
    "infer_data_type",
    "normalize_id",
    "parse_date",
    "validate_matrix",
    "validate_uuid",
]


#: A uuid in its canonical 8-4-4-4-12 hex form, any case: stored lowercase.
_CANONICAL_UUID = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")


def normalize_id(value: str) -> str:
    """An id as stored: a canonical-form UUID string lowercased, any other string as given."""
    return value.lower() if _CANONICAL_UUID.fullmatch(value) else value


def validate_uuid(value: object, *, where: str = "object") -> str:
    """Return the id as a string: any non-empty str without NUL, or a ``uuid.UUID``.

    A string in the canonical UUID form (8-4-4-4-12 hex digits) is lowercased, so
    ``"ABCDEF00-..."`` and ``"abcdef00-..."`` name one object (UUIDs are case-insensitive, as in
    Weaviate); any other string is an id as given (LangChain and LlamaIndex ids are arbitrary).
    """
    if isinstance(value, _uuid.UUID):
        return str(value)
    if not isinstance(value, str) or not value or "\x00" in value:
        raise InvalidObjectError(
            f"{where}: uuid {value!r} is not a non-empty string; pass a str such as "
            "multivector.generate_uuid5('doc1') or a uuid.UUID"
        )
    if _CANONICAL_UUID.fullmatch(value):
        return value.lower()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidObjectError(
            f"{where}: uuid {value!r} holds a lone surrogate ({exc.reason}); pass valid text"
        ) from exc
    return value


#: numpy dtype kinds a matrix may have: float, signed and unsigned int (not bool, complex, str,
#: bytes, object, datetime).
_NUMERIC_KINDS = frozenset("fiu")


def validate_matrix(
    value: object,
    *,
    where: str,
    dimension: int | None,
) -> npt.NDArray[np.float32]:
    """Return ``value`` as a C-contiguous float32 ``[n, d]`` matrix, or raise InvalidVectorError.

    A 1-D vector, a 3-D array, an empty matrix, ragged rows, NaN/inf and a width different from
    ``dimension`` are rejected with a message naming ``where`` and the fix.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidVectorError(
            f"{where}: expected a token matrix (list of lists of floats or a 2-D array), "
            f"got {type(value).__name__}"
        )
    try:
        raw = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InvalidVectorError(
            f"{where}: the matrix has ragged or non-numeric rows ({exc}); every token vector must "
            "have the same length"
        ) from exc
    if raw.dtype.kind not in _NUMERIC_KINDS:
        what = " (ragged rows, None or Python objects)" if raw.dtype.kind == "O" else ""
        raise InvalidVectorError(
            f"{where}: the matrix has dtype {raw.dtype.name!r}{what}; token vectors must be "
            "real numbers (float or int): convert with np.asarray(m, dtype=np.float32)"
            + (" after taking the real part" if raw.dtype.kind == "c" else "")
        )
    with np.errstate(over="ignore"):
        arr = raw.astype(np.float32, copy=False)
    if arr.ndim == 1:
        raise InvalidVectorError(
            f"{where}: got a 1-D vector of length {arr.shape[0]}; a multi-vector is a 2-D matrix "
            "[n_tokens, dim] - wrap a single vector as [vector]"
        )
    if arr.ndim != 2:
        raise InvalidVectorError(
            f"{where}: got an array of shape {arr.shape}; pass one 2-D matrix [n_tokens, dim] per object"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidVectorError(
            f"{where}: the matrix is empty (shape {arr.shape}); it needs at least one token vector"
        )
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InvalidVectorError(
            f"{where}: the matrix holds NaN or inf (first at row {int(bad[0])}, column {int(bad[1])}); "
            "clean or re-embed the input"
        )
    if dimension is not None and arr.shape[1] != dimension:
        raise DimensionMismatchError(
            f"{where}: token vectors have {arr.shape[1]} dimensions but this vector space has "
            f"{dimension}; embed with the same model/dimensions as the rest of the collection"
        )
    if np.abs(arr).max() > 6.0e4:
        # float16 storage would overflow; float32 spaces accept it (checked by the caller).
        pass
    return np.ascontiguousarray(arr)


def parse_date(value: object, *, where: str) -> _dt.datetime:
    """A timezone-aware datetime from a datetime, date or RFC 3339 string (naive means UTC)."""
    if isinstance(value, _dt.datetime):
        dt = value
    elif isinstance(value, _dt.date):
        dt = _dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = _dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidObjectError(
                f"{where}: {value!r} is not an RFC 3339 date; use e.g. '2024-01-31T12:00:00Z'"
            ) from exc
    else:
        raise InvalidObjectError(
            f"{where}: {value!r} is not a date; pass a datetime or RFC 3339 str"
        )
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return dt


def _is_rfc3339(value: str) -> bool:
    if len(value) < 20 or value[4:5] != "-" or "T" not in value:
        return False
    try:
        parse_date(value, where="")
    except InvalidObjectError:
        return False
    return True


def infer_data_type(value: object, *, where: str) -> DataType:
    """The DataType auto-schema gives a first value (as Weaviate infers it)."""
    if isinstance(value, bool):
        return DataType.BOOL
    if isinstance(value, int):
        return DataType.INT
    if isinstance(value, float):
        return DataType.NUMBER
    if isinstance(value, _dt.datetime):
        return DataType.DATE
    if isinstance(value, _uuid.UUID):
        return DataType.UUID
    if isinstance(value, str):
        return DataType.DATE if _is_rfc3339(value) else DataType.TEXT
    if isinstance(value, Mapping):
        return DataType.OBJECT
    if isinstance(value, (list, tuple)):
        if not value:
            return DataType.TEXT_ARRAY
        if isinstance(value[0], (list, tuple, Mapping)):
            return DataType.OBJECT  # nested lists: no need to look deeper
        element = infer_data_type(value[0], where=where)
        if element in (DataType.INT, DataType.NUMBER) and any(isinstance(v, float) for v in value):
            element = DataType.NUMBER
        if element.is_array or element is DataType.OBJECT:
            return DataType.OBJECT
        return DataType(element.value + "[]")
    raise InvalidObjectError(
        f"{where}: cannot infer a property type for {type(value).__name__} value {value!r}; "
        "use str, int, float, bool, datetime, uuid, a list of those, or a JSON object"
    )


def _coerce_scalar(value: object, data_type: DataType, *, where: str) -> Any:
    if data_type is DataType.TEXT:
        if isinstance(value, str):
            return value
    elif data_type is DataType.INT:
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif data_type is DataType.NUMBER:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        ):
            number = float(value)
            if math.isfinite(number):
                return number
    elif data_type is DataType.BOOL:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
    elif data_type is DataType.DATE:
        return parse_date(value, where=where)
    elif data_type is DataType.UUID:
        if isinstance(value, _uuid.UUID):
            return str(value)
        if isinstance(value, str):
            try:
                return str(_uuid.UUID(value))
            except ValueError:
                pass
    raise InvalidObjectError(
        f"{where}: value {value!r} ({type(value).__name__}) does not fit the property type "
        f"{data_type.value!r}; convert it or store it under another property"
    )


def coerce_value(value: object, prop: Property, *, where: str) -> Any:
    """Check and convert one property value to its declared type (None stays None)."""
    if value is None:
        return None
    where = f"{where}, property {prop.name!r}"
    data_type = prop.data_type
    if data_type is DataType.OBJECT:
        return plain_json(value, where=f"{where}: value of OBJECT property", path=prop.name)
    if data_type.is_array:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(
            value, (Sequence, np.ndarray)
        ):
            raise InvalidObjectError(
                f"{where}: property {prop.name!r} is {data_type.value!r}; pass a list, not "
                f"{type(value).__name__} {value!r}"
            )
        return [_coerce_scalar(v, data_type.element, where=where) for v in value]
    return _coerce_scalar(value, data_type, where=where)


def _check_case(
    name: str,
    prop: Property | None,
    declared: Mapping[str, str],
    spelled: dict[str, str],
    *,
    where: str,
    collection: str,
) -> None:
    """Property names are case-insensitive (as in Weaviate): ``TEXT`` beside ``text`` is refused."""
    lowered = name.lower()
    other = spelled.get(lowered)
    if other is not None and other != name:
        raise InvalidObjectError(
            f"{where}: properties {other!r} and {name!r} differ only in case; property names are "
            "case-insensitive, so keep one spelling"
        )
    spelled[lowered] = name
    if prop is None and lowered in declared:
        raise InvalidObjectError(
            f"{where}: property {name!r} differs only in case from the property "
            f"{declared[lowered]!r} of {collection!r}; property names are case-insensitive, so "
            f"use {declared[lowered]!r}"
        )


def coerce_properties(
    properties: Mapping[str, Any] | None,
    config: CollectionConfig,
    *,
    where: str,
) -> tuple[dict[str, Any], list[Property]]:
    """Validate an object's properties against the schema.

    Returns the coerced properties and the properties auto-schema must add (empty when
    ``auto_schema`` is off, in which case an unknown property is an error).
    """
    if properties is None:
        return {}, []
    if not isinstance(properties, Mapping):
        raise InvalidObjectError(
            f"{where}: properties must be a dict of name -> value, got {type(properties).__name__}"
        )
    out: dict[str, Any] = {}
    new_props: list[Property] = []
    declared = {p.name.lower(): p.name for p in config.properties}
    spelled: dict[str, str] = {}
    for name, value in properties.items():
        prop = config.property(name) if isinstance(name, str) else None
        if isinstance(name, str):
            _check_case(name, prop, declared, spelled, where=where, collection=config.name)
        if prop is None:
            if not config.auto_schema:
                raise InvalidObjectError(
                    f"{where}: property {name!r} is not in the schema of {config.name!r} and "
                    "auto_schema is off; declare it in properties=[...] or create the collection "
                    "with auto_schema=True"
                )
            try:
                validate_property_name(name)
            except ConfigError as exc:
                raise InvalidObjectError(f"{where}: {exc}") from exc
            if value is None:
                continue
            prop = Property(name=name, data_type=infer_data_type(value, where=where))
            new_props.append(prop)
        out[prop.name] = coerce_value(value, prop, where=where)
    return out, new_props
