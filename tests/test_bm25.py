"""The incremental BM25 index against rank_bm25 (bit for bit) and Weaviate's formula."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from multivector.backends.embedded.bm25 import BM25Index
from multivector.config import Tokenization
from multivector.errors import ConfigError
from multivector.text.tokenize import tokenize

FIXTURE = Path(__file__).parent / "fixtures" / "wiki_passages.jsonl"


@pytest.fixture(scope="module")
def wiki_docs():
    with FIXTURE.open(encoding="utf-8") as fh:
        return [tokenize(json.loads(line)["text"], Tokenization.WORD) for line in fh]


def rank_index(docs, slots=None):
    index = BM25Index(k1=1.5, b=0.75, scoring="rank_bm25")
    for slot, doc in zip(slots if slots is not None else range(len(docs)), docs):
        index.add(slot, doc)
    return index


def weaviate_index(docs, k1=1.2, b=0.75):
    index = BM25Index(k1=k1, b=b, scoring="weaviate")
    for slot, doc in enumerate(docs):
        index.add(slot, doc)
    return index


def weaviate_reference(docs, query, k1=1.2, b=0.75):
    """Weaviate's BM25 written from the formula: every query-term occurrence counts."""
    n_docs = len(docs)
    avgdl = sum(len(d) for d in docs) / n_docs
    scores = np.zeros(n_docs)
    for i, doc in enumerate(docs):
        for term in query:
            tf = doc.count(term)
            if tf == 0:
                continue
            df = sum(1 for d in docs if term in d)
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            scores[i] += idf * tf / (tf + k1 * (1 - b + b * len(doc) / avgdl))
    return scores


def corpus_queries(docs, n, seed):
    rng = random.Random(seed)
    queries = []
    for _ in range(n):
        doc = rng.choice([d for d in docs if d])
        query = [rng.choice(doc) for _ in range(rng.randint(1, 8))]
        if rng.random() < 0.3:
            query.append("qqxyzzy")  # out of vocabulary
        if rng.random() < 0.3:
            query.append(query[0])  # repeated term
        queries.append(query)
    return queries


# ------------------------------------------------------------------------ rank_bm25 mode


def test_real_text_scores_are_bit_identical_to_rank_bm25(wiki_docs):
    reference = BM25Okapi(wiki_docs)
    index = rank_index(wiki_docs)
    floor = reference.epsilon * reference.average_idf
    negative = [t for t in ("the", "of", "and", "a", "in") if reference.idf[t] == floor]
    assert negative, "the fixture should hold terms with a floored (negative) idf"
    queries = [*corpus_queries(wiki_docs, 200, seed=1), negative, ["the", "the", "qqxyzzy"]]
    for query in queries:
        expected = reference.get_scores(query)
        assert np.array_equal(index.dense_scores(query, len(wiki_docs)), expected), query


def test_real_text_search_agrees_with_dense_scores(wiki_docs):
    index = rank_index(wiki_docs)
    for query in corpus_queries(wiki_docs, 30, seed=2):
        hits = index.search(query)
        dense = index.dense_scores(query, len(wiki_docs))
        containing = [i for i, d in enumerate(wiki_docs) if set(query) & set(d)]
        assert hits.slots.tolist() == containing
        assert np.array_equal(hits.scores, dense[hits.slots])


tiny_docs = st.lists(st.lists(st.sampled_from("abcde"), max_size=6), min_size=1, max_size=8).filter(
    lambda docs: any(docs)
)
tiny_query = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "zz"]), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(tiny_docs, tiny_query)
def test_tiny_corpora_bit_identical_to_rank_bm25(docs, query):
    expected = BM25Okapi(docs).get_scores(query)
    assert np.array_equal(rank_index(docs).dense_scores(query, len(docs)), expected)


