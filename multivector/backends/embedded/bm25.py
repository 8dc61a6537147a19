"""An incremental BM25 inverted index over integer slots, in two scoring modes.

One :class:`BM25Index` serves one text field. Documents are identified by *slots* (the store's row
ids: ints >= 0, normally increasing, with gaps after deletes). Adding or removing a document touches
only that document's postings; nothing is ever rebuilt. Queries touch only the postings of their
terms and score them with NumPy.

Scoring modes (formulas in :mod:`multivector.text.bm25_scoring`):

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

from collections import Counter
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

from multivector._types import BoolArray, F64Array, I64Array
from multivector.backends.embedded.bm25_inverted import InvertedIndex
from multivector.backends.embedded.bm25_postings import BulkPostings
from multivector.errors import ConfigError
from multivector.text.bm25_scoring import (
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


class BM25Index(InvertedIndex):
    """One text field's inverted index over integer slots (see the module docstring for scoring).

    Writes (``add``, ``add_many``, ``remove``, ``remap``, ``export``) are
    :class:`~.bm25_inverted.InvertedIndex`'s; this class scores queries and caches what the
    scores derive from the index until its next mutation.
    """

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
        super().__init__()
        self._norm_cache: F64Array | None = None
        self._avg_idf_cache: float | None = None
        self._tf_part_cache: dict[int, tuple[I64Array, F64Array]] = {}

    # ------------------------------------------------------------------------- construction

    @classmethod
    def from_bulk(cls, base: BulkPostings, *, k1: float, b: float, scoring: Scoring) -> BM25Index:
        """An index over ready bulk postings (as :meth:`export` gives them, e.g. from a cache)."""
        index = cls(k1=k1, b=b, scoring=scoring)
        if base.doc_slots.size:
            with index._lock:
                index._install_base(base)
        return index

    # ------------------------------------------------------------------------------- queries

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
