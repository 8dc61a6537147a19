"""An incremental BM25 inverted index over integer slots, in two scoring modes.

One :class:`BM25Index` serves one text field. Documents are identified by *slots* (the store's row
ids: ints >= 0, normally increasing, with gaps after deletes). Adding or removing a document touches
only that document's postings; nothing is ever rebuilt. Queries touch only the postings of their
terms and score them with NumPy.

Scoring modes (formulas in :mod:`multivector.stores.bm25_scoring`):

``rank_bm25``
    Equal, bit for bit, to ``rank_bm25.BM25Okapi(corpus).get_scores(query)`` over the live documents
    in slot order (k1 1.5, b 0.75, epsilon 0.25: a negative idf becomes ``epsilon * average_idf``,
    the average taken over the whole vocabulary). Repeated query terms count once per occurrence and
    out-of-vocabulary terms add 0, as in ``rank_bm25``. After removals, the vocabulary order used for
    the average idf may differ from a fresh index's, so scores can differ in the last bits (< 1e-12).
``weaviate``
    Weaviate's BM25: ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))`` and
    ``score = sum idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))`` (no ``(k1 + 1)`` factor).
    Repeated query terms count repeatedly: like Weaviate (``TokenizeAndCountDuplicates``), each
    distinct term is scored once with its idf multiplied by its number of occurrences.

Every live document counts in ``N`` and in the average length, including documents added with no
terms (as ``rank_bm25`` counts empty documents).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

from multivector._types import BoolArray, F64Array, I64Array
from multivector.errors import ConfigError
from multivector.stores.bm25_postings import BulkPostings, Postings, build_bulk, pack_postings
from multivector.stores.bm25_scoring import (
    length_norm,
    rank_bm25_average_idf,
    rank_bm25_idf,
    rank_bm25_tf_part,
    weaviate_idf,
    weaviate_tf_part,
)

__all__ = ["BM25Hits", "BM25Index"]

Scoring = Literal["weaviate", "rank_bm25"]

#: Query terms past this index share the last bit of the ``matched`` mask.
MAX_TERM_BIT = 62
_RANK_BM25_EPSILON = 0.25
_TF_CACHE_LIMIT = 4096


class BM25Hits(NamedTuple):
    """Documents matching at least one query term.

    ``slots`` are increasing; ``scores`` their BM25 scores; ``matched`` a bitmask over the distinct
    query terms (bit ``j`` = the ``j``-th distinct term in first-occurrence order; terms past the
    62nd share bit 62), so a caller can OR masks across fields and apply ``and`` / ``minimum_match``.
    """

    slots: I64Array
    scores: F64Array
    matched: I64Array


class BM25Index:
    """One text field's inverted index over integer slots (see the module docstring for scoring)."""

    def __init__(self, *, k1: float, b: float, scoring: Scoring) -> None:
        if scoring not in ("weaviate", "rank_bm25"):
            raise ConfigError(f"scoring {scoring!r} is unknown; use 'weaviate' or 'rank_bm25'")
        if not k1 >= 0:
            raise ConfigError(f"k1 must be >= 0, got {k1!r}")
        if not 0.0 <= b <= 1.0:
            raise ConfigError(f"b must be within [0, 1], got {b!r}")
        self.k1 = float(k1)
        self.b = float(b)
        self.scoring: Scoring = scoring
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
        self._norm_cache: F64Array | None = None
        self._avg_idf_cache: float | None = None
        self._tf_part_cache: dict[int, tuple[I64Array, F64Array]] = {}

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

    @classmethod
    def from_bulk(cls, base: BulkPostings, *, k1: float, b: float, scoring: Scoring) -> BM25Index:
        """An index over ready bulk postings (as :meth:`export` gives them, e.g. from a cache)."""
        index = cls(k1=k1, b=b, scoring=scoring)
        if base.doc_slots.size:
            with index._lock:
                index._install_base(base)
        return index

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

    # ------------------------------------------------------------------------------- queries

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

    def search(self, query_terms: Sequence[str], *, mask: BoolArray | None = None) -> BM25Hits:
        """Score every document containing at least one query term (and allowed by ``mask``).

        ``mask`` is a bool array indexed by slot; slots beyond its end count as not allowed.
        """
        with self._lock:
            scores, matched = self._accumulate(query_terms, self._doc_len.size)
        slots = np.flatnonzero(matched != 0)  # a bool scan is ~5x faster than an int64 one
        if mask is not None:
            allowed = np.asarray(mask, dtype=np.bool_)
            slots = slots[slots < allowed.size]
            slots = slots[allowed[slots]]
        return BM25Hits(slots.astype(np.int64), scores[slots], matched[slots])

    def dense_scores(self, query_terms: Sequence[str], n_slots: int) -> F64Array:
        """Scores of slots ``0 .. n_slots - 1`` (0.0 where nothing matches or no document lives).

        In ``rank_bm25`` mode this equals ``BM25Okapi.get_scores`` over the live documents in slot
        order, placed at their slots.
        """
        if n_slots < 0:
            raise ConfigError(f"dense_scores: n_slots must be >= 0, got {n_slots}")
        with self._lock:
            scores, _ = self._accumulate(query_terms, self._doc_len.size)
        out = np.zeros(n_slots, dtype=np.float64)
        shared = min(n_slots, scores.size)
        out[:shared] = scores[:shared]
        return out

    # ------------------------------------------------------------------------------ internals

    def _invalidate(self) -> None:
        """Forget every value derived from N, lengths or frequencies (after a mutation)."""
        self._norm_cache = None
        self._avg_idf_cache = None
        if self._tf_part_cache:
            self._tf_part_cache = {}

    def _accumulate(self, query_terms: Sequence[str], size: int) -> tuple[F64Array, I64Array]:
        """Dense scores and matched-term bitmasks over slots ``0 .. size - 1``."""
        scores = np.zeros(size, dtype=np.float64)
        matched = np.zeros(size, dtype=np.int64)
        if isinstance(query_terms, str):
            raise ConfigError(
                f"query_terms must be a list of terms, not the str {query_terms[:40]!r}"
            )
        n_docs = len(self._doc_terms)
        if n_docs == 0 or not query_terms:
            return scores, matched
        distinct = Counter(query_terms)
        bits = {term: 1 << min(j, MAX_TERM_BIT) for j, term in enumerate(distinct)}
        for term in distinct:
            tid = self._term_ids.get(term)
            if tid is not None and self._df[tid] > 0:
                slots, _ = self._tf_part(tid)
                matched[slots] |= bits[term]
        if self.scoring == "rank_bm25":
            # One pass per occurrence, in query order, as rank_bm25.get_scores adds them.
            for term in query_terms:
                tid = self._term_ids.get(term)
                if tid is None or self._df[tid] == 0:
                    continue
                slots, part = self._tf_part(tid)
                scores[slots] += self._rank_bm25_idf(tid, n_docs) * part
        else:
            for term, count in distinct.items():
                tid = self._term_ids.get(term)
                if tid is None or self._df[tid] == 0:
                    continue
                slots, part = self._tf_part(tid)
                scores[slots] += part * (weaviate_idf(self._df[tid], n_docs) * count)
        return scores, matched

    def _tf_part(self, tid: int) -> tuple[I64Array, F64Array]:
        """Slots of term ``tid`` and their idf-free score parts, cached until the next mutation."""
        cached = self._tf_part_cache.get(tid)
        if cached is not None:
            return cached
        postings = self._entry(tid)
        postings.flush()
        norm = self._norm()[postings.slots]
        if self.scoring == "rank_bm25":
            part = rank_bm25_tf_part(postings.tfs, norm, k1=self.k1)
        else:
            part = weaviate_tf_part(postings.tfs, norm)
        if len(self._tf_part_cache) >= _TF_CACHE_LIMIT:
            self._tf_part_cache.clear()
        self._tf_part_cache[tid] = (postings.slots, part)
        return postings.slots, part

    def _norm(self) -> F64Array:
        if self._norm_cache is None:
            avgdl = self._total_len / len(self._doc_terms)
            self._norm_cache = length_norm(self._doc_len, k1=self.k1, b=self.b, avgdl=avgdl)
        return self._norm_cache

    def _rank_bm25_idf(self, tid: int, n_docs: int) -> float:
        idf = rank_bm25_idf(self._df[tid], n_docs)
        if idf >= 0:
            return idf
        if self._avg_idf_cache is None:
            df = np.fromiter(self._df, dtype=np.int64, count=len(self._df))
            self._avg_idf_cache = rank_bm25_average_idf(df[df > 0], n_docs)
        return _RANK_BM25_EPSILON * self._avg_idf_cache


def _check_slot(slot: int) -> int:
    if isinstance(slot, bool) or not isinstance(slot, (int, np.integer)) or slot < 0:
        raise ConfigError(f"BM25 slot must be an int >= 0, got {slot!r}")
    return int(slot)
