"""The embedded collection's durable storage: its interface and the records it exchanges.

:class:`CollectionStorage` is what the durable backend implements under an embedded collection.
A :class:`Snapshot` is a whole collection in packed form (what a reopen installs in one step);
a :class:`StorageDelta` is what other processes committed since this one last looked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from multivector._types import F32Array, I64Array
from multivector.backends.embedded.bm25_postings import BulkPostings
from multivector.backends.protocol import StoredObject
from multivector.kernels.quantize import dequantize_int8
from multivector.schema.config import CollectionConfig

__all__ = ["CollectionStorage", "KeywordCache", "PackedArena", "Snapshot", "StorageDelta"]


class KeywordCache(NamedTuple):
    """One property's BM25 postings over slots ``0 .. n - 1``, with the tokenization they used."""

    tokenization: str
    postings: BulkPostings


@dataclass(frozen=True)
class PackedArena:
    """One vector space in packed form: ``tokens[offsets[i]:offsets[i+1]]`` belong to slot ``i``.

    ``tokens`` may be a read-only memory map; ``dimension`` is None while the space is empty.
    An int8 space's ``tokens`` are int8 with one float32 scale per row in ``scales`` (the value
    is ``tokens[r] * scales[r]``); ``scales`` is None for float tokens.
    """

    tokens: npt.NDArray[Any]
    offsets: I64Array
    dimension: int | None
    scales: F32Array | None = None

    def rows(self, start: int, end: int) -> F32Array:
        """Rows ``start:end`` as float32 (dequantised for int8 tokens)."""
        if self.scales is not None:
            return dequantize_int8(self.tokens[start:end], self.scales[start:end])
        return np.asarray(self.tokens[start:end], dtype=np.float32)


@dataclass
class Snapshot:
    """Every live object of a collection, in slot (= write) order."""

    config: CollectionConfig
    uuids: list[str]
    properties: list[dict[str, Any]]
    times: list[tuple[float, float]]
    arenas: dict[str, PackedArena] = field(default_factory=dict)
    #: Ready BM25 postings by property (from the cache); the rest is built from ``properties``.
    keyword: dict[str, KeywordCache] = field(default_factory=dict)
    #: Persisted approximate indexes by space (``ann_state.IndexState``), checked before use.
    indexes: dict[str, Any] = field(default_factory=dict)
    #: A stale cache's indexes by space, with the cached slots of the unchanged objects that
    #: lead the slot order: ``(IndexState, kept old slots)``, brought up to date before use.
    stale_indexes: dict[str, Any] = field(default_factory=dict)


@dataclass
class StorageDelta:
    """Changes committed by other connections: apply ``reload`` wholesale when it is set."""

    config: CollectionConfig | None = None
    upserts: list[StoredObject] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    reload: Snapshot | None = None


class CollectionStorage(Protocol):
    """Durable storage under one embedded collection (SQLite in practice)."""

    def save_config(self, config: CollectionConfig) -> None:
        """Persist the configuration."""
        ...

    def write(
        self,
        *,
        upserts: Sequence[StoredObject],
        deletes: Sequence[str],
        kept: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """Apply upserts and deletes in one transaction; durable when it returns. ``kept``: per
        uuid, spaces whose stored rows stay as they are (not rewritten from the serving copy).
        """
        ...

    def snapshot(self) -> Snapshot:
        """The whole collection in packed form, in write order (what a reopen installs)."""
        ...

    def poll(self) -> StorageDelta | None:
        """What other connections committed since the last call (None: nothing)."""
        ...

    def prepare_write(self) -> None:
        """Take the write lock (raise when it cannot be had); called before every write."""
        ...

    def reclaim(self) -> None:
        """Give free pages back and fold the log, when this client writes (else nothing)."""
        ...

    def compact(self, *, prune_log: bool) -> None:
        """Give the space of deleted objects back (``prune_log``: drop the deletion log too)."""
        ...
