"""Bulk reads of one collection out of the store file: what a reopen installs.

A reopen copies every token matrix out of SQLite into one packed arena per vector space. It reads
in two scans of the ``vectors`` table in storage (rowid) order, never through the primary-key
index: the first reads only the small leading columns (uuid, space, shape) to size the arenas and
place every slot, the second copies each blob straight into its place in the preallocated array
(no per-object NumPy matrices). The caller turns SQLite's memory-mapped I/O on for the scans
(:meth:`~multivector.backends.durable.sqlite_db.Database.reading` with ``bulk=True``), which makes the blob
scan several times faster than ``read()`` calls through the page cache.
"""

from __future__ import annotations

import datetime as _dt
import json
import mmap
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from multivector.backends.durable.checksums import (
    CollectionRow,
    check_row,
    check_totals,
    vector_crc,
)
from multivector.backends.embedded.storage import PackedArena
from multivector.errors import StorageFormatError
from multivector.schema.config import CollectionConfig, DataType

__all__ = ["DTYPES", "STORED_DTYPES", "date_properties", "decode_properties", "read_arenas"]

#: The dtypes a stored matrix row may name.
DTYPES: dict[str, np.dtype[Any]] = {"float16": np.dtype("<f2"), "float32": np.dtype("<f4")}
#: How each space dtype is stored: int8 spaces as float16 rows (the arena quantises on load).
STORED_DTYPES: dict[str, np.dtype[Any]] = {**DTYPES, "int8": DTYPES["float16"]}

_SHAPES = (
    "SELECT uuid, space, n_tokens, dim, dtype FROM vectors NOT INDEXED WHERE collection_id = ?"
)
_BLOBS = (
    "SELECT uuid, space, n_tokens, dim, dtype, data, crc FROM vectors NOT INDEXED "
    "WHERE collection_id = ?"
)


def read_arenas(
    conn: sqlite3.Connection,
    *,
    collection_id: int,
    uuids: list[str],
    config: CollectionConfig,
    file: Path,
    row: CollectionRow | None = None,
) -> dict[str, PackedArena]:
    """The packed arenas of every configured vector space, slots in the order of ``uuids``.

    Tokens come in each space's stored dtype (:data:`STORED_DTYPES`: float16 for int8 spaces).

    Rows of unknown spaces or of objects not in ``uuids`` are skipped (they cannot exist inside
    one read transaction unless the file was edited); a blob whose length, dtype or width does not
    match its row, or whose checksum does not, raises :class:`~multivector.errors.StorageFormatError`;
    so does a count or XOR of the rows read that differs from the collection ``row``'s.
    """
    slot_of = {u: i for i, u in enumerate(uuids)}
    n = len(uuids)
    spaces = {vec.name: STORED_DTYPES[vec.dtype] for vec in config.vectors}
    lengths = {name: np.zeros(n, dtype=np.int64) for name in spaces}
    dims: dict[str, int] = {}
    converted: dict[tuple[str, str], np.dtype[Any]] = {}  # rows stored in another dtype
    for uuid, space, n_tokens, dim, dtype in conn.execute(_SHAPES, (collection_id,)):
        if space not in spaces:
            continue
        slot = slot_of.get(uuid)
        if slot is None:
            continue
        stored = DTYPES.get(dtype)
        width = dims.setdefault(space, dim)
        shape_ok = isinstance(dim, int) and dim > 0 and isinstance(n_tokens, int) and n_tokens >= 0
        if stored is None or width != dim or not shape_ok:
            raise StorageFormatError(
                f"{file}: the stored matrix of object {uuid!r} in vector {space!r} is damaged "
                f"(dtype {dtype!r}, {n_tokens}x{dim}; the others of its space are {width} wide)"
            )
        if stored != spaces[space]:
            converted[(uuid, space)] = stored
        lengths[space][slot] = n_tokens
    offsets: dict[str, npt.NDArray[np.int64]] = {}
    tokens: dict[str, npt.NDArray[np.floating]] = {}
    targets: dict[str, memoryview] = {}
    row_bytes: dict[str, int] = {}
    for space, dim in dims.items():
        offs = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths[space], out=offs[1:])
        offsets[space] = offs
        array = _allocate(int(offs[-1]), dim, spaces[space])
        tokens[space] = array
        targets[space] = memoryview(array).cast("B")  # type: ignore[arg-type]  # C-contiguous
        row_bytes[space] = dim * spaces[space].itemsize
    n_rows = rows_xor = 0
    for uuid, space, n_tokens, dim, dtype, data, crc in conn.execute(_BLOBS, (collection_id,)):
        if isinstance(data, bytes):
            actual = vector_crc(uuid, space, n_tokens, dim, dtype, data)
            check_row(crc, actual, f"the matrix of object {uuid!r} in vector {space!r}", file)
            n_rows += 1
            rows_xor ^= actual
        target = targets.get(space)
        slot = slot_of.get(uuid)
        if target is None or slot is None:
            continue
        offs = offsets[space]
        start = int(offs[slot]) * row_bytes[space]
        end = int(offs[slot + 1]) * row_bytes[space]
        stored = converted.get((uuid, space))
        expected = end - start
        if stored is not None:
            expected = expected // spaces[space].itemsize * stored.itemsize
        if not isinstance(data, bytes) or len(data) != expected:
            raise StorageFormatError(
                f"{file}: the stored matrix of object {uuid!r} in vector {space!r} is damaged "
                f"({len(data) if isinstance(data, bytes) else type(data).__name__} bytes, "
                f"expected {expected})"
            )
        if stored is not None:
            data = np.frombuffer(data, dtype=stored).astype(spaces[space]).tobytes()
        target[start:end] = data
    if row is not None:
        check_totals(row, "vectors", n_rows, rows_xor, file)
    return {space: PackedArena(tokens[space], offsets[space], dims[space]) for space in tokens}


