"""OBJECT property values: any JSON, checked and copied into plain Python data.

A value is stored as plain JSON data (dict / list / str / int / float / bool / None). Numbers
must be finite, object keys are strings without control characters (non-string keys become
strings as ``json.dumps`` writes them), and lists and objects nest at most
:data:`MAX_OBJECT_DEPTH` levels deep (the value itself is level 1), so a pathological value is an
:class:`~multivector.errors.InvalidObjectError` naming where it went wrong, never a
``RecursionError``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

import numpy as np

from multivector.errors import InvalidObjectError

__all__ = ["MAX_OBJECT_DEPTH", "has_control_character", "plain_json"]

#: Deepest nesting of lists and objects inside an OBJECT property value (the value is level 1).
MAX_OBJECT_DEPTH = 32


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a control character (Unicode category Cc: C0, DEL, C1)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _short(path: str) -> str:
    return path if len(path) <= 80 else path[:77] + "..."


def _json_key(key: object, *, where: str, path: str) -> str:
    if isinstance(key, str):
        if has_control_character(key):
            raise InvalidObjectError(
                f"{where}: key {key!r} at {_short(path)} holds a control character; object keys are "
                "names (filters reach them with path=...): remove it"
            )
        return str(key)
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float) and math.isfinite(key):
        return repr(float(key))
    raise InvalidObjectError(
        f"{where}: key {key!r} ({type(key).__name__}) at {_short(path)} is not a JSON object key; use str keys"
    )


def plain_json(value: object, *, where: str, path: str, depth: int = 1) -> Any:
    """``value`` as plain JSON data (dict / list / str / int / float / bool / None), checked:
    finite numbers, string keys without control characters, at most :data:`MAX_OBJECT_DEPTH`
    levels of nesting.
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidObjectError(
                f"{where}: {number!r} at {_short(path)} is not a finite number (JSON has no NaN or "
                "Infinity); store None or a finite value"
            )
        return number
    if isinstance(value, (Mapping, list, tuple)):
        if depth > MAX_OBJECT_DEPTH:
            raise InvalidObjectError(
                f"{where}: it nests lists and objects deeper than {MAX_OBJECT_DEPTH} levels (at "
                f"{_short(path)}); flatten it, or store the deep part as a JSON string"
            )
        if isinstance(value, Mapping):
            return {
                (key := _json_key(k, where=where, path=path)): plain_json(
                    v, where=where, path=f"{path}.{key}", depth=depth + 1
                )
                for k, v in value.items()
            }
        return [
            plain_json(v, where=where, path=f"{path}[{i}]", depth=depth + 1)
            for i, v in enumerate(value)
        ]
    raise InvalidObjectError(
        f"{where}: {type(value).__name__} value at {_short(path)} is not JSON-serialisable; use dicts, "
        "lists, str, int, float, bool or None"
    )