@pytest.mark.parametrize(
    ("docs", "query"),
    [
        ([["a", "b"], ["a"], ["c"], ["c", "c"]], ["a"]),  # "a" in exactly half: idf 0
        ([["a", "b"], ["a"], ["a", "c"], ["d"]], ["a", "b"]),  # "a" in 3 of 4: floored idf
        ([["a"], ["a"], ["a"]], ["a"]),  # every idf negative: negative epsilon floor
        ([["a", "b"], [], ["b", "b", "c"]], ["b", "b", "zz"]),  # empty doc, repeats, OOV
    ],
)
def test_idf_edge_cases_match_rank_bm25(docs, query):
    expected = BM25Okapi(docs).get_scores(query)
    index = rank_index(docs)
    assert np.array_equal(index.dense_scores(query, len(docs)), expected)
    hits = index.search(query)
    assert np.array_equal(hits.scores, expected[hits.slots])


def test_repeated_query_terms_count_repeatedly_in_rank_bm25_mode():
    docs = [["a", "b"], ["b", "c"], ["c"], ["d"], ["e"]]
    index = rank_index(docs)
    once = index.dense_scores(["a"], 5)
    assert once[0] > 0
    assert np.array_equal(index.dense_scores(["a", "a"], 5), once + once)


def test_empty_documents_count_in_n_and_average_length():
    docs = [["a", "b"], [], [], ["b"]]
    index = rank_index(docs)
    assert len(index) == 4
    assert index.average_length == 0.75
    assert np.array_equal(index.dense_scores(["a"], 4), BM25Okapi(docs).get_scores(["a"]))


def test_scores_land_on_their_slots_with_gaps(wiki_docs):
    docs = wiki_docs[:40]
    slots = [3 * i + 1 for i in range(40)]
    index = rank_index(docs, slots)
    query = ["history", "the", "world"]
    dense = index.dense_scores(query, slots[-1] + 1)
    assert np.array_equal(dense[slots], BM25Okapi(docs).get_scores(query))
    others = np.setdiff1d(np.arange(dense.size), slots)
    assert not dense[others].any()


