"""One write transaction of the store file: rows, their checksums and the collection's totals.

The caller holds the transaction open (``Database.writing()``); every object and vector row is
written with its CRC-32, and the collection row's counts and XORs follow the rows removed and
added, so that a full load can tell a missing row from a present one.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from multivector.backends.durable.checksums import (
    object_crc,
    read_collection_row,
    stored_crcs,
    vector_crc,
    write_collection_row,
    xor_all,
)
from multivector.backends.durable.sqlite_read import DTYPES
from multivector.backends.protocol import StoredObject

__all__ = ["write_changes"]


def _encode_value(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} {value!r}")


def write_changes(
    conn: sqlite3.Connection,
    *,
    cid: int,
    file: Path,
    upserts: Sequence[StoredObject],
    deletes: Sequence[str],
    kept: Mapping[str, frozenset[str]],
    dtypes: Mapping[str, np.dtype[Any]],
) -> int:
    """Delete ``deletes``, write ``upserts`` (each uuid once; ``kept`` spaces left as stored) and
    advance the collection's sequence number; returns the new one.
    """
    row = read_collection_row(conn, cid, file)
    seq = row.last_seq
    touched = list(dict.fromkeys([*deletes, *(o.uuid for o in upserts)]))
    old_objects = stored_crcs(conn, "objects", cid, touched)
    old_vectors = [
        (u, space, c)
        for u, space, c in stored_crcs(conn, "vectors", cid, touched)
        if space not in kept.get(u, frozenset())
    ]
    n_objects = row.n_objects - len(old_objects)
    objects_xor = row.objects_xor ^ xor_all(c for *_, c in old_objects)
    n_vectors = row.n_vectors - len(old_vectors)
    vectors_xor = row.vectors_xor ^ xor_all(c for *_, c in old_vectors)
    conn.executemany(
        "DELETE FROM vectors WHERE collection_id = ? AND uuid = ? AND space = ?",
        [(cid, u, space) for u, space, _ in old_vectors],
    )
    if deletes:
        conn.executemany(
            "DELETE FROM objects WHERE collection_id = ? AND uuid = ?",
            [(cid, u) for u in deletes],
        )
        conn.executemany(
            "INSERT INTO deletions (collection_id, uuid, seq) VALUES (?, ?, ?)",
            [(cid, u, seq + i + 1) for i, u in enumerate(deletes)],
        )
        seq += len(deletes)
    object_rows = []
    vector_rows = []
    for i, o in enumerate(upserts):
        text = json.dumps(o.properties, default=_encode_value)
        crc = object_crc(o.uuid, seq + i + 1, text, o.creation_time, o.update_time)
        object_rows.append((cid, o.uuid, seq + i + 1, text, o.creation_time, o.update_time, crc))
        objects_xor ^= crc
        for space, m in o.vectors.items():
            if space in kept.get(o.uuid, frozenset()):
                continue
            dt = dtypes.get(space, DTYPES["float32"])
            blob = np.ascontiguousarray(m, dtype=dt).tobytes()
            n, dim = int(m.shape[0]), int(m.shape[1])
            vcrc = vector_crc(o.uuid, space, n, dim, dt.name, blob)
            vector_rows.append((cid, o.uuid, space, n, dim, dt.name, blob, vcrc))
            vectors_xor ^= vcrc
    conn.executemany(
        "INSERT OR REPLACE INTO objects (collection_id, uuid, seq, properties, "
        "creation_time, update_time, crc) VALUES (?, ?, ?, ?, ?, ?, ?)",
        object_rows,
    )
    conn.executemany(
        "INSERT OR REPLACE INTO vectors (collection_id, uuid, space, n_tokens, dim, "
        "dtype, data, crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        vector_rows,
    )
    seq += len(upserts)
    write_collection_row(
        conn,
        dataclasses.replace(
            row,
            last_seq=seq,
            n_objects=n_objects + len(object_rows),
            objects_xor=objects_xor,
            n_vectors=n_vectors + len(vector_rows),
            vectors_xor=vectors_xor,
        ),
    )
    return seq
