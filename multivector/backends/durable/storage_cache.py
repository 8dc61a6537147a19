"""The cache side of a collection's durable storage (:class:`.sqlite_storage.SqliteCollectionStorage`).

Writing the folder cache (at close, or at a checkpoint after an index was trained, then mapping
it back), serving a whole snapshot from a current cache without scanning the object rows, the
stale cache's indexes to catch up, and the late CRC check of large mapped files.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multivector.backends.durable.cache_steps import cache_keyword, stale_indexes
from multivector.backends.durable.checksums import CollectionRow
from multivector.backends.durable.folder_cache import ArenaCache, CachedState
from multivector.backends.durable.sqlite_db import Database
from multivector.backends.embedded.bm25_postings import BulkPostings
from multivector.backends.embedded.storage import KeywordCache, Snapshot
from multivector.schema.config import CollectionConfig, Tokenization

__all__ = ["CacheSide", "keyword_complete", "usable_keyword"]


def usable_keyword(
    cached: dict[str, KeywordCache], config: CollectionConfig
) -> dict[str, KeywordCache]:
    """The cached BM25 postings still valid under ``config`` (searchable, same tokenization)."""
    out = {}
    for prop in config.properties:
        entry = cached.get(prop.name)
        if entry is not None and prop.data_type.is_text and prop.index_searchable:
            if entry.tokenization == (prop.tokenization or Tokenization.WORD).value:
                out[prop.name] = entry
    return out


def keyword_complete(config: CollectionConfig, keyword: Mapping[str, KeywordCache]) -> bool:
    """Whether ``keyword`` holds the postings of every searchable text property of ``config``."""
    searchable = {p.name for p in config.properties if p.data_type.is_text and p.index_searchable}
    return searchable <= keyword.keys()


class CacheSide:
    """Cache methods of the durable storage (it provides the attributes)."""

    _db: Database
    _id: int
    _cache: ArenaCache | None
    _seq: int
    _cache_damage: str | None
    cache_hit: bool

    def save_cache(
        self, snapshot: Snapshot, postings: Mapping[str, BulkPostings], *, seq: int
    ) -> None:
        """Write ``snapshot`` (taken at sequence number ``seq``) and its BM25 ``postings`` as
        the collection's cache (the writer only; the caller holds the write lock).
        """
        if self._cache is None:
            return
        keyword = cache_keyword(snapshot, postings)
        self._cache.save(self._id, seq=seq, snapshot=snapshot, keyword=keyword)

    def checkpoint(
        self, snapshot: Snapshot, postings: Mapping[str, BulkPostings], *, seq: int
    ) -> CachedState | None:
        """Write the cache now (as :meth:`save_cache`) and map it back: the caller swaps its
        arenas and indexes for these file-backed copies. None when this client cannot write it.
        """
        if self._cache is None or not self._db.try_writer():
            return None
        self.save_cache(snapshot, postings, seq=seq)
        state = self._cache.load(  # just written
            self._id,
            seq=seq,
            uuids=snapshot.uuids,
            tokens=self._cache.keeps_tokens_for(snapshot.config),
        )
        self.cache_hit = state is not None
        return state

    def _cached_snapshot(self, row: CollectionRow, config: CollectionConfig) -> Snapshot | None:
        """The whole snapshot from a cache current at the row's sequence number, without
        scanning the object rows (None: not current or incomplete: scan them).
        """
        if self._cache is None or not self._cache.keeps_tokens_for(config):
            return None
        objects = self._cache.load_objects(
            self._id, seq=row.last_seq, n=row.n_objects, config=config
        )
        if objects is None:
            return None
        uuids, props, times = objects
        state = self._cache.load(self._id, seq=row.last_seq, uuids=uuids, tokens=True)
        keyword = usable_keyword(state.keyword if state is not None else {}, config)
        if state is None or state.arenas is None or not keyword_complete(config, keyword):
            return None
        if state.unverified:
            self._verify_later(self._cache, state.unverified)
        self.cache_hit = True
        self._seq = row.last_seq
        return Snapshot(
            config=config,
            uuids=uuids,
            properties=props,
            times=times,
            arenas=state.arenas,
            keyword=keyword,
            indexes=state.indexes,
        )

    def _stale_indexes(self, uuids: list[str], seqs: list[int]) -> dict[str, Any]:
        return {} if self._cache is None else stale_indexes(self._cache, self._id, uuids, seqs)

    def _verify_later(self, cache: ArenaCache, files: list[tuple[Path, int]]) -> None:
        """CRC-check the large cache files just mapped on a background thread."""

        def check() -> None:
            problem = cache.verify_deferred(self._id, files)
            if problem is not None:
                self._cache_damage = problem

        threading.Thread(target=check, name="multivector-cache-check", daemon=True).start()
