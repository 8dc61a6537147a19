"""BM25 keyword search on Qdrant: candidates from the sparse vector, exact scores client-side.

Exact scores need each query term's document frequency per field. :class:`TermStats` keeps a
per-field document-frequency table in memory, built by one scroll over the ``terms`` payload on
the first keyword search and then updated by this process's own writes. Every write bumps a
version in ``_multivector_meta``; a search that finds another writer's version rebuilds the
table, so several processes may write. Past ``table_limit`` objects the table is not built:
frequencies are counted by Qdrant over the keyword-indexed ``terms.<field>`` payload instead
(one indexed count per query term on a server; cached until the next write).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from qdrant_client import models

from multivector.backends.protocol import Hit
from multivector.backends.qdrant.bm25 import (
    SPARSE_VECTOR,
    exact_scores,
    needed_terms,
    query_terms,
    sparse_query,
)
from multivector.backends.qdrant.payload import BM25_KEY, ID_KEY, TERMS_KEY
from multivector.schema.config import CollectionConfig
from multivector.schema.query import BM25OperatorSpec
from multivector.text.bm25_scoring import rank_bm25_idf
from multivector.text.stopwords import Stopwords

__all__ = ["TermStats", "keyword_search"]

#: Collections up to this size keep their document-frequency table in memory.
TABLE_LIMIT = 200_000


class TermStats:
    """Document frequencies per (field, term), exact for the version they were read at."""

    def __init__(
        self,
        *,
        scan_terms: Callable[[], Iterator[Mapping[str, Any]]],
        count_term: Callable[[str, str], int],
        table_limit: int = TABLE_LIMIT,
    ) -> None:
        self._scan_terms = scan_terms
        self._count_term = count_term
        self._table_limit = table_limit
        self._table: dict[str, Counter[str]] | None = None
        self._counted: dict[tuple[str, str], int] = {}
        self._avg_idf: dict[tuple[str, int], float] = {}
        self.version: int | None = None

    def sync(self, version: int, n_docs: int) -> None:
        """Make the statistics those of ``version`` (rebuilt when another writer moved it)."""
        if version == self.version:
            return
        self._counted.clear()
        self._avg_idf.clear()
        self._table = None
        if n_docs <= self._table_limit:
            table: dict[str, Counter[str]] = {}
            for terms in self._scan_terms():
                for field, words in terms.items():
                    table.setdefault(field, Counter()).update(words or ())
            self._table = table
        self.version = version

    def apply(
        self,
        removed: Iterable[Mapping[str, Any]],
        added: Iterable[Mapping[str, Any]],
        *,
        version: int,
    ) -> None:
        """Account for this process's own write, which moved the version to ``version``."""
        self._counted.clear()
        self._avg_idf.clear()
        if self._table is None or self.version is None or version != self.version + 1:
            self.version = None  # not tracking (or missed a write): rebuild on next search
            return
        for sign, docs in ((-1, removed), (1, added)):
            for terms in docs:
                for field, words in terms.items():
                    counter = self._table.setdefault(field, Counter())
                    for word in words or ():
                        counter[word] += sign
                        if counter[word] <= 0:
                            del counter[word]
        self.version = version

    def invalidate(self) -> None:
        """Forget everything (after a failed write)."""
        self.version = None

    def df(self, field: str, term: str) -> int:
        """Live objects whose ``field`` holds ``term``."""
        if self._table is not None:
            return self._table.get(field, Counter()).get(term, 0)
        key = (field, term)
        if key not in self._counted:
            self._counted[key] = self._count_term(field, term)
        return self._counted[key]

    def average_idf(self, field: str, n_docs: int) -> float:
        """Mean ``rank_bm25`` idf over the field's vocabulary (its epsilon floor needs it)."""
        key = (field, n_docs)
        if key not in self._avg_idf:
            if self._table is not None:
                counts: Iterable[int] = self._table.get(field, Counter()).values()
            else:
                vocab: Counter[str] = Counter()
                for terms in self._scan_terms():
                    vocab.update(terms.get(field) or ())
                counts = vocab.values()
            idfs = [rank_bm25_idf(d, n_docs) for d in counts]
            self._avg_idf[key] = sum(idfs) / len(idfs) if idfs else 0.0
        return self._avg_idf[key]


def _and_filter(
    native: models.Filter | None, distinct: Sequence[str], fields: Sequence[str]
) -> models.Filter:
    """``native`` plus: every distinct term occurs in at least one of ``fields``."""
    must: list[Any] = [native] if native is not None else []
    for term in distinct:
        must.append(
            models.Filter(
                should=[
                    models.FieldCondition(
                        key=f"{TERMS_KEY}.{field}", match=models.MatchValue(value=term)
                    )
                    for field in fields
                ]
            )
        )
    return models.Filter(must=must)


def keyword_search(
    query: str,
    *,
    config: CollectionConfig,
    stopwords: Stopwords,
    properties: Sequence[tuple[str, float]],
    limit: int,
    native: models.Filter | None,
    operator: BM25OperatorSpec,
    run_query: Callable[..., Any],
    n_docs: int,
    total_len: Mapping[str, int],
    stats: TermStats,
) -> list[Hit]:
    """BM25 top-``limit``: an oversampled sparse-vector pool from Qdrant, rescored exactly.

    ``run_query(**kwargs)`` runs ``query_points`` on the collection; ``native`` is an exact
    native filter (or None).
    """
    fields = query_terms(query, properties, config, stopwords)
    if limit <= 0 or not fields:
        return []
    distinct = list(dict.fromkeys(t for fq in fields for t in fq.terms))
    if operator.operator == "and":
        native = _and_filter(native, distinct, [fq.field for fq in fields])
    response = run_query(
        query=sparse_query(fields),
        using=SPARSE_VECTOR,
        query_filter=native,
        limit=max(2 * limit, limit + 100),
        with_payload=[ID_KEY, BM25_KEY],
    )
    candidates = {
        str((p.payload or {}).get(ID_KEY)): (p.payload or {}).get(BM25_KEY) or {}
        for p in response.points
    }
    if not candidates or n_docs <= 0:
        return []
    scored = exact_scores(
        candidates,
        fields,
        n_docs=n_docs,
        avgdl={f: t / n_docs for f, t in total_len.items()},
        df=stats.df,
        inv=config.inverted_index,
        average_idf=lambda field: stats.average_idf(field, n_docs),
    )
    need = needed_terms(len(distinct), operator.operator, operator.minimum_match)
    ranked = sorted(
        (Hit(d.uuid, d.score) for d in scored if d.matched >= need),
        key=lambda h: (-h.score, h.uuid),
    )
    return ranked[:limit]
