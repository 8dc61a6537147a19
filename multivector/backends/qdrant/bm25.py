"""BM25 on Qdrant: sparse vectors with ``Modifier.IDF`` for candidates, exact scores client-side.

Documents are tokenized exactly as in the embedded store (:mod:`multivector.text.tokenize`).
Every searchable text field of an object contributes to one sparse vector (``SPARSE_VECTOR``)
whose indices hash ``(field, term)`` pairs, so a single Qdrant query sums the fields (a boost is
the query value) and Qdrant's IDF is per field. A document's value for a term is the BM25
tf-part ``tf / (tf + k1 * (1 - b + b * dl / avgdl))`` with the average length known when it was
written; Qdrant multiplies by its own ``ln(1 + (N - n + 0.5) / (n + 0.5))``.

Because the average length drifts as the collection grows, Qdrant's ranking is only used to draw
candidates (an oversampled pool). Their scores are then recomputed exactly, with the formulas of
:mod:`multivector.text.bm25_scoring`, from each candidate's payload (field lengths and term
counts), the live object count and per-term document frequencies counted by Qdrant over the
keyword-indexed ``terms.<field>`` payload. The result equals the embedded store's scores whenever
the true top-k lies inside the candidate pool (always when the pool holds every matching object).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from qdrant_client import models

from multivector.schema.config import CollectionConfig, InvertedIndexConfig, Property, Tokenization
from multivector.text.bm25_scoring import rank_bm25_idf, weaviate_idf
from multivector.text.stopwords import Stopwords, bm25_query_terms
from multivector.text.tokenize import tokenize_value

__all__ = [
    "SPARSE_VECTOR",
    "DocTerms",
    "FieldQuery",
    "bm25_fields",
    "doc_terms",
    "exact_scores",
    "query_terms",
    "sparse_query",
    "sparse_vector",
]

#: Name of the sparse vector (a hyphen: no vector space name can contain one).
SPARSE_VECTOR = "mv-bm25"
_RANK_BM25_EPSILON = 0.25


def term_index(field: str, term: str) -> int:
    """The sparse index of ``term`` in ``field`` (a 32-bit hash; collisions only blur candidates)."""
    digest = hashlib.blake2b(f"{field}\x00{term}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def bm25_fields(config: CollectionConfig) -> list[Property]:
    """The properties BM25 indexes: searchable TEXT and TEXT_ARRAY."""
    return [p for p in config.properties if p.data_type.is_text and p.index_searchable]


def _tok(prop: Property) -> Tokenization:
    return prop.tokenization or Tokenization.WORD


@dataclass(frozen=True)
class DocTerms:
    """One object's term counts and length per BM25 field."""

    counts: dict[str, Counter[str]]
    lengths: dict[str, int]


def doc_terms(properties: Mapping[str, object], config: CollectionConfig) -> DocTerms:
    """Tokenize an object's text fields the way the embedded BM25 index does."""
    counts: dict[str, Counter[str]] = {}
    lengths: dict[str, int] = {}
    for prop in bm25_fields(config):
        tokens = tokenize_value(properties.get(prop.name), _tok(prop))  # type: ignore[arg-type]
        counts[prop.name] = Counter(tokens)
        lengths[prop.name] = len(tokens)
    return DocTerms(counts, lengths)


def _tf_part(tf: float, dl: float, *, avgdl: float, inv: InvertedIndexConfig) -> float:
    norm = inv.k1 * (1 - inv.bm25_b + inv.bm25_b * dl / avgdl) if avgdl > 0 else inv.k1
    if inv.scoring == "rank_bm25":
        return tf * (inv.k1 + 1) / (tf + norm)
    return tf / (tf + norm)


def sparse_vector(
    terms: DocTerms, *, avgdl: Mapping[str, float], inv: InvertedIndexConfig
) -> models.SparseVector | None:
    """The document's sparse vector (None when it has no terms)."""
    values: dict[int, float] = {}
    for field, counts in terms.counts.items():
        dl = terms.lengths[field]
        for term, tf in counts.items():
            idx = term_index(field, term)
            part = _tf_part(tf, dl, avgdl=avgdl.get(field, 0.0) or float(dl), inv=inv)
            values[idx] = values.get(idx, 0.0) + part
    if not values:
        return None
    indices = sorted(values)
    return models.SparseVector(indices=indices, values=[values[i] for i in indices])