ops = st.lists(
    st.tuples(st.booleans(), st.lists(st.sampled_from("abcdef"), max_size=5)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(ops, tiny_query, st.randoms(use_true_random=False))
def test_interleaved_adds_and_removes_match_a_fresh_index(operations, query, rng):
    index = BM25Index(k1=1.5, b=0.75, scoring="rank_bm25")
    live: dict[int, list[str]] = {}
    next_slot = 0
    for is_add, doc in operations:
        if is_add or not live:
            index.add(next_slot, doc)
            live[next_slot] = doc
            next_slot += 1
        else:
            slot = rng.choice(sorted(live))
            index.remove(slot)
            del live[slot]
        index.dense_scores(query, next_slot)  # exercise the caches between mutations
    assert len(index) == len(live)
    slots = sorted(live)
    fresh = rank_index([live[s] for s in slots], slots)
    got = index.dense_scores(query, next_slot)
    np.testing.assert_allclose(got, fresh.dense_scores(query, next_slot), rtol=0, atol=1e-12)
    docs = [live[s] for s in slots]
    if any(docs):
        np.testing.assert_allclose(
            got[slots], BM25Okapi(docs).get_scores(query), rtol=0, atol=1e-12
        )


def test_removing_the_last_document_of_a_term_drops_it():
    index = rank_index([["a", "b"], ["b"], ["c"]])
    index.remove(0)
    assert index.document_frequency("a") == 0
    assert len(index.search(["a"]).slots) == 0
    assert np.array_equal(
        index.dense_scores(["b", "c"], 3)[1:], BM25Okapi([["b"], ["c"]]).get_scores(["b", "c"])
    )


def test_remove_unknown_slot_is_a_noop():
    index = rank_index([["a"], ["b"]])
    before = index.dense_scores(["a", "b"], 2)
    index.remove(7)
    index.remove(0)
    index.remove(0)
    assert len(index) == 1
    assert before[1] != index.dense_scores(["a", "b"], 2)[1]


def test_adding_an_indexed_slot_replaces_it():
    index = rank_index([["a"], ["b"], ["c"]])
    index.add(1, ["a", "a"])
    assert len(index) == 3
    assert index.document_frequency("b") == 0
    expected = BM25Okapi([["a"], ["a", "a"], ["c"]]).get_scores(["a", "c"])
    assert np.array_equal(index.dense_scores(["a", "c"], 3), expected)


def test_out_of_order_adds_keep_postings_sorted():
    docs = {5: ["x", "y"], 2: ["x"], 9: ["y", "z"], 0: ["x", "z"]}
    index = BM25Index(k1=1.5, b=0.75, scoring="rank_bm25")
    for slot, doc in docs.items():
        index.add(slot, doc)
    slots = sorted(docs)
    expected = BM25Okapi([docs[s] for s in slots]).get_scores(["x", "z"])
    assert np.array_equal(index.dense_scores(["x", "z"], 10)[slots], expected)
    assert index.search(["x"]).slots.tolist() == [0, 2, 5]


# --------------------------------------------------------------------------------- search


def test_matched_bitmask_follows_distinct_terms_in_first_occurrence_order():
    index = weaviate_index([["a", "b"], ["b"], ["c", "a"], ["d"]])
    hits = index.search(["b", "a", "b", "zz", "c"])
    by_slot = dict(zip(hits.slots.tolist(), hits.matched.tolist()))
    assert by_slot == {0: 0b11, 1: 0b01, 2: 0b1010}


def test_terms_past_62_share_bit_62():
    terms = [f"t{i}" for i in range(70)]
    index = weaviate_index([terms[60:], ["t1"]])
    hits = index.search(terms)
    assert hits.matched.tolist() == [(1 << 60) | (1 << 61) | (1 << 62), 1 << 1]


def test_mask_filters_and_a_short_mask_means_false():
    index = weaviate_index([["a"], ["a"], ["a"], ["a", "b"]])
    assert index.search(["a"], mask=np.array([True, False, True, True])).slots.tolist() == [0, 2, 3]
    assert index.search(["a"], mask=np.array([False, True])).slots.tolist() == [1]
    assert index.search(["a"], mask=np.zeros(0, dtype=bool)).slots.tolist() == []
    unmasked = index.search(["a", "b"])
    masked = index.search(["a", "b"], mask=np.array([True, False, False, True]))
    assert np.array_equal(masked.scores, unmasked.scores[[0, 3]])


def test_no_match_and_empty_index():
    empty = BM25Index(k1=1.2, b=0.75, scoring="weaviate")
    assert len(empty.search(["a"]).slots) == 0
    assert np.array_equal(empty.dense_scores(["a"], 3), np.zeros(3))
    index = weaviate_index([["a"], []])
    hits = index.search(["zz"])
    assert hits.slots.dtype == np.int64 and hits.matched.dtype == np.int64
    assert len(hits.slots) == len(hits.scores) == len(hits.matched) == 0
    assert len(index.search([]).slots) == 0


def test_only_empty_documents():
    index = rank_index([[], []])
    assert len(index) == 2
    assert np.array_equal(index.dense_scores(["a"], 2), np.zeros(2))


def test_dense_scores_pads_and_truncates():
    index = weaviate_index([["a"], ["b"], ["a", "a"]])
    full = index.dense_scores(["a"], 3)
    assert np.array_equal(index.dense_scores(["a"], 5), np.r_[full, 0.0, 0.0])
    assert np.array_equal(index.dense_scores(["a"], 1), full[:1])
    with pytest.raises(ConfigError, match="n_slots"):
        index.dense_scores(["a"], -1)


# ------------------------------------------------------------------------- weaviate mode


def test_weaviate_mode_matches_the_formula_on_real_text(wiki_docs):
    docs = wiki_docs[:120]
    index = weaviate_index(docs)
    for query in corpus_queries(docs, 25, seed=3):
        expected = weaviate_reference(docs, query)
        np.testing.assert_allclose(index.dense_scores(query, len(docs)), expected, rtol=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcde"), max_size=6), min_size=1, max_size=8),
    tiny_query,
    st.sampled_from([(1.2, 0.75), (0.9, 0.4), (2.0, 1.0), (1.2, 0.0)]),
)
def test_weaviate_mode_matches_the_formula_on_tiny_corpora(docs, query, params):
    k1, b = params
    expected = weaviate_reference(docs, query, k1=k1, b=b)
    got = weaviate_index(docs, k1=k1, b=b).dense_scores(query, len(docs))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_weaviate_mode_has_no_k1_plus_one_factor_and_never_negative():
    docs = [["a"], ["a"], ["a"], ["b"]]  # "a" in 3 of 4 documents: Lucene idf stays positive
    scores = weaviate_index(docs).dense_scores(["a"], 4)
    idf = math.log(1 + (4 - 3 + 0.5) / (3 + 0.5))
    assert scores[0] == pytest.approx(idf * 1 / (1 + 1.2 * (1 - 0.75 + 0.75 * 1 / 1.0)))
    assert (scores >= 0).all()


def test_weaviate_mode_repeated_terms_count_repeatedly():
    index = weaviate_index([["fox", "den"], ["hen"], ["cat"]])
    once = index.dense_scores(["fox"], 3)
    np.testing.assert_allclose(index.dense_scores(["fox", "fox"], 3), 2 * once, rtol=1e-15)


# ---------------------------------------------------------------------------------- remap


@pytest.mark.parametrize("scoring", ["rank_bm25", "weaviate"])
def test_remap_after_compaction_changes_no_score(wiki_docs, scoring):
    index = BM25Index(k1=1.5, b=0.75, scoring=scoring)
    for slot, doc in enumerate(wiki_docs[:60]):
        index.add(slot, doc)
    for slot in range(0, 60, 3):
        index.remove(slot)
    queries = corpus_queries(wiki_docs[:60], 10, seed=4)
    before = [index.dense_scores(q, 60) for q in queries]
    old_to_new = np.full(60, -1, dtype=np.int64)
    survivors = [s for s in range(60) if s % 3]
    old_to_new[survivors] = np.arange(len(survivors))
    index.remap(old_to_new)
    assert len(index) == len(survivors)
    for query, old in zip(queries, before):
        assert np.array_equal(index.dense_scores(query, len(survivors)), old[survivors])
    index.add(len(survivors), ["history"])  # adding after a remap keeps working
    assert index.search(["history"]).slots[-1] == len(survivors)


def test_remap_dropping_a_live_slot_removes_it():
    index = rank_index([["a"], ["b"], ["a", "b"]])
    index.remap(np.array([1, -1, 0]))
    assert len(index) == 2
    expected = BM25Okapi([["a", "b"], ["a"]]).get_scores(["a", "b"])
    assert np.array_equal(index.dense_scores(["a", "b"], 2), expected)


def test_remap_rejects_a_short_or_colliding_mapping():
    index = rank_index([["a"], ["b"], ["c"]])
    with pytest.raises(ConfigError, match="has 2 entries but slot 2"):
        index.remap(np.array([0, 1]))
    with pytest.raises(ConfigError, match="same new slot"):
        index.remap(np.array([0, 0, 1]))
    before = index.dense_scores(["a", "b", "c"], 3)
    with pytest.raises(ConfigError, match="same new slot"):
        index.remap(np.array([0, -1, 0]))  # invalid: nothing is removed
    assert len(index) == 3
    assert np.array_equal(index.dense_scores(["a", "b", "c"], 3), before)


def test_concurrent_searches_agree_with_a_serial_run(wiki_docs):
    from concurrent.futures import ThreadPoolExecutor

    index = rank_index(wiki_docs)
    queries = corpus_queries(wiki_docs, 40, seed=5)
    index.add(len(wiki_docs), ["history"])  # leave pending postings and empty caches
    fresh = rank_index([*wiki_docs, ["history"]])
    serial = [fresh.dense_scores(q, len(wiki_docs) + 1) for q in queries]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda q: index.dense_scores(q, len(wiki_docs) + 1), queries))
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel))


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k1": 1.2, "b": 0.75, "scoring": "lucene"}, "lucene"),
        ({"k1": -1.0, "b": 0.75, "scoring": "weaviate"}, "k1"),
        ({"k1": 1.2, "b": 1.5, "scoring": "weaviate"}, "b must"),
    ],
)
def test_bad_parameters_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BM25Index(**kwargs)


