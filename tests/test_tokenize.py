"""Tokenization (Weaviate's four modes) and query stopwords."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multivector.config import Configure, InvertedIndexConfig, Tokenization
from multivector.errors import ConfigError, InvalidObjectError
from multivector.text.stopwords import ENGLISH_STOPWORDS, Stopwords
from multivector.text.tokenize import tokenize, tokenize_value

W = Tokenization.WORD


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("snake_case and kebab-case", ["snake", "case", "and", "kebab", "case"]),
        ("  leading   and trailing  ", ["leading", "and", "trailing"]),
        ("C3PO's 2nd-gen R2D2", ["c3po", "s", "2nd", "gen", "r2d2"]),
        ("Übergrößen café NAÏVE", ["übergrößen", "café", "naïve"]),
        ("東京 tower", ["東京", "tower"]),
        ("version 1.2.3", ["version", "1", "2", "3"]),
        ("e-mail: a@b.org", ["e", "mail", "a", "b", "org"]),
        ("½ Ⅻ", ["½", "ⅻ"]),  # Unicode numbers (No, Nl) are word characters
        ("...!?", []),
        ("", []),
    ],
)
def test_word_splits_on_non_alphanumerics_and_lowercases(text, expected):
    assert tokenize(text, W) == expected


def test_lowercase_splits_on_whitespace_only():
    assert tokenize("Hello, World!\tNew\nLine", Tokenization.LOWERCASE) == [
        "hello,",
        "world!",
        "new",
        "line",
    ]


def test_whitespace_keeps_case_and_punctuation():
    assert tokenize("  Hello, World!\u00a0X ", Tokenization.WHITESPACE) == ["Hello,", "World!", "X"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("  New York City \n", ["New York City"]), ("", []), ("   \t", []), ("x", ["x"])],
)
def test_field_is_the_trimmed_value(text, expected):
    assert tokenize(text, Tokenization.FIELD) == expected


def test_tokenization_given_as_its_string_value():
    assert tokenize("A-b", "word") == ["a", "b"]  # type: ignore[arg-type]


def test_unknown_tokenization_is_a_config_error():
    with pytest.raises(ConfigError, match="trigram"):
        tokenize("abc", "trigram")  # type: ignore[arg-type]


def _word_reference(text):
    """Character by character: maximal runs of str.isalnum() characters, each lowercased."""
    runs, current = [], ""
    for ch in text:
        if ch.isalnum():
            current += ch
        elif current:
            runs.append(current)
            current = ""
    if current:
        runs.append(current)
    return [run.lower() for run in runs]


@settings(deadline=None)
@given(st.text())
def test_word_matches_a_character_by_character_reference(text):
    terms = tokenize(text, W)
    assert terms == _word_reference(text)
    assert all(terms)


@settings(deadline=None)
@given(st.text(alphabet=st.characters(categories=["Ll", "Nd"]), min_size=1))
def test_a_single_alphanumeric_run_is_one_term(text):
    assert tokenize(text, W) == [text.lower()]


@settings(deadline=None)
@given(st.lists(st.text(alphabet="abc XYZ", max_size=8), max_size=5))
def test_whitespace_tokens_rejoin_to_the_normalised_text(parts):
    text = " ".join(parts)
    assert " ".join(tokenize(text, Tokenization.WHITESPACE)) == " ".join(text.split())


def test_tokenize_value_never_splits_a_str_into_characters():
    assert tokenize_value("hello world", W) == ["hello", "world"]
    assert tokenize_value("hello", Tokenization.FIELD) == ["hello"]


def test_tokenize_value_concatenates_text_array_elements():
    assert tokenize_value(["Red fox", "Blue-Fox", None, ""], W) == ["red", "fox", "blue", "fox"]
    assert tokenize_value(("a b", " c "), Tokenization.FIELD) == ["a b", "c"]
    assert tokenize_value([], W) == []


def test_tokenize_value_none_is_empty():
    assert tokenize_value(None, W) == []


@pytest.mark.parametrize("bad", [42, b"bytes", {"a": 1}, ["ok", 3]])
def test_tokenize_value_rejects_non_text(bad):
    with pytest.raises(InvalidObjectError, match="str"):
        tokenize_value(bad, W)


# ----------------------------------------------------------------------------- stopwords


def test_english_preset_is_weaviates_list():
    assert len(ENGLISH_STOPWORDS) == 33
    assert {"the", "a", "and", "of", "with", "will", "such", "into"} <= ENGLISH_STOPWORDS
    assert "you" not in ENGLISH_STOPWORDS


def test_default_config_uses_the_english_preset():
    stop = Stopwords.from_config(InvertedIndexConfig())
    assert "the" in stop
    assert "fox" not in stop
    assert stop.words == ENGLISH_STOPWORDS


def test_none_preset_has_no_stopwords():
    stop = Stopwords.from_config(Configure.inverted_index(stopwords_preset="none"))
    assert len(stop) == 0
    assert stop.filter_query(["the", "fox"]) == ["the", "fox"]


def test_additions_and_removals():
    cfg = Configure.inverted_index(stopwords_additions=["fox"], stopwords_removals=["the", "a"])
    stop = Stopwords.from_config(cfg)
    assert "fox" in stop
    assert "the" not in stop
    assert "a" not in stop
    assert "and" in stop


def test_removal_wins_over_addition():
    stop = Stopwords("none", additions=["x"], removals=["x"])
    assert "x" not in stop


def test_filter_query_keeps_order_and_repetitions():
    stop = Stopwords("en")
    terms = tokenize("The quick fox and THE lazy fox of the year", W)
    assert stop.filter_query(terms) == ["quick", "fox", "lazy", "fox", "year"]
    assert stop.filter_query(["the", "of"]) == []


def test_matching_is_exact():
    stop = Stopwords("en")
    assert "The" not in stop  # WORD tokenization lowercases before matching
    assert 3 not in stop


def test_unknown_preset_is_a_config_error():
    with pytest.raises(ConfigError, match="'fr'"):
        Stopwords("fr")


def test_non_str_addition_is_a_config_error():
    with pytest.raises(ConfigError, match="42"):
        Stopwords("en", additions=[42])  # type: ignore[list-item]
