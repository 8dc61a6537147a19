"""BM25 over several text fields of the embedded store: per-field scores summed with boosts, and
Weaviate's term operator (``and`` / ``or`` with ``minimum_match``) over the distinct query terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from multivector._types import BoolArray, I64Array
from multivector.backends.embedded.bm25 import BM25Index
from multivector.kernels import topk
from multivector.schema.config import CollectionConfig
from multivector.schema.query import BM25OperatorSpec
from multivector.text.stopwords import Stopwords, bm25_query_terms

__all__ = ["field_bm25_topk"]


def field_bm25_topk(
    indexes: Mapping[str, BM25Index],
    config: CollectionConfig,
    stopwords: Stopwords,
    query: str,
    *,
    properties: Sequence[tuple[str, float]],
    n_slots: int,
    limit: int,
    mask: BoolArray | None,
    operator: BM25OperatorSpec,
) -> list[tuple[int, float]]:
    """The best ``limit`` (slot, score) pairs (a few more, for tie handling), best first.

    Each ``(property, boost)`` is scored by its own index and the scores are summed; a document
    must hold all distinct query terms (``and``) or at least ``minimum_match`` of them (``or``),
    counted over every queried field.
    """
    scores = np.zeros(n_slots, dtype=np.float64)
    matched = np.zeros(n_slots, dtype=np.int64)
    touched = np.zeros(n_slots, dtype=np.bool_)
    terms_global: dict[str, int] = {}
    for name, boost in properties:
        index = indexes.get(name)
        prop = config.property(name)
        if index is None or prop is None:
            continue
        terms = bm25_query_terms(query, prop.tokenization, stopwords)
        if not terms:
            continue
        local = list(dict.fromkeys(terms))
        bit_map = [terms_global.setdefault(t, len(terms_global)) for t in local]
        hits = index.search(terms, mask=mask)
        if len(hits.slots) == 0:
            continue
        scores[hits.slots] += boost * hits.scores
        touched[hits.slots] = True
        matched[hits.slots] |= _remap_bits(hits.matched, bit_map)
    if not terms_global:
        return []
    n_terms = min(len(terms_global), 63)
    counts = _popcount(matched)
    need = n_terms if operator.operator == "and" else min(operator.minimum_match, n_terms)
    eligible = touched & (counts >= need)
    candidate_scores = np.where(eligible, scores, -np.inf).astype(np.float32)
    best = topk(candidate_scores, limit + 16)
    return [(s, float(scores[s])) for s in best.indices.tolist() if eligible[s]]


def _remap_bits(local_bits: I64Array, bit_map: Sequence[int]) -> I64Array:
    if list(bit_map) == list(range(len(bit_map))):
        return local_bits
    out = np.zeros_like(local_bits)
    for local, glob in enumerate(bit_map[:63]):
        out |= ((local_bits >> local) & 1) << min(glob, 62)
    return out


def _popcount(bits: I64Array) -> I64Array:
    counts = np.zeros(bits.shape, dtype=np.int64)
    work = bits.copy()
    while work.any():
        counts += work & 1
        work >>= 1
    return counts