def test_bad_slots_and_str_tokens_are_config_errors():
    index = weaviate_index([])
    with pytest.raises(ConfigError, match="-1"):
        index.add(-1, ["a"])
    with pytest.raises(ConfigError, match="tokenize it first"):
        index.add(0, "a whole sentence")
    with pytest.raises(ConfigError, match="list of terms"):
        index.search("a sentence")


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.5), (0.5, 0.25), (2.0, 1.0)])
def test_rank_bm25_mode_with_other_parameters(wiki_docs, k1, b):
    reference = BM25Okapi(wiki_docs, k1=k1, b=b)
    index = BM25Index(k1=k1, b=b, scoring="rank_bm25")
    for slot, doc in enumerate(wiki_docs):
        index.add(slot, doc)
    for query in corpus_queries(wiki_docs, 20, seed=6):
        assert np.array_equal(
            index.dense_scores(query, len(wiki_docs)), reference.get_scores(query)
        )


def test_remap_forgets_terms_of_dropped_documents():
    index = rank_index([["gone", "x"], ["x", "y"], ["y", "z"]])
    index.remove(0)
    index.remap(np.array([-1, 0, 1]))
    assert index.document_frequency("gone") == 0
    assert index.document_frequency("x") == 1
    index.add(2, ["gone", "z"])  # a forgotten term can come back
    expected = BM25Okapi([["x", "y"], ["y", "z"], ["gone", "z"]]).get_scores(["gone", "z", "x"])
    assert np.array_equal(index.dense_scores(["gone", "z", "x"], 3), expected)
    index.remove(1)
    index.remap(np.array([0, -1, 1]))
    expected = BM25Okapi([["x", "y"], ["gone", "z"]]).get_scores(["gone", "z", "y"])
    assert np.array_equal(index.dense_scores(["gone", "z", "y"], 2), expected)