@dataclass(frozen=True)
class FieldQuery:
    """The query terms of one field (stopwords removed, repetitions kept) and its boost."""

    field: str
    boost: float
    terms: list[str]


def query_terms(
    query: str,
    properties: Sequence[tuple[str, float]],
    config: CollectionConfig,
    stopwords: Stopwords,
) -> list[FieldQuery]:
    """Per-field query terms, as the embedded store derives them."""
    indexed = {p.name: p for p in bm25_fields(config)}
    out = []
    for name, boost in properties:
        prop = indexed.get(name)
        if prop is None:
            continue
        terms = bm25_query_terms(query, prop.tokenization, stopwords)
        if terms:
            out.append(FieldQuery(name, boost, terms))
    return out


def sparse_query(fields: Sequence[FieldQuery]) -> models.SparseVector:
    """The query sparse vector: per (field, term) the boost times the term's repetitions."""
    values: dict[int, float] = {}
    for fq in fields:
        for term, count in Counter(fq.terms).items():
            idx = term_index(fq.field, term)
            values[idx] = values.get(idx, 0.0) + fq.boost * count
    indices = sorted(values)
    return models.SparseVector(indices=indices, values=[values[i] for i in indices])


@dataclass(frozen=True)
class ScoredDoc:
    """A candidate's exact BM25 score and how many distinct query terms it holds."""

    uuid: str
    score: float
    matched: int


def exact_scores(
    candidates: Mapping[str, Mapping[str, object]],
    fields: Sequence[FieldQuery],
    *,
    n_docs: int,
    avgdl: Mapping[str, float],
    df: Callable[[str, str], int],
    inv: InvertedIndexConfig,
    average_idf: Callable[[str], float],
) -> list[ScoredDoc]:
    """Exact BM25 of each candidate (uuid -> its ``bm`` payload), in the embedded store's formulas.

    ``df(field, term)`` counts live objects holding ``term``; ``average_idf(field)`` is only asked
    in ``rank_bm25`` mode when a term's idf is negative (its epsilon floor).
    """
    order = list(dict.fromkeys(t for fq in fields for t in fq.terms))
    n_terms = min(len(order), 63)
    out = []
    idf_cache: dict[tuple[str, str], float] = {}

    def idf(field: str, term: str) -> float:
        key = (field, term)
        if key not in idf_cache:
            n = df(field, term)
            if inv.scoring == "rank_bm25":
                value = rank_bm25_idf(n, n_docs)
                if value < 0:
                    value = _RANK_BM25_EPSILON * average_idf(field)
            else:
                value = weaviate_idf(n, n_docs)
            idf_cache[key] = value
        return idf_cache[key]

    for uuid, bm in candidates.items():
        total = 0.0
        present: set[str] = set()
        for fq in fields:
            entry = bm.get(fq.field)
            if not isinstance(entry, Mapping):
                continue
            tfs = entry.get("tf") or {}
            dl = float(entry.get("n") or 0)
            field_score = 0.0
            seq = fq.terms if inv.scoring == "rank_bm25" else list(Counter(fq.terms).items())
            for item in seq:
                term, count = (item, 1) if isinstance(item, str) else item
                tf = tfs.get(term) if isinstance(tfs, Mapping) else None
                if not tf:
                    continue
                present.add(term)
                part = _tf_part(float(tf), dl, avgdl=avgdl.get(fq.field, 0.0), inv=inv)
                if inv.scoring == "rank_bm25":
                    field_score += idf(fq.field, term) * part
                else:
                    field_score += part * (idf(fq.field, term) * count)
            total += fq.boost * field_score
        if present:
            matched = min(len(present), n_terms)
            out.append(ScoredDoc(uuid, total, matched))
    return out


def needed_terms(n_distinct: int, operator: str, minimum_match: int) -> int:
    """How many distinct query terms a document must hold (``and`` or ``or`` with a minimum)."""
    n_terms = min(n_distinct, 63)
    return n_terms if operator == "and" else min(minimum_match, n_terms)
