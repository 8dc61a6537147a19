"""Checkpoints: a durable collection writes its cache now and serves from the mapped files.

After an index is trained (explicitly or in the background) the collection asks its storage to
write the whole cache (token rows, BM25 postings, the trained index) at the current change
sequence number, then swaps its in-memory arenas and indexes for the memory-mapped copies. So the
trained index survives a crash from then on, a reader process maps it at once, and the process
keeps the float16 rows as file-backed pages the OS can evict instead of anonymous memory.
When a write slipped in between, the swap is skipped; the cache written is then merely stale
(brought up to date at the next open). In-memory collections and reading clients do nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from multivector.backends.embedded.ann_spaces import SpaceIndexes
from multivector.backends.embedded.arena import TokenArena, arenas_from_packed
from multivector.backends.embedded.bm25_postings import BulkPostings
from multivector.backends.embedded.storage import Snapshot
from multivector.schema.config import CollectionConfig

__all__ = ["Checkpoints"]


class Checkpoints:
    """The checkpoint half of an embedded collection (the collection provides the state)."""

    _lock: threading.RLock
    _config: CollectionConfig
    _storage: Any
    _arenas: dict[str, TokenArena]
    _ann: SpaceIndexes
    #: The collection's own methods (see collection.py).
    export_snapshot: Callable[[], Snapshot]
    keyword_postings: Callable[[], dict[str, BulkPostings]]

    def checkpoint(self) -> bool:
        """Write the cache now and serve from it; False when there is nothing to write to."""
        save = getattr(self._storage, "checkpoint", None)
        if save is None:
            return False
        with self._lock:
            snap = self.export_snapshot()  # refreshes and compacts first
            postings = self.keyword_postings()
            seq = int(self._storage.seq)
            before = {name: (arena, arena.n_slots) for name, arena in self._arenas.items()}
        state = save(snap, postings, seq=seq)  # the long part runs without the lock
        if state is None or state.arenas is None:
            return False
        with self._lock:
            moved = self._storage.seq != seq or any(
                self._arenas.get(name) is not arena or arena.n_slots != n
                for name, (arena, n) in before.items()
            )
            if moved:
                return True
            self._arenas.update(arenas_from_packed(self._config, state.arenas))
            self._ann.restore(state.indexes)
            for name, arena in self._arenas.items():  # claim the mapped states now
                self._ann.index(self._config, name, arena)
        return True
