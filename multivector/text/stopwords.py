"""Query stopwords, configured like Weaviate's ``invertedIndexConfig.stopwords``.

The ``"en"`` preset is the list Weaviate ships (``adapters/repos/db/inverted/stopwords``), which is
Lucene's classic English stopword set; ``"none"`` starts empty. ``additions`` are added to the
preset, ``removals`` taken out of it. Stopwords are dropped from BM25 *queries* only: documents keep
every term, so document lengths and frequencies do not depend on the stopword configuration.
Matching is exact, as in Weaviate (WORD tokenization lowercases every term already).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from multivector.errors import ConfigError
from multivector.schema.config import InvertedIndexConfig, Tokenization

__all__ = ["ENGLISH_STOPWORDS", "PRESETS", "Stopwords", "bm25_query_terms"]

#: Weaviate's ``en`` preset (Lucene's English stopword set), 33 words.
ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for",
        "if", "in", "into", "is", "it", "no", "not", "of", "on", "or", "such",
        "that", "the", "their", "then", "there", "these", "they", "this", "to",
        "was", "will", "with",
    }
)  # fmt: skip

#: Stopword presets by name.
PRESETS: dict[str, frozenset[str]] = {"en": ENGLISH_STOPWORDS, "none": frozenset()}


class Stopwords:
    """A set of query stopwords: a preset plus additions minus removals."""

    __slots__ = ("_words",)

    def __init__(
        self,
        preset: str = "en",
        *,
        additions: Iterable[str] = (),
        removals: Iterable[str] = (),
    ) -> None:
        try:
            base = PRESETS[preset]
        except KeyError:
            raise ConfigError(
                f"stopwords preset {preset!r} is unknown; use one of {sorted(PRESETS)}"
            ) from None
        for word in (*additions, *removals):
            if not isinstance(word, str):
                raise ConfigError(
                    f"stopword {word!r} is not a str; stopword additions and removals are strings"
                )
        self._words = frozenset((base | frozenset(additions)) - frozenset(removals))

    @classmethod
    def from_config(cls, cfg: InvertedIndexConfig) -> Stopwords:
        """The stopwords an :class:`~multivector.schema.config.InvertedIndexConfig` describes."""
        return cls(
            cfg.stopwords_preset,
            additions=cfg.stopwords_additions,
            removals=cfg.stopwords_removals,
        )

    @property
    def words(self) -> frozenset[str]:
        """Every stopword in force."""
        return self._words

    def __contains__(self, term: object) -> bool:
        return term in self._words

    def __len__(self) -> int:
        return len(self._words)

    def __repr__(self) -> str:
        return f"Stopwords({len(self._words)} words)"

    def filter_query(self, terms: Sequence[str]) -> list[str]:
        """``terms`` without stopwords, order and repetitions kept (for queries, never documents)."""
        words = self._words
        return [t for t in terms if t not in words]


def bm25_query_terms(
    query: str, tokenization: Tokenization | None, stopwords: Stopwords
) -> list[str]:
    """The BM25 terms of a query for one property, as Weaviate derives them.

    Stopwords are removed only for ``word`` tokenization (Weaviate's
    ``removeStopwordsFromQueryTerms``) and ``word_stem_en`` (before stemming: the stopword list
    holds whole words); ``lowercase`` / ``whitespace`` / ``field`` keep every term.
    """
    from multivector.text.tokenize import tokenize

    tok = tokenization or Tokenization.WORD
    if tok is Tokenization.WORD_STEM_EN:
        from multivector.text.stemming import english_stems

        return english_stems(stopwords.filter_query(tokenize(query, Tokenization.WORD)))
    terms = tokenize(query, tok)
    return stopwords.filter_query(terms) if tok.drops_stopwords else terms
