"""Steps between the store file and its cache (:mod:`.folder_cache`) for one collection: which
BM25 postings a cache keeps, and which objects a stale cache's index still describes.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from multivector.backends.durable.folder_cache import ArenaCache
from multivector.backends.embedded.bm25_postings import BulkPostings
from multivector.backends.embedded.storage import KeywordCache, Snapshot
from multivector.schema.config import Tokenization

__all__ = ["cache_keyword", "stale_indexes"]


def cache_keyword(
    snapshot: Snapshot, postings: Mapping[str, BulkPostings]
) -> dict[str, KeywordCache]:
    """The postings worth caching: those of properties that still exist, over every slot."""
    keyword = {}
    for name, bulk in postings.items():
        prop = snapshot.config.property(name)
        if prop is not None and np.array_equal(bulk.doc_slots, np.arange(len(snapshot.uuids))):
            keyword[name] = KeywordCache((prop.tokenization or Tokenization.WORD).value, bulk)
    return keyword


def stale_indexes(
    cache: ArenaCache, collection_id: int, uuids: list[str], seqs: list[int]
) -> dict[str, Any]:
    """A stale cache's indexes with, per space, the cached slot of each object unchanged since
    it was written (they lead the slot order: objects load in sequence order ``seqs``), to be
    brought up to date; empty when there is none or it does not describe these objects.
    """
    stale = cache.load_stale_indexes(collection_id)
    if stale is None:
        return {}
    stale_seq, old_uuids, states = stale
    unchanged = bisect.bisect_right(seqs, stale_seq)
    old_slot = {u: i for i, u in enumerate(old_uuids)}
    keep = [old_slot.get(u, -1) for u in uuids[:unchanged]]
    if -1 in keep or any(b <= a for a, b in itertools.pairwise(keep)):
        return {}  # not what the stale cache indexed: train anew
    kept = np.array(keep, dtype=np.int64)
    return {name: (state, kept) for name, state in states.items()}
