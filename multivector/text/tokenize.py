"""BM25 tokenization, following Weaviate's tokenization options.

- ``WORD``: split on every character that is neither a Unicode letter nor a Unicode number
  (Go's ``unicode.IsLetter`` / ``unicode.IsNumber``, Python's ``str.isalnum``), then lowercase
  each piece; empty pieces are dropped. ``"Hello, World_2!"`` -> ``["hello", "world", "2"]``.
- ``LOWERCASE``: split on Unicode whitespace, lowercase.
- ``WHITESPACE``: split on Unicode whitespace, case kept.
- ``FIELD``: the whole value with surrounding whitespace trimmed, as one term (``[]`` if empty).
- ``WORD_STEM_EN``: ``WORD``, then each term reduced to its Snowball English stem
  (:mod:`multivector.text.stemming`; ``"Running languages"`` -> ``["run", "languag"]``).

Documents and queries are tokenized alike; stopwords apply to queries only (see
:mod:`multivector.text.stopwords`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from multivector.errors import ConfigError, InvalidObjectError
from multivector.schema.config import Tokenization

__all__ = ["WORD_RUN", "tokenize", "tokenize_value"]

# Runs of characters that are alphanumeric in Unicode's sense: ``\w`` minus the underscore.
WORD_RUN = re.compile(r"[^\W_]+")


def tokenize(text: str, tokenization: Tokenization) -> list[str]:
    """Split ``text`` into BM25 terms the way ``tokenization`` says (see the module docstring)."""
    if tokenization is Tokenization.WORD:
        return [piece.lower() for piece in WORD_RUN.findall(text)]
    if tokenization is Tokenization.LOWERCASE:
        return text.lower().split()
    if tokenization is Tokenization.WHITESPACE:
        return text.split()
    if tokenization is Tokenization.FIELD:
        stripped = text.strip()
        return [stripped] if stripped else []
    if tokenization is Tokenization.WORD_STEM_EN:
        from multivector.text.stemming import english_stems

        return english_stems([piece.lower() for piece in WORD_RUN.findall(text)])
    try:
        mode = Tokenization(tokenization)
    except ValueError:
        raise ConfigError(
            f"tokenization {tokenization!r} is unknown; use one of {[t.value for t in Tokenization]}"
        ) from None
    return tokenize(text, mode)


def tokenize_value(value: str | Sequence[str] | None, tokenization: Tokenization) -> list[str]:
    """Terms of a TEXT or TEXT_ARRAY property value.

    A ``str`` is tokenized as one text (never split into characters); a sequence of strings is
    tokenized element by element and the terms concatenated (``None`` elements are skipped);
    ``None`` gives ``[]``. Anything else raises :class:`~multivector.errors.InvalidObjectError`.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return tokenize(value, tokenization)
    if isinstance(value, (bytes, bytearray)) or not isinstance(value, Sequence):
        raise InvalidObjectError(
            f"text value {value!r} ({type(value).__name__}) cannot be tokenized; "
            "pass a str or a list of str"
        )
    terms: list[str] = []
    for element in value:
        if element is None:
            continue
        if not isinstance(element, str):
            raise InvalidObjectError(
                f"text array element {element!r} ({type(element).__name__}) is not a str; "
                "every element of a TEXT_ARRAY value must be a str"
            )
        terms.extend(tokenize(element, tokenization))
    return terms
