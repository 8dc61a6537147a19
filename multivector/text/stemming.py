"""English stemming for BM25 (Snowball's English algorithm, "Porter2"), from ``snowballstemmer``.

``Tokenization.WORD_STEM_EN`` splits text as ``WORD`` does (letters and digits, lowercased) and then
reduces each term to its Snowball English stem, so "languages", "language" and "languaged" all
index as ``languag``. Documents and queries go through the same steps; query stopwords are removed
*before* stemming (the stopword list holds whole words). The stemmer comes from the small,
dependency-free ``snowballstemmer`` package (extra ``[stemming]``), loaded on first use; stems are
cached per term.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from multivector.errors import OptionalDependencyError

__all__ = ["STEMMING_EXTRA", "english_stems", "require_stemmer"]

#: The extra that installs the stemmer (``pip install 'multivector[stemming]'``).
STEMMING_EXTRA = "stemming"
_PACKAGE = "snowballstemmer"
_lock = threading.Lock()
_stem_one: Callable[[str], str] | None = None


def require_stemmer() -> None:
    """Raise :class:`~multivector.errors.OptionalDependencyError` when ``snowballstemmer`` is
    missing (checked without importing it).
    """
    if importlib.util.find_spec(_PACKAGE) is None:
        raise OptionalDependencyError(_PACKAGE, STEMMING_EXTRA)


def _stemmer() -> Callable[[str], str]:
    global _stem_one
    with _lock:
        if _stem_one is None:
            require_stemmer()
            import snowballstemmer

            algorithm: Any = snowballstemmer.stemmer("english")
            lock = threading.Lock()  # a Snowball stemmer object keeps state between calls

            @lru_cache(maxsize=65536)
            def stem(term: str) -> str:
                with lock:
                    return str(algorithm.stemWord(term))

            _stem_one = stem
        return _stem_one


def english_stems(terms: Sequence[str]) -> list[str]:
    """The Snowball English stem of each (lowercase) term, in order."""
    stem = _stemmer()
    return [stem(t) for t in terms]
