"""Cheap features of a hybrid query, the same on every backend (no index statistics needed).

``adaptive`` fusion (:func:`multivector.kernels.fusion.adaptive_alpha`) weighs its legs by them:

- ``n_terms``: the query's BM25 terms under ``word`` tokenization with the collection's
  stopwords removed (repetitions counted), e.g. 2 for "Luigi Galvani", 11 for a sentence;
- ``capitalised``: the share of the query's words (runs of letters and digits) that start with
  an upper-case letter (0.0 for a query without words).
"""

from __future__ import annotations

from dataclasses import dataclass

from multivector.schema.config import Tokenization
from multivector.text.stopwords import Stopwords, bm25_query_terms
from multivector.text.tokenize import WORD_RUN

__all__ = ["QueryFeatures", "query_features"]


@dataclass(frozen=True)
class QueryFeatures:
    """What ``adaptive`` fusion knows of a query."""

    n_terms: int
    capitalised: float


def query_features(text: str, stopwords: Stopwords) -> QueryFeatures:
    """The features of query ``text`` (see the module docstring)."""
    words = WORD_RUN.findall(text)
    capitalised = sum(1 for w in words if w[0].isupper()) / len(words) if words else 0.0
    n_terms = len(bm25_query_terms(text, Tokenization.WORD, stopwords))
    return QueryFeatures(n_terms=n_terms, capitalised=capitalised)