def test_removed_slot_can_be_added_again():
    index = rank_index([["a", "b"], ["b", "c"], ["c", "d"]])
    index.remove(1)
    index.add(1, ["c", "e"])  # "b" must lose slot 1, "c" keeps one entry for it
    expected = BM25Okapi([["a", "b"], ["c", "e"], ["c", "d"]]).get_scores(["b", "c", "e"])
    assert np.array_equal(index.dense_scores(["b", "c", "e"], 3), expected)
    assert index.search(["b"]).slots.tolist() == [0]
    assert index.search(["c"]).slots.tolist() == [1, 2]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 6), st.lists(st.sampled_from("abcd"), max_size=4)),
        min_size=1,
        max_size=25,
    ),
    tiny_query,
)
def test_any_order_of_adds_removes_and_replacements(operations, query):
    """Slots reused in any order (replace, remove then re-add) end like a fresh index."""
    index = BM25Index(k1=1.2, b=0.75, scoring="weaviate")
    live: dict[int, list[str]] = {}
    for is_remove, slot, doc in operations:
        if is_remove:
            index.remove(slot)  # unknown slots are a no-op
            live.pop(slot, None)
        else:
            index.add(slot, doc)
            live[slot] = doc
        index.search(query)
    slots = sorted(live)
    fresh = BM25Index(k1=1.2, b=0.75, scoring="weaviate")
    for slot in slots:
        fresh.add(slot, live[slot])
    np.testing.assert_allclose(
        index.dense_scores(query, 7), fresh.dense_scores(query, 7), rtol=1e-12, atol=0
    )
    assert index.search(query).slots.tolist() == fresh.search(query).slots.tolist()