def _allocate(rows: int, dim: int, dtype: np.dtype[Any]) -> npt.NDArray[np.floating]:
    """A writable ``[rows, dim]`` array with every page already in memory.

    Letting the blob copies fault pages in one by one (interleaved with SQLite's own mapped
    reads) was the slowest part of a reopen: 1.6 GB took 1.3-5 s with NumPy's allocation (which
    asks Linux for transparent huge pages, so faults may wait for memory compaction), 0.8-0.9 s
    as plain 4 KiB pages, and 0.5-0.7 s populated in one ``mmap(MAP_POPULATE)`` call, used here
    where the platform has it. The mapping is anonymous and private: memory, not a file.
    """
    nbytes = rows * dim * dtype.itemsize
    populate = getattr(mmap, "MAP_POPULATE", None)
    if nbytes == 0 or populate is None:
        array = np.empty((rows, dim), dtype=dtype)
        array.fill(0)  # fault the pages in one sequential pass before the copies
        return array
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate
    buffer = mmap.mmap(-1, nbytes, flags=flags)
    return np.frombuffer(buffer, dtype=dtype).reshape(rows, dim)


def decode_properties(
    uuid: str, text: str, *, date_props: tuple[str, ...], date_arrays: tuple[str, ...], file: Path
) -> dict[str, Any]:
    """One object's properties from their JSON text (DATE values back to datetimes)."""
    try:
        props = json.loads(text)
        if not isinstance(props, dict):
            raise TypeError("not an object")
        for name in date_props:
            value = props.get(name)
            if value is not None:
                props[name] = _dt.datetime.fromisoformat(value)
        for name in date_arrays:
            value = props.get(name)
            if value is not None:
                props[name] = [_dt.datetime.fromisoformat(v) for v in value]
        return props
    except (ValueError, TypeError) as exc:
        raise StorageFormatError(
            f"{file}: the properties of object {uuid!r} are damaged ({exc})"
        ) from None


def date_properties(config: CollectionConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names of the DATE and the DATE[] properties of ``config`` (decoded from ISO 8601)."""
    dates = tuple(p.name for p in config.properties if p.data_type is DataType.DATE)
    arrays = tuple(p.name for p in config.properties if p.data_type is DataType.DATE_ARRAY)
    return dates, arrays
