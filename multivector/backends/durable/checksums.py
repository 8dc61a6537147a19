"""Checksums of the store file's rows, so damage is detected when data is read, never served.

Every ``objects`` row carries ``crc`` (CRC-32 of its uuid, sequence number, property JSON and
timestamps), every ``vectors`` row one over its uuid, space, shape, dtype and blob, and every
``collections`` row one over all its columns, which include the number of object and vector rows
and the XOR of their checksums. A flipped byte in a row is caught by the row's checksum; a row
that went missing or appeared (a damaged index or page) by the collection's count and XOR, checked
when the whole collection is loaded. A store written before checksums existed (format 1) is
upgraded in place by its first writable open.
"""

from __future__ import annotations

import sqlite3
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from multivector.errors import CollectionNotFoundError, StorageFormatError

__all__ = [
    "CollectionRow",
    "check_row",
    "check_totals",
    "object_crc",
    "read_collection_row",
    "stored_crcs",
    "vector_crc",
    "write_collection_row",
    "xor_all",
]

_SEP = b"\x1f"


def _float(value: float | None) -> bytes:
    return b"-" if value is None else struct.pack("<d", float(value))


def object_crc(
    uuid: str, seq: int, properties: str, created: float | None, updated: float | None
) -> int:
    """The checksum of one ``objects`` row."""
    head = _SEP.join([uuid.encode(), str(int(seq)).encode(), _float(created), _float(updated)])
    return zlib.crc32(properties.encode(), zlib.crc32(head))


def vector_crc(uuid: str, space: str, n_tokens: int, dim: int, dtype: str, data: bytes) -> int:
    """The checksum of one ``vectors`` row."""
    head = _SEP.join([uuid.encode(), space.encode(), b"%d" % n_tokens, b"%d" % dim, dtype.encode()])
    return zlib.crc32(data, zlib.crc32(head))


def xor_all(values: Iterable[int]) -> int:
    """The XOR of checksums (order-free, so a delete takes its row's checksum back out)."""
    out = 0
    for v in values:
        out ^= int(v)
    return out


@dataclass(frozen=True)
class CollectionRow:
    """One ``collections`` row (its checksum is computed from the other fields)."""

    id: int
    name: str
    config: str
    last_seq: int = 0
    prune_seq: int = 0
    n_objects: int = 0
    objects_xor: int = 0
    n_vectors: int = 0
    vectors_xor: int = 0
    #: False for a row of a format-1 file opened read-only (no checksums to check against).
    checksums: bool = True

    def crc(self) -> int:
        """The checksum over every column."""
        fields = (
            self.id,
            self.last_seq,
            self.prune_seq,
            self.n_objects,
            self.objects_xor,
            self.n_vectors,
            self.vectors_xor,
        )
        head = _SEP.join([b"%d" % f for f in fields] + [self.name.encode()])
        return zlib.crc32(self.config.encode(), zlib.crc32(head))


_ROW = (
    "SELECT id, name, config, last_seq, prune_seq, n_objects, objects_xor, n_vectors, "
    "vectors_xor, crc FROM collections WHERE id = ?"
)


def read_collection_row(conn: sqlite3.Connection, cid: int, file: Path) -> CollectionRow:
    """The row of collection ``cid``, checked (CollectionNotFoundError when it is gone)."""
    found = conn.execute(_ROW, (cid,)).fetchone()
    if found is None:
        raise CollectionNotFoundError(f"this collection (#{cid}) was deleted by another client")
    *values, crc = found
    try:
        ints = [int(v or 0) for v in values[3:]]
        row = CollectionRow(
            id=int(values[0]),
            name=str(values[1]),
            config=str(values[2]),
            last_seq=ints[0],
            prune_seq=ints[1],
            n_objects=ints[2],
            objects_xor=ints[3],
            n_vectors=ints[4],
            vectors_xor=ints[5],
            checksums=crc is not None,
        )
    except (TypeError, ValueError) as exc:
        raise StorageFormatError(
            f"{file}: the row of collection #{cid} is damaged ({exc})"
        ) from None
    if crc is not None and int(crc) != row.crc():
        raise StorageFormatError(
            f"{file}: the row of collection {row.name!r} (#{cid}) is damaged (checksum mismatch); "
            "restore the store from a backup made with client.backup(dest)"
        )
    return row


def check_totals(row: CollectionRow, table: str, count: int, xor: int, file: Path) -> None:
    """Compare what a full load read with the collection's recorded count and XOR."""
    if not row.checksums:
        return
    want = (
        (row.n_objects, row.objects_xor) if table == "objects" else (row.n_vectors, row.vectors_xor)
    )
    if (count, xor) != want:
        raise StorageFormatError(
            f"{file}: collection {row.name!r} should hold {want[0]} {table} rows but "
            f"{count} were read, or their checksums differ: rows are missing or damaged; restore "
            "the store from a backup made with client.backup(dest)"
        )


def check_row(stored: int | None, actual: int, what: str, file: Path) -> None:
    """Raise when a row's stored checksum (None: format 1, unchecked) differs from its content."""
    if stored is not None and int(stored) != actual:
        raise StorageFormatError(
            f"{file}: {what} is damaged (checksum mismatch); restore the store from a backup "
            "made with client.backup(dest)"
        )


def write_collection_row(conn: sqlite3.Connection, row: CollectionRow) -> None:
    """Store ``row`` (every column) with its checksum."""
    conn.execute(
        "UPDATE collections SET name = ?, config = ?, last_seq = ?, prune_seq = ?, n_objects = ?, "
        "objects_xor = ?, n_vectors = ?, vectors_xor = ?, crc = ? WHERE id = ?",
        (
            row.name,
            row.config,
            row.last_seq,
            row.prune_seq,
            row.n_objects,
            row.objects_xor,
            row.n_vectors,
            row.vectors_xor,
            row.crc(),
            row.id,
        ),
    )


def stored_crcs(
    conn: sqlite3.Connection, table: str, cid: int, uuids: Sequence[str]
) -> list[tuple[str, str | None, int]]:
    """``(uuid, space or None, crc)`` of the stored rows of ``uuids`` in ``objects``/``vectors``."""
    if table not in ("objects", "vectors"):  # pragma: no cover - internal callers only
        raise ValueError(table)
    space = "space" if table == "vectors" else "NULL"
    out: list[tuple[str, str | None, int]] = []
    for start in range(0, len(uuids), 500):
        chunk = list(uuids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        out.extend(
            (str(u), s, int(c or 0))
            for u, s, c in conn.execute(
                f"SELECT uuid, {space}, crc FROM {table} "  # constant names, bound values
                f"WHERE collection_id = ? AND uuid IN ({marks})",
                (cid, *chunk),
            )
        )
    return out
