"""Upgrade a store file written by an older format, in place, in one transaction.

Format 1 -> 2: add the checksum columns (``objects.crc``, ``vectors.crc``, the counts, XORs and
``crc`` of ``collections``) and fill them from the rows as they are; canonical UUID ids written
with capitals become lowercase (format 2 normalises them at every lookup). Run by the first writable
open, holding the folder's write lock; a crash during it leaves the file at format 1 (the
transaction rolls back), and the next writable open upgrades again. A read-only client refuses a
format-1 file with a StorageFormatError that says to open it writable once.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from multivector.backends.durable.checksums import (
    CollectionRow,
    object_crc,
    vector_crc,
    write_collection_row,
)
from multivector.backends.durable.sqlite_db import rollback
from multivector.errors import StorageError

__all__ = ["upgrade"]

_COLUMNS = {
    "objects": ("crc",),
    "vectors": ("crc",),
    "collections": ("n_objects", "objects_xor", "n_vectors", "vectors_xor", "crc"),
}


def upgrade(conn: sqlite3.Connection, path: Path, version: int, target: int) -> None:
    """Bring ``conn``'s file from format ``version`` to ``target`` (the current one)."""
    if version >= target:
        return
    if version != 1:  # pragma: no cover - only format 1 ever shipped before this one
        raise StorageError(f"{path}: no upgrade path from store format {version}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, columns in _COLUMNS.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}  # constant
            for column in columns:
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER")  # constant
        _fill(conn)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(target),))
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


_CANONICAL = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")


def _lowercase_uuids(conn: sqlite3.Connection) -> None:
    """Format 2 keeps canonical UUID ids lowercase (lookups normalise them): rename the rows
    written before with capitals (unless the lowercase id exists too: then leave it).
    """
    for cid, uuid in conn.execute("SELECT collection_id, uuid FROM objects").fetchall():
        if uuid != uuid.lower() and _CANONICAL.match(uuid):
            taken = conn.execute(
                "SELECT 1 FROM objects WHERE collection_id = ? AND uuid = ?", (cid, uuid.lower())
            ).fetchone()
            if taken is None:
                for table in ("objects", "vectors", "deletions"):
                    conn.execute(
                        f"UPDATE {table} SET uuid = ? WHERE collection_id = ? AND uuid = ?",  # constant
                        (uuid.lower(), cid, uuid),
                    )


def _fill(conn: sqlite3.Connection) -> None:
    _lowercase_uuids(conn)
    for cid, name, config, last_seq, prune_seq in conn.execute(
        "SELECT id, name, config, last_seq, prune_seq FROM collections"
    ).fetchall():
        n_objects = objects_xor = n_vectors = vectors_xor = 0
        rows = conn.execute(
            "SELECT uuid, seq, properties, creation_time, update_time FROM objects "
            "WHERE collection_id = ?",
            (cid,),
        ).fetchall()
        for uuid, seq, props, created, updated in rows:
            crc = object_crc(uuid, seq, props, created, updated)
            conn.execute(
                "UPDATE objects SET crc = ? WHERE collection_id = ? AND uuid = ?", (crc, cid, uuid)
            )
            n_objects += 1
            objects_xor ^= crc
        vectors = conn.execute(
            "SELECT uuid, space, n_tokens, dim, dtype, data FROM vectors WHERE collection_id = ?",
            (cid,),
        ).fetchall()
        for uuid, space, n, dim, dtype, data in vectors:
            crc = vector_crc(uuid, space, n, dim, dtype, data)
            conn.execute(
                "UPDATE vectors SET crc = ? WHERE collection_id = ? AND uuid = ? AND space = ?",
                (crc, cid, uuid, space),
            )
            n_vectors += 1
            vectors_xor ^= crc
        write_collection_row(
            conn,
            CollectionRow(
                int(cid),
                str(name),
                str(config),
                int(last_seq),
                int(prune_seq),
                n_objects,
                objects_xor,
                n_vectors,
                vectors_xor,
            ),
        )
