"""A memory-mapped cache of packed arenas beside the store file, so a reopen need not copy
every token matrix out of SQLite.

Layout: ``cache/c<collection id>/`` holds ``uuids.npy`` (slot order), ``s<i>.tokens.npy`` and
``s<i>.offsets.npy`` per vector space ``i`` and ``stamp.json`` naming the collection's change
sequence number the files reflect. Paths use integer ids only, never names. The cache is
derived data: SQLite stays the source of truth. A stamp that differs from the store's sequence
number, or any file that fails to load or check, means "rebuild from SQLite". The stamp is
removed before files are rewritten and written last, so a torn rewrite is never used.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from multivector.stores.snapshot import PackedArena, Snapshot

__all__ = ["CACHE_DIR", "ArenaCache"]

CACHE_DIR = "cache"
_CACHE_FORMAT = 1
_STAMP = "stamp.json"


class ArenaCache:
    """Read and write the arena cache of a store folder."""

    def __init__(self, folder: Path) -> None:
        self._root = folder / CACHE_DIR

    def _dir(self, collection_id: int) -> Path:
        return self._root / f"c{int(collection_id)}"

    def stamp(self, collection_id: int) -> dict[str, Any] | None:
        """The stamp of a collection's cache (None when absent or unreadable)."""
        try:
            data = json.loads((self._dir(collection_id) / _STAMP).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
            return None
        return data

    def is_current(self, collection_id: int, *, seq: int) -> bool:
        """Whether the cache reflects sequence number ``seq``."""
        stamp = self.stamp(collection_id)
        return stamp is not None and stamp.get("seq") == seq

    def load(
        self, collection_id: int, *, seq: int, uuids: list[str]
    ) -> dict[str, PackedArena] | None:
        """Memory-mapped arenas when the cache is current and matches ``uuids``; else None."""
        stamp = self.stamp(collection_id)
        if stamp is None or stamp.get("seq") != seq or stamp.get("n") != len(uuids):
            return None
        folder = self._dir(collection_id)
        try:
            cached = np.load(folder / "uuids.npy", allow_pickle=False)
            if cached.shape != (len(uuids),) or cached.tolist() != uuids:
                return None
            out: dict[str, PackedArena] = {}
            for i, space in enumerate(stamp["spaces"]):
                tokens = np.load(folder / f"s{i}.tokens.npy", mmap_mode="r", allow_pickle=False)
                offsets = np.load(folder / f"s{i}.offsets.npy", allow_pickle=False)
                if not _consistent(tokens, offsets, space, len(uuids)):
                    return None
                dim = space["dimension"]
                out[str(space["name"])] = PackedArena(tokens, offsets.astype(np.int64), dim)
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        if self.stamp(collection_id) != stamp:  # rewritten while we read: do not trust it
            return None
        return out

    def save(self, collection_id: int, *, seq: int, snapshot: Snapshot) -> None:
        """Write ``snapshot``'s arenas as the cache of sequence number ``seq``."""
        folder = self._dir(collection_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _STAMP).unlink(missing_ok=True)
        spaces = []
        _write_npy(folder / "uuids.npy", np.array(snapshot.uuids, dtype=np.str_))
        for i, (name, packed) in enumerate(snapshot.arenas.items()):
            _write_npy(folder / f"s{i}.tokens.npy", packed.tokens)
            _write_npy(folder / f"s{i}.offsets.npy", packed.offsets)
            spaces.append(
                {
                    "name": name,
                    "dimension": packed.dimension,
                    "dtype": str(packed.tokens.dtype),
                    "n_tokens": int(packed.tokens.shape[0]),
                }
            )
        stamp = {"format": _CACHE_FORMAT, "seq": seq, "n": len(snapshot.uuids), "spaces": spaces}
        tmp = folder / (_STAMP + ".tmp")
        tmp.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(tmp, folder / _STAMP)

    def drop(self, collection_id: int) -> None:
        """Remove a collection's cache."""
        shutil.rmtree(self._dir(collection_id), ignore_errors=True)


def _write_npy(path: Path, array: np.ndarray[Any, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _consistent(
    tokens: np.ndarray[Any, Any], offsets: np.ndarray[Any, Any], space: dict[str, Any], n: int
) -> bool:
    return bool(
        tokens.ndim == 2
        and str(tokens.dtype) == space["dtype"]
        and tokens.shape[0] == space["n_tokens"]
        and (space["dimension"] is None or tokens.shape[1] == space["dimension"])
        and offsets.shape == (n + 1,)
        and offsets[0] == 0
        and offsets[-1] == tokens.shape[0]
        and bool(np.all(np.diff(offsets) >= 0))
    )
