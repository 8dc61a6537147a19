"""A cache of derived data beside the store file, so a reopen need not rebuild it.

Layout: ``cache/c<collection id>/`` holds ``uuids.npy`` (slot order), ``stamp.json`` naming the
collection's change sequence number the files reflect, and per BM25 property ``i``
``k<i>.vocab.json`` plus ``k<i>.npz`` (the index's postings in bulk form, a few percent of the
token bytes). With ``tokens=True`` it also keeps ``s<i>.tokens.npy`` and ``s<i>.offsets.npy`` per
vector space, memory-mapped on reopen (a second copy of every token matrix: about twice the disk),
plus ``s<i>.scales.npy`` for an int8 space (its per-token float32 scales).
A collection with an approximate (``plaid``) space always keeps its tokens there (the index's
exact rerank reads the float16 rows through the map) plus the trained index of each such space:
``a<i>.<array>.npy`` files (centroids, codes, inverted lists, residual codes; see
:mod:`multivector.backends.embedded.ann_state`) with their scalars in the stamp, mapped
read-only on reopen and checked against the arena before use.
Paths use integer ids only, never names. The cache is derived data: SQLite stays the source of
truth. A stamp that differs from the store's sequence number means "rebuild from SQLite"; so does
any file that fails its CRC-32 (kept in the stamp, itself checksummed), fails to load or check,
and that case also warns once (:class:`~multivector.errors.StorageWarning`), since a cache
file should never be damaged. The stamp is removed before files are rewritten and written last,
so a torn rewrite is never used.

Files of at least ``DEFER_CRC_BYTES`` (token rows, scales, residual codes: gigabytes at scale,
about 1 GB/s to checksum) are checked after the load instead of before it, so a reopen answers at
once: the load still checks every file's size, dtype, shape and the index's value ranges (so
nothing can read out of bounds), and :meth:`ArenaCache.verify_deferred` (run by the storage on a
background thread) reports a CRC mismatch, after which the stamp is removed and the collection
reloads from SQLite. A damaged row can thus serve wrong scores for the seconds that check takes,
never crash a search.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from multivector.backends.durable.index_files import load_index_files, write_index_files
from multivector.backends.durable.keyword_files import load_bulk, write_bulk
from multivector.backends.durable.object_cache import OBJECTS_FILE, read_objects, write_objects
from multivector.backends.embedded.ann_state import IndexState
from multivector.backends.embedded.storage import KeywordCache, PackedArena, Snapshot
from multivector.schema.config import CollectionConfig

__all__ = ["CACHE_DIR", "ArenaCache", "CachedState", "file_crc"]

CACHE_DIR = "cache"
_CACHE_FORMAT = 4
_CHUNK = 1 << 24


class CachedState(NamedTuple):
    """What a current cache holds: arenas (None unless tokens are cached), BM25 postings and
    approximate index states (by space).
    """

    arenas: dict[str, PackedArena] | None
    keyword: dict[str, KeywordCache]
    indexes: dict[str, IndexState]
    #: Large files loaded before their CRC was checked: ``(path, expected CRC-32)``.
    unverified: list[tuple[Path, int]]


_STAMP = "stamp.json"
#: Cache files at least this large are CRC-checked after the load (see the module docstring).
DEFER_CRC_BYTES = 64 << 20


class ArenaCache:
    """Read and write the arena cache of a store folder."""

    def __init__(self, folder: Path, *, tokens: bool) -> None:
        self._root = folder / CACHE_DIR
        self.tokens = tokens
        #: Why the last :meth:`load` refused a cache that claimed to be current (None: it did not).
        self.last_problem: str | None = None

    def _dir(self, collection_id: int) -> Path:
        return self._root / f"c{int(collection_id)}"

    def stamp(self, collection_id: int) -> dict[str, Any] | None:
        """The stamp of a collection's cache (None when absent, unreadable or damaged)."""
        return self._stamp(collection_id)[0]

    def _stamp(self, collection_id: int) -> tuple[dict[str, Any] | None, str | None]:
        """The stamp, or None and why it is unusable when it is damaged (None when just absent
        or of another cache format: a normal rebuild).
        """
        path = self._dir(collection_id) / _STAMP
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None, None
        except (OSError, ValueError) as exc:
            return None, f"{path} cannot be read ({exc})"
        if not isinstance(data, dict):
            return None, f"{path} is damaged (not a JSON object)"
        if data.get("format") != _CACHE_FORMAT:
            return None, None
        if data.get("crc") != _stamp_crc(data):
            return None, f"{path} is damaged (CRC-32 mismatch)"
        return data, None

    def is_current(self, collection_id: int, *, seq: int) -> bool:
        """Whether the cache reflects sequence number ``seq``."""
        stamp = self.stamp(collection_id)
        return stamp is not None and stamp.get("seq") == seq

    def load(
        self, collection_id: int, *, seq: int, uuids: list[str], tokens: bool | None = None
    ) -> CachedState | None:
        """The cached state when the cache is current and matches ``uuids``; else None.

        Token arenas are memory-mapped read-only, and only returned when this cache keeps tokens.
        """
        stamp, self.last_problem = self._stamp(collection_id)
        if stamp is None or stamp.get("seq") != seq or stamp.get("n") != len(uuids):
            return None
        folder = self._dir(collection_id)
        n = len(uuids)
        want = self.tokens if tokens is None else tokens
        state = self._load_checked(
            folder, stamp, n, uuids, want and stamp.get("spaces") is not None
        )
        if self.stamp(collection_id) != stamp:  # rewritten while we read: do not trust it
            self.last_problem = None
            return None
        return state

    def _load_checked(
        self, folder: Path, stamp: dict[str, Any], n: int, uuids: list[str], with_tokens: bool
    ) -> CachedState | None:
        unverified = []
        for name, crc in dict(stamp.get("files") or {}).items():
            if name == "uuids.npy" or name[0] in "ka" or with_tokens:
                try:
                    if (folder / name).stat().st_size >= DEFER_CRC_BYTES:
                        unverified.append((folder / name, int(crc)))
                        continue
                    actual = file_crc(folder / name)
                except OSError as exc:
                    self.last_problem = f"{folder / name} cannot be read ({exc})"
                    return None
                if actual != crc:
                    self.last_problem = f"{folder / name} is damaged (CRC-32 mismatch)"
                    return None
        try:
            cached = np.load(folder / "uuids.npy", allow_pickle=False)
            if cached.shape != (n,) or cached.tolist() != uuids:
                return None
            arenas: dict[str, PackedArena] | None = None
            if with_tokens:
                if stamp["spaces"] is None:
                    return None
                arenas = {}
                for i, space in enumerate(stamp["spaces"]):
                    tokens = np.load(folder / f"s{i}.tokens.npy", mmap_mode="r", allow_pickle=False)
                    offsets = np.load(folder / f"s{i}.offsets.npy", allow_pickle=False)
                    if not _consistent(tokens, offsets, space, n):
                        return None
                    scales = None
                    if space.get("scales"):  # int8 tokens: one float32 scale per row
                        scales = np.load(
                            folder / f"s{i}.scales.npy", mmap_mode="r", allow_pickle=False
                        )
                        if scales.dtype != np.float32 or scales.shape != (tokens.shape[0],):
                            return None
                    elif tokens.dtype == np.int8:
                        return None
                    dim = space["dimension"]
                    arenas[str(space["name"])] = PackedArena(
                        tokens, offsets.astype(np.int64), dim, scales=scales
                    )
            keyword = {}
            for i, entry in enumerate(stamp["keyword"]):
                base = load_bulk(folder, i, n)
                if base is None:
                    return None
                keyword[str(entry["property"])] = KeywordCache(str(entry["tokenization"]), base)
            indexes = load_index_files(folder, stamp.get("indexes") or [])
        except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as exc:
            self.last_problem = f"the cache in {folder} cannot be loaded ({exc})"
            return None
        return CachedState(arenas, keyword, indexes, unverified)

    def verify_deferred(self, collection_id: int, files: list[tuple[Path, int]]) -> str | None:
        """CRC-check files a load deferred; on a mismatch remove the stamp (the next load
        rebuilds from SQLite) and return the problem (None: all good).
        """
        for path, crc in files:
            try:
                ok = file_crc(path) == crc
            except OSError as exc:
                problem = f"{path} cannot be read ({exc})"
            else:
                if ok:
                    continue
                problem = f"{path} is damaged (CRC-32 mismatch)"
            (self._dir(collection_id) / _STAMP).unlink(missing_ok=True)
            return problem
        return None

    def load_stale_indexes(
        self, collection_id: int
    ) -> tuple[int, list[str], dict[str, IndexState]] | None:
        """A stale cache's approximate indexes, to be brought up to date rather than trained
        again: the stamp's sequence number, its slot uuids and the index states (every file
        CRC-checked first). None when there is no usable one.
        """
        stamp, _problem = self._stamp(collection_id)
        if stamp is None or not stamp.get("indexes"):
            return None
        folder = self._dir(collection_id)
        try:
            for name, crc in dict(stamp.get("files") or {}).items():
                if (name == "uuids.npy" or name.startswith("a")) and file_crc(folder / name) != crc:
                    return None
            uuids = np.load(folder / "uuids.npy", allow_pickle=False).tolist()
            indexes = load_index_files(folder, stamp["indexes"])
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            return None
        if self.stamp(collection_id) != stamp or len(uuids) != stamp.get("n"):
            return None
        return int(stamp["seq"]), uuids, indexes

    def has_objects(self, collection_id: int) -> bool:
        """Whether the stamped cache holds the objects file (caches before it did not)."""
        stamp = self.stamp(collection_id)
        return stamp is not None and OBJECTS_FILE in dict(stamp.get("files") or {})

    def load_objects(
        self, collection_id: int, *, seq: int, n: int, config: CollectionConfig
    ) -> tuple[list[str], list[dict[str, Any]], list[tuple[float, float]]] | None:
        """The uuids, properties and times of a current cache (``seq``, ``n`` objects), its
        small files CRC-checked; None when it is not current, lacks them or fails a check.
        """
        stamp, _problem = self._stamp(collection_id)
        if stamp is None or stamp.get("seq") != seq or stamp.get("n") != n:
            return None
        folder = self._dir(collection_id)
        files = dict(stamp.get("files") or {})
        try:
            for name in ("uuids.npy", OBJECTS_FILE):
                if name not in files or file_crc(folder / name) != files[name]:
                    return None
            uuids = np.load(folder / "uuids.npy", allow_pickle=False).tolist()
            objects = read_objects(folder, n, config)
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if objects is None or len(uuids) != n or self.stamp(collection_id) != stamp:
            return None
        return uuids, objects[0], objects[1]

    def keeps_tokens_for(self, config: CollectionConfig) -> bool:
        """Whether this cache keeps the tokens of a collection with ``config``."""
        return self.tokens or any(v.index.kind != "exact" for v in config.vectors)

    def save(
        self,
        collection_id: int,
        *,
        seq: int,
        snapshot: Snapshot,
        keyword: dict[str, KeywordCache],
    ) -> None:
        """Write ``snapshot`` (tokens only when this cache keeps them) and the BM25 postings
        ``keyword`` (slots ``0 .. n - 1``) as the cache of sequence number ``seq``.
        """
        folder = self._dir(collection_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _STAMP).unlink(missing_ok=True)
        for old in folder.iterdir():  # files of a previous layout or of dropped properties
            old.unlink(missing_ok=True)
        spaces: list[dict[str, Any]] | None = None
        _write_npy(folder / "uuids.npy", np.array(snapshot.uuids, dtype=np.str_))
        write_objects(folder, snapshot)
        if self.keeps_tokens_for(snapshot.config):
            spaces = []
            for i, (name, packed) in enumerate(snapshot.arenas.items()):
                _write_npy(folder / f"s{i}.tokens.npy", packed.tokens)
                _write_npy(folder / f"s{i}.offsets.npy", packed.offsets)
                if packed.scales is not None:
                    _write_npy(folder / f"s{i}.scales.npy", packed.scales)
                spaces.append(
                    {
                        "name": name,
                        "dimension": packed.dimension,
                        "dtype": str(packed.tokens.dtype),
                        "n_tokens": int(packed.tokens.shape[0]),
                        "scales": packed.scales is not None,
                    }
                )
        entries = []
        for i, (name, cached) in enumerate(keyword.items()):
            write_bulk(folder, i, cached.postings)
            entries.append({"property": name, "tokenization": cached.tokenization})
        indexes = [] if spaces is None else write_index_files(folder, snapshot.indexes, _write_npy)
        stamp: dict[str, Any] = {
            "format": _CACHE_FORMAT,
            "seq": seq,
            "n": len(snapshot.uuids),
            "spaces": spaces,
            "keyword": entries,
            "indexes": indexes,
            "files": {p.name: file_crc(p) for p in sorted(folder.iterdir()) if p.name != _STAMP},
        }
        stamp["crc"] = _stamp_crc(stamp)
        tmp = folder / (_STAMP + ".tmp")
        tmp.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(tmp, folder / _STAMP)

    def verify(self, collection_id: int) -> list[str]:
        """Problems of a collection's cache files (none when there is no cache)."""
        stamp, problem = self._stamp(collection_id)
        if stamp is None:
            return [] if problem is None else [problem + "; the cache is rebuilt on open"]
        problems = []
        for name, crc in dict(stamp.get("files") or {}).items():
            path = self._dir(collection_id) / name
            try:
                if file_crc(path) != crc:
                    problems.append(f"{path} is damaged (CRC-32 mismatch; rebuilt on open)")
            except OSError as exc:
                problems.append(f"{path} cannot be read ({exc}; rebuilt on open)")
        return problems

    def drop(self, collection_id: int) -> None:
        """Remove a collection's cache."""
        shutil.rmtree(self._dir(collection_id), ignore_errors=True)


def file_crc(path: Path) -> int:
    """CRC-32 of a file's bytes."""
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _stamp_crc(stamp: dict[str, Any]) -> int:
    body = {k: v for k, v in stamp.items() if k != "crc"}
    return zlib.crc32(json.dumps(body, sort_keys=True).encode())


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