def test_add_many_is_bit_identical_to_rank_bm25_on_real_text(wiki_docs):
    index = BM25Index(k1=1.5, b=0.75, scoring="rank_bm25")
    index.add_many(list(range(len(wiki_docs))), wiki_docs)
    reference = BM25Okapi(wiki_docs)
    for query in corpus_queries(wiki_docs, 20, seed=7):
        assert np.array_equal(
            index.dense_scores(query, len(wiki_docs)), reference.get_scores(query)
        )


bulk_docs = st.lists(st.lists(st.sampled_from("abcdef"), max_size=5), min_size=1, max_size=20)


@settings(max_examples=120, deadline=None)
@given(bulk_docs, ops, tiny_query, st.sampled_from(["rank_bm25", "weaviate"]), st.randoms())
def test_add_many_then_any_writes_equals_one_add_at_a_time(docs, operations, query, scoring, rng):
    """A bulk-built index (gaps between slots) behaves like add() per document, through
    later adds, removals, replacements and a compaction remap."""
    slots = [3 * i + 1 for i in range(len(docs))]
    bulk = BM25Index(k1=1.5, b=0.75, scoring=scoring)
    bulk.add_many(slots, docs)
    serial = BM25Index(k1=1.5, b=0.75, scoring=scoring)
    for slot, doc in zip(slots, docs, strict=True):
        serial.add(slot, doc)
    assert bulk._term_ids == serial._term_ids and bulk._df == serial._df
    n = slots[-1] + 1
    assert np.array_equal(bulk.dense_scores(query, n), serial.dense_scores(query, n))
    live = dict(zip(slots, docs, strict=True))
    next_slot = n
    for is_add, doc in operations:
        if is_add:
            slot = rng.choice([*live, next_slot])  # a replacement or a new slot
            next_slot += slot == next_slot
            live[slot] = doc
            for index in (bulk, serial):
                index.add(slot, doc)
        elif live:
            slot = rng.choice(sorted(live))
            del live[slot]
            for index in (bulk, serial):
                index.remove(slot)
        got, want = bulk.search(query), serial.search(query)
        assert got.slots.tolist() == want.slots.tolist()
        assert np.array_equal(got.scores, want.scores)
        assert np.array_equal(got.matched, want.matched)
    mapping = np.full(next_slot, -1, dtype=np.int64)
    kept = sorted(live)
    mapping[kept] = np.arange(len(kept))
    for index in (bulk, serial):
        index.remap(mapping)
    assert len(bulk) == len(serial) == len(kept)
    assert np.array_equal(
        bulk.dense_scores(query, len(kept)), serial.dense_scores(query, len(kept))
    )


def test_add_many_falls_back_for_a_non_empty_index_and_checks_its_input():
    index = BM25Index(k1=1.2, b=0.75, scoring="weaviate")
    index.add_many([0, 2], [["a", "b"], []])
    index.add_many([1, 5], [["b"], ["c", "c"]])  # not empty any more: one add() each
    assert len(index) == 4 and index.document_frequency("b") == 2
    assert index.search(["c"]).slots.tolist() == [5]
    with pytest.raises(ConfigError, match="2 slots but 1 token lists"):
        index.add_many([6, 7], [["a"]])
    with pytest.raises(ConfigError, match="not the str"):
        index.add_many([6], ["a sentence"])
    with pytest.raises(ConfigError, match="slot must be an int"):
        index.add_many([-1], [["a"]])
