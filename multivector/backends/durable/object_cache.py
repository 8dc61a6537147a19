"""The objects' properties and timestamps in a collection's cache folder (see :mod:`.folder_cache`).

``objects.json`` holds, in slot order, every object's properties (DATE values as ISO 8601, as the
store file keeps them) and its creation / update times, so that reopening a store whose cache is
current reads one file instead of scanning and decoding every object row. It is derived data
like the rest of the cache: written under the same stamp (change sequence number, CRC-32), used
only when that stamp is the store's current one, and the rows themselves remain the source of
truth (``client.verify()`` still reads and checks every row).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from multivector.backends.embedded.storage import Snapshot
from multivector.schema.config import CollectionConfig, DataType

__all__ = ["OBJECTS_FILE", "read_objects", "write_objects"]

OBJECTS_FILE = "objects.json"


def _encode(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot cache {type(value).__name__} {value!r}")


def write_objects(folder: Path, snapshot: Snapshot) -> None:
    """Write ``objects.json`` (durably, then renamed into place)."""
    tmp = folder / (OBJECTS_FILE + ".tmp")
    body = {"properties": snapshot.properties, "times": snapshot.times}
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(body, fh, default=_encode, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / OBJECTS_FILE)


def read_objects(
    folder: Path, n: int, config: CollectionConfig
) -> tuple[list[dict[str, Any]], list[tuple[float, float]]] | None:
    """Properties (DATE values back to datetimes) and times of ``n`` objects (None: unusable)."""
    body = json.loads((folder / OBJECTS_FILE).read_text("utf-8"))
    props, times = body.get("properties"), body.get("times")
    if not (isinstance(props, list) and isinstance(times, list) and len(props) == len(times) == n):
        return None
    dates = [p.name for p in config.properties if p.data_type is DataType.DATE]
    arrays = [p.name for p in config.properties if p.data_type is DataType.DATE_ARRAY]
    for obj in props:
        if not isinstance(obj, dict):
            return None
        for name in dates:
            if obj.get(name) is not None:
                obj[name] = _dt.datetime.fromisoformat(obj[name])
        for name in arrays:
            if obj.get(name) is not None:
                obj[name] = [_dt.datetime.fromisoformat(v) for v in obj[name]]
    return props, [(float(c), float(u)) for c, u in times]
