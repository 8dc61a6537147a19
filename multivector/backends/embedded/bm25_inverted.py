"""The inverted index under :class:`~.bm25.BM25Index`: terms to postings over integer slots.

:class:`InvertedIndex` keeps, for one text field, each term's postings (slots and term
frequencies, see :mod:`.bm25_postings`), each document's distinct terms and its length, and the
document frequencies. Documents are identified by *slots* (the store's row ids: ints >= 0, normally
increasing, with gaps after deletes). Adding or removing a document touches only that document's
postings; a bulk load installs compressed arrays that are unpacked term by term on first use; a
compaction renumbers slots. It computes no score: every mutation calls :meth:`_invalidate`, which
a subclass overrides to drop what it derived from the statistics.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import numpy as np

from multivector._types import I64Array
from multivector.backends.embedded.bm25_postings import (
    BulkPostings,
    Postings,
    build_bulk,
    pack_postings,
)
from multivector.errors import ConfigError

__all__ = ["InvertedIndex"]


class InvertedIndex:
    """Postings, document terms, lengths and frequencies of one text field, keyed by slot."""

    def __init__(self) -> None:
        self._term_ids: dict[str, int] = {}
        # None: the term's postings are still a slice of the bulk arrays (``_base``).
        self._postings: list[Postings | None] = []
        self._base: BulkPostings | None = None
        self._df: list[int] = []
        # Distinct term ids by document; None: look them up in ``_base``.
        self._doc_terms: dict[int, I64Array | None] = {}
        self._doc_len: I64Array = np.zeros(0, dtype=np.int64)
        self._total_len = 0
        # Searches fill caches and merge pending postings, so reads take the lock too.
        self._lock = threading.RLock()

    # ----------------------------------------------------------------------------- mutation

    def add(self, slot: int, tokens: Sequence[str]) -> None:
        """Index document ``slot`` with its terms (``[]`` for a document without text).

        A slot that is already indexed is replaced.
        """
        slot = _check_slot(slot)
        if isinstance(tokens, str):
            raise ConfigError(
                f"BM25Index.add(slot={slot}): tokens must be a list of terms, not the str "
                f"{tokens[:40]!r}; tokenize it first"
            )
        counts = Counter(tokens)
        with self._lock:
            if slot in self._doc_terms:
                self._remove_locked(slot)
            term_ids = self._term_ids
            postings = self._postings
            df = self._df
            tids: list[int] = []
            for term, tf in counts.items():
                tid = term_ids.get(term)
                if tid is None:
                    tid = len(postings)
                    term_ids[term] = tid
                    postings.append(Postings())
                    df.append(0)
                entry = postings[tid] or self._entry(tid)
                if slot > entry.last:  # the usual case, inlined: slots arrive in increasing order
                    entry.pending_slots.append(slot)
                    entry.pending_tfs.append(tf)
                    entry.last = slot
                else:
                    entry.append(slot, tf)
                df[tid] += 1
                tids.append(tid)
            if slot >= self._doc_len.size:
                grown = np.zeros(max(slot + 1, 2 * self._doc_len.size, 16), dtype=np.int64)
                grown[: self._doc_len.size] = self._doc_len
                self._doc_len = grown
            self._doc_len[slot] = len(tokens)
            self._doc_terms[slot] = np.array(tids, dtype=np.int64)
            self._total_len += len(tokens)
            self._invalidate()

    def add_many(self, slots: Sequence[int], token_lists: Sequence[Sequence[str]]) -> None:
        """Index many documents at once; the same index as ``add(slot, tokens)`` for each pair in
        order, built with NumPy instead of per-document appends (a reopen indexes every object).

        Slots past every slot seen so far, in increasing order, take the bulk path; anything
        else falls back to :meth:`add` one document at a time.
        """
        if len(slots) != len(token_lists):
            raise ConfigError(
                f"add_many: {len(slots)} slots but {len(token_lists)} token lists; pass one each"
            )
        if not slots:
            return
        slot_arr = np.fromiter((_check_slot(s) for s in slots), dtype=np.int64, count=len(slots))
        for slot, tokens in zip(slot_arr.tolist(), token_lists, strict=True):
            if isinstance(tokens, str):
                raise ConfigError(
                    f"BM25Index.add_many(slot={slot}): tokens must be a list of terms, not the "
                    f"str {tokens[:40]!r}; tokenize it first"
                )
        with self._lock:
            if self._postings or self._doc_terms or not bool(np.all(slot_arr[1:] > slot_arr[:-1])):
                for slot, tokens in zip(slot_arr.tolist(), token_lists, strict=True):
                    self.add(slot, tokens)
                return
            self._install_base(build_bulk(slot_arr, token_lists))

    def _install_base(self, base: BulkPostings) -> None:
        self._base = base
        self._term_ids = dict(zip(base.vocabulary, range(len(base.vocabulary)), strict=True))
        self._postings = [None] * len(base.vocabulary)
        self._df = base.df.tolist()
        self._doc_terms = dict.fromkeys(base.doc_slots.tolist())
        self._doc_len = np.zeros(max(int(base.doc_slots[-1]) + 1, 16), dtype=np.int64)
        self._doc_len[base.doc_slots] = base.lengths
        self._total_len = int(base.lengths.sum())
        self._invalidate()

    def export(self) -> BulkPostings:
        """The whole index as bulk arrays (vocabulary in term id order), for a cache on disk."""
        with self._lock:
            vocabulary = sorted(self._term_ids, key=self._term_ids.__getitem__)
            entries = [self._entry(tid) for tid in range(len(self._postings))]
            for entry in entries:
                entry.flush()
            doc_slots = np.array(sorted(self._doc_terms), dtype=np.int64)
            base = self._base
            per_doc = [
                tids if tids is not None else base.terms_of(slot)  # type: ignore[union-attr]
                for slot in doc_slots.tolist()
                for tids in [self._doc_terms[slot]]
            ]
            return pack_postings(
                vocabulary, entries, doc_slots=doc_slots, per_doc=per_doc, doc_len=self._doc_len
            )

    def _entry(self, tid: int) -> Postings:
        """Term ``tid``'s postings, taken out of the bulk arrays on first use."""
        entry = self._postings[tid]
        if entry is None:
            if self._base is None:  # pragma: no cover - None entries only exist with a base
                raise RuntimeError("BM25 postings missing without a bulk base")
            entry = self._base.postings(tid)
            self._postings[tid] = entry
        return entry

    def _materialize(self) -> None:
        """Turn every bulk-held entry into a real one and drop the bulk arrays (before remaps)."""
        base = self._base
        if base is None:
            return
        for tid in range(len(self._postings)):
            self._entry(tid)
        self._doc_terms = {
            slot: base.terms_of(slot) if tids is None else tids
            for slot, tids in self._doc_terms.items()
        }
        self._base = None

    def remove(self, slot: int) -> None:
        """Remove document ``slot``; an unknown slot is a no-op."""
        with self._lock:
            self._remove_locked(slot)

    def _remove_locked(self, slot: int) -> None:
        if slot not in self._doc_terms:
            return
        tids = self._doc_terms.pop(slot)
        if tids is None:
            if self._base is None:  # pragma: no cover - None entries only exist with a base
                raise RuntimeError("BM25 document terms missing without a bulk base")
            tids = self._base.terms_of(slot)
        for tid in tids.tolist():
            self._entry(tid).discard(slot)
            self._df[tid] -= 1
        self._total_len -= int(self._doc_len[slot])
        self._doc_len[slot] = 0
        self._invalidate()

    def remap(self, old_to_new: I64Array) -> None:
        """Renumber slots after compaction: ``old_to_new[old]`` is the new slot, ``-1`` drops it.

        Scores do not change (a live slot mapped to ``-1`` is removed first). An invalid mapping
        raises :class:`~multivector.errors.ConfigError` before anything changes.
        """
        mapping = np.asarray(old_to_new, dtype=np.int64)
        if mapping.ndim != 1:
            raise ConfigError(
                f"remap: old_to_new must be a 1-D int array, got shape {mapping.shape}"
            )
        with self._lock:
            self._materialize()
            live = np.fromiter(self._doc_terms, dtype=np.int64, count=len(self._doc_terms))
            if live.size and int(live.max()) >= mapping.size:
                raise ConfigError(
                    f"remap: old_to_new has {mapping.size} entries but slot {int(live.max())} "
                    "is indexed; pass one entry per old slot"
                )
            kept = live[mapping[live] >= 0]
            new_slots = mapping[kept]
            if np.unique(new_slots).size != new_slots.size:
                raise ConfigError("remap: old_to_new maps two indexed slots to the same new slot")
            for slot in live[mapping[live] < 0].tolist():
                self._remove_locked(slot)
            for tid in range(len(self._postings)):
                postings = self._entry(tid)
                postings.flush()
                if postings.slots.size == 0:
                    continue
                moved = mapping[postings.slots]
                order = np.argsort(moved, kind="stable")
                postings.slots = moved[order]
                postings.tfs = postings.tfs[order]
                postings.last = int(postings.slots[-1])
            doc_len = np.zeros(int(new_slots.max()) + 1 if new_slots.size else 0, dtype=np.int64)
            doc_len[new_slots] = self._doc_len[kept]
            self._doc_len = doc_len
            pairs = sorted(zip(new_slots.tolist(), kept.tolist(), strict=True))
            self._doc_terms = {new: self._doc_terms[old] for new, old in pairs}
            self._prune_vocabulary()
            self._invalidate()

    def _prune_vocabulary(self) -> None:
        """Forget terms no live document holds; live terms keep their relative order."""
        df = np.fromiter(self._df, dtype=np.int64, count=len(self._df))
        alive = df > 0
        if alive.all():
            return
        new_id = np.cumsum(alive, dtype=np.int64) - 1
        self._term_ids = {t: int(new_id[i]) for t, i in self._term_ids.items() if alive[i]}
        self._postings = [p for p, keep in zip(self._postings, alive.tolist()) if keep]
        self._df = df[alive].tolist()
        self._doc_terms = {slot: new_id[tids] for slot, tids in self._doc_terms.items()}

    # ---------------------------------------------------------------------------- statistics

    def __len__(self) -> int:
        return len(self._doc_terms)

    @property
    def average_length(self) -> float:
        """Mean number of terms per indexed document (0.0 when empty)."""
        return self._total_len / len(self._doc_terms) if self._doc_terms else 0.0

    def document_frequency(self, term: str) -> int:
        """Number of indexed documents containing ``term``."""
        tid = self._term_ids.get(term)
        return 0 if tid is None else self._df[tid]

    def _invalidate(self) -> None:
        """Called after every mutation; a subclass drops the values it derived from the index."""


def _check_slot(slot: int) -> int:
    if isinstance(slot, bool) or not isinstance(slot, (int, np.integer)) or slot < 0:
        raise ConfigError(f"BM25 slot must be an int >= 0, got {slot!r}")
    return int(slot)
