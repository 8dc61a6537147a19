"""Postings of the BM25 index: one term's growable list, and a whole corpus built in bulk.

:class:`Postings` holds one term's sorted slots and frequencies plus appends and removals not yet
merged (writes stay O(1) per term). :func:`build_bulk` indexes many documents at once with NumPy
into compressed arrays (:class:`BulkPostings`); the index turns a term's slice of them into a
:class:`Postings` only when a query or a write first touches that term, so a reopen never creates
one Python object per term or per document.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from multivector._types import F64Array, I64Array

__all__ = ["BulkPostings", "Postings", "build_bulk", "pack_postings"]

_EMPTY_I64: I64Array = np.empty(0, dtype=np.int64)
_EMPTY_F64: F64Array = np.empty(0, dtype=np.float64)


class Postings:
    """One term's postings: sorted slots and frequencies, plus appends and removals not yet merged.

    Appends in increasing slot order go to Python lists and removals to a set; both are merged
    into the arrays by :meth:`flush`, which queries call, so writes stay O(1) per term.
    """

    __slots__ = ("dead", "last", "pending_slots", "pending_tfs", "slots", "tfs")

    def __init__(self, slots: I64Array = _EMPTY_I64, tfs: F64Array = _EMPTY_F64) -> None:
        self.slots: I64Array = slots
        self.tfs: F64Array = tfs
        self.pending_slots: list[int] = []
        self.pending_tfs: list[int] = []
        self.dead: set[int] | None = None
        # an upper bound of the largest slot held (exact unless removals pend)
        self.last = int(slots[-1]) if slots.size else -1

    def append(self, slot: int, tf: int) -> None:
        """Add ``slot`` with frequency ``tf`` (kept sorted)."""
        if slot > self.last:
            self.pending_slots.append(slot)
            self.pending_tfs.append(tf)
            self.last = slot
            return
        self.flush()
        pos = int(np.searchsorted(self.slots, slot))
        self.slots = np.insert(self.slots, pos, slot)
        self.tfs = np.insert(self.tfs, pos, float(tf))
        self.last = int(self.slots[-1])

    def discard(self, slot: int) -> None:
        """Mark ``slot`` removed (merged by the next :meth:`flush`)."""
        if self.dead is None:
            self.dead = set()
        self.dead.add(slot)

    def flush(self) -> None:
        """Merge pending appends and removals into the arrays."""
        if self.pending_slots:
            self.slots = np.concatenate([self.slots, np.array(self.pending_slots, dtype=np.int64)])
            self.tfs = np.concatenate([self.tfs, np.array(self.pending_tfs, dtype=np.float64)])
            self.pending_slots = []
            self.pending_tfs = []
        if self.dead is not None:
            dead = np.fromiter(self.dead, dtype=np.int64, count=len(self.dead))
            keep = ~np.isin(self.slots, dead)
            self.slots = self.slots[keep]
            self.tfs = self.tfs[keep]
            self.dead = None
            self.last = int(self.slots[-1]) if self.slots.size else -1


class BulkPostings(NamedTuple):
    """A corpus indexed at once, in compressed (CSR) arrays.

    Term ``t`` (ids in first-occurrence order: documents in order, then positions) holds slots
    ``slots[term_ptr[t]:term_ptr[t+1]]`` (increasing) with frequencies ``tfs[...]``; document
    ``i`` (slot ``doc_slots[i]``) holds the distinct term ids ``doc_tids[doc_ptr[i]:doc_ptr[i+1]]``.
    """

    vocabulary: list[str]
    df: I64Array
    term_ptr: I64Array
    slots: I64Array
    tfs: F64Array
    doc_slots: I64Array
    doc_ptr: I64Array
    doc_tids: I64Array
    lengths: I64Array

    def postings(self, tid: int) -> Postings:
        """Term ``tid``'s postings (views of the arrays until something is appended)."""
        lo, hi = int(self.term_ptr[tid]), int(self.term_ptr[tid + 1])
        return Postings(self.slots[lo:hi], self.tfs[lo:hi])

    def terms_of(self, slot: int) -> I64Array:
        """The distinct term ids of the document in ``slot`` (which must be one of ``doc_slots``)."""
        row = int(np.searchsorted(self.doc_slots, slot))
        return self.doc_tids[int(self.doc_ptr[row]) : int(self.doc_ptr[row + 1])]


def build_bulk(slots: I64Array, token_lists: Sequence[Sequence[str]]) -> BulkPostings:
    """Index documents ``token_lists`` (in increasing ``slots``) into a fresh vocabulary."""
    n_docs = len(token_lists)
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=n_docs)
    flat = list(chain.from_iterable(token_lists))
    vocabulary = list(dict.fromkeys(flat))  # first-occurrence order, as one add() at a time
    term_ids = dict(zip(vocabulary, range(len(vocabulary)), strict=True))
    tids = np.fromiter(map(term_ids.__getitem__, flat), dtype=np.int64, count=len(flat))
    n_terms = max(len(vocabulary), 1)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    keys, counts = np.unique(doc * n_terms + tids, return_counts=True)  # by (document, term)
    pair_doc = keys // n_terms
    pair_tid = keys - pair_doc * n_terms
    doc_ptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_doc, minlength=n_docs), out=doc_ptr[1:])
    df = np.bincount(pair_tid, minlength=len(vocabulary)).astype(np.int64)
    term_ptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(df, out=term_ptr[1:])
    order = np.argsort(pair_tid, kind="stable")  # by term, then document (= slot) order
    return BulkPostings(
        vocabulary=vocabulary,
        df=df,
        term_ptr=term_ptr,
        slots=slots[pair_doc[order]],
        tfs=counts[order].astype(np.float64),
        doc_slots=slots,
        doc_ptr=doc_ptr,
        doc_tids=pair_tid,
        lengths=lengths,
    )


def pack_postings(
    vocabulary: list[str],
    entries: Sequence[Postings],
    *,
    doc_slots: I64Array,
    per_doc: Sequence[I64Array],
    doc_len: I64Array,
) -> BulkPostings:
    """Flushed per-term ``entries`` (term id order) and each document's distinct term ids (in
    ``doc_slots`` order) as one :class:`BulkPostings`.
    """
    df = np.fromiter((e.slots.size for e in entries), dtype=np.int64, count=len(entries))
    term_ptr = np.zeros(len(entries) + 1, dtype=np.int64)
    np.cumsum(df, out=term_ptr[1:])
    doc_ptr = np.zeros(len(per_doc) + 1, dtype=np.int64)
    np.cumsum([t.size for t in per_doc], out=doc_ptr[1:])
    return BulkPostings(
        vocabulary=vocabulary,
        df=df,
        term_ptr=term_ptr,
        slots=_concat([e.slots for e in entries], np.int64),
        tfs=_concat([e.tfs for e in entries], np.float64),
        doc_slots=doc_slots,
        doc_ptr=doc_ptr,
        doc_tids=_concat(per_doc, np.int64),
        lengths=doc_len[doc_slots],
    )


def _concat(parts: Sequence[Any], dtype: type[Any]) -> Any:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)
