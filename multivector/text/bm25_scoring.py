"""BM25 formulas of the two scoring modes, as pure functions over numbers and arrays.

``rank_bm25`` reproduces ``rank_bm25.BM25Okapi`` bit for bit, so every expression below keeps that
library's floating-point operation order (``math.log`` per term, a sequential left-to-right idf sum,
``(b * dl) / avgdl`` before adding ``1 - b``, ...). ``weaviate`` follows Weaviate's BM25F searcher:
``idf = ln(1 + (N - n + 0.5) / (n + 0.5))`` and ``tf / (tf + k1 * (1 - b + b * dl / avgdl))``,
without Lucene's ``(k1 + 1)`` factor.
"""

from __future__ import annotations

import math

import numpy as np

from multivector._types import F64Array, I64Array

__all__ = [
    "length_norm",
    "rank_bm25_average_idf",
    "rank_bm25_idf",
    "rank_bm25_tf_part",
    "weaviate_idf",
    "weaviate_tf_part",
]


def rank_bm25_idf(df: int, n_docs: int) -> float:
    """``rank_bm25`` raw idf, before its epsilon floor: ``log(N - n + 0.5) - log(n + 0.5)``."""
    return math.log(n_docs - df + 0.5) - math.log(df + 0.5)


def rank_bm25_average_idf(df_in_vocab_order: I64Array, n_docs: int) -> float:
    """Mean raw idf over the whole vocabulary, summed left to right in vocabulary order.

    ``df_in_vocab_order`` holds the document frequency (> 0) of every vocabulary term, in the order
    ``rank_bm25`` would see the terms first (document order, then position in the document).
    ``math.log`` runs once per distinct frequency; ``np.cumsum`` is a sequential sum, so the
    result equals ``rank_bm25``'s ``idf_sum / len(idf)`` exactly.
    """
    if df_in_vocab_order.size == 0:
        return 0.0
    distinct, inverse = np.unique(df_in_vocab_order, return_inverse=True)
    table = np.array([rank_bm25_idf(d, n_docs) for d in distinct.tolist()], dtype=np.float64)
    idf_sum = float(np.cumsum(table[inverse])[-1])
    return idf_sum / int(df_in_vocab_order.size)


def weaviate_idf(df: int, n_docs: int) -> float:
    """Weaviate / Lucene idf: ``ln(1 + (N - n + 0.5) / (n + 0.5))``, never negative."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def length_norm(doc_len: I64Array, *, k1: float, b: float, avgdl: float) -> F64Array:
    """``k1 * (1 - b + b * dl / avgdl)`` per document, in ``rank_bm25``'s operation order."""
    norm = k1 * (1 - b + b * doc_len / avgdl)
    return norm.astype(np.float64, copy=False)


def rank_bm25_tf_part(tf: F64Array, norm: F64Array, *, k1: float) -> F64Array:
    """``tf * (k1 + 1) / (tf + norm)``: multiply by the idf to get a term's score contribution."""
    part: F64Array = tf * (k1 + 1) / (tf + norm)
    return part


def weaviate_tf_part(tf: F64Array, norm: F64Array) -> F64Array:
    """``tf / (tf + norm)``: multiply by the idf to get a term's score contribution."""
    part: F64Array = tf / (tf + norm)
    return part
