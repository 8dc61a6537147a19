"""multivector.evaluation and its metrics: hand-computed values, configurations, files, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import multivector
from multivector import Configure, DataType, HybridFusion, Property
from multivector.__main__ import main
from multivector.errors import ConfigError
from multivector.evaluation import (
    EvalQuery,
    SearchConfig,
    evaluate,
    load_corpus,
    load_qrels,
    load_queries,
    search_configs,
)
from multivector.evaluation.metrics import (
    Metrics,
    dedupe,
    mean_metrics,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    score_ranking,
)
from multivector.retrieval.retriever import SearchMode

BUNDLED = Path(__file__).resolve().parents[1] / "examples" / "data" / "wiki_passages.jsonl"


# ----------------------------------------------------------------------------- metrics
def test_ndcg_hand_computed():
    # relevant at ranks 2 and 4; ideal puts two relevant docs at ranks 1 and 2
    ranking = ["a", "b", "c", "d"]
    dcg3 = 1 / math.log2(3)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranking, {"b", "d"}, 3) == pytest.approx(dcg3 / idcg)
    assert ndcg_at_k(ranking, {"b", "d"}, 4) == pytest.approx((dcg3 + 1 / math.log2(5)) / idcg)
    assert ndcg_at_k(ranking, {"b", "d"}, 3) == pytest.approx(0.386853, abs=1e-6)


def test_ndcg_ideal_is_capped_at_k():
    # five relevant docs, k=2, both top slots relevant: perfect score
    assert ndcg_at_k(["r1", "r2", "x"], {"r1", "r2", "r3", "r4", "r5"}, 2) == pytest.approx(1.0)


def test_ndcg_perfect_and_zero():
    assert ndcg_at_k(["a", "b"], {"a"}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], {"a"}, 10) == 0.0
    assert ndcg_at_k([], {"a"}, 10) == 0.0


def test_recall_hand_computed():
    assert recall_at_k(["a", "b", "c", "d"], {"b", "d", "z"}, 3) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "b", "c", "d"], {"b", "d", "z"}, 4) == pytest.approx(2 / 3)
    assert recall_at_k(["a"], {"a"}, 1) == 1.0


def test_mrr_hand_computed():
    assert mrr_at_k(["a", "b", "c"], {"c", "b"}, 3) == pytest.approx(0.5)
    assert mrr_at_k(["a", "b", "c"], {"c"}, 2) == 0.0
    assert mrr_at_k(["c"], {"c"}, 1) == 1.0


def test_repeated_ids_count_once():
    assert dedupe(["a", "a", "b", "a", "c"]) == ["a", "b", "c"]
    # "a" twice must not count as two relevant hits, nor push "b" out of the top 2
    assert recall_at_k(["a", "a", "b"], {"a", "b"}, 2) == 1.0
    assert mrr_at_k(["x", "x", "b"], {"b"}, 2) == pytest.approx(0.5)
    assert ndcg_at_k(["a", "a"], {"a", "b"}, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_score_ranking_and_mean():
    one = score_ranking(["a", "b"], {"b"}, 2)
    assert one == Metrics(ndcg=1 / math.log2(3), recall=1.0, mrr=0.5, n_queries=1)
    two = Metrics(ndcg=1.0, recall=1.0, mrr=1.0, n_queries=2)  # already a mean over 2 queries
    mean = mean_metrics([one, two])
    assert mean.n_queries == 3
    assert mean.mrr == pytest.approx((0.5 + 2 * 1.0) / 3)
    with pytest.raises(ConfigError, match="no queries"):
        mean_metrics([])


@pytest.mark.parametrize("fn", [ndcg_at_k, recall_at_k, mrr_at_k])
def test_metrics_reject_bad_input(fn):
    with pytest.raises(ConfigError, match="k must be"):
        fn(["a"], {"a"}, 0)
    with pytest.raises(ConfigError, match="no relevant"):
        fn(["a"], set(), 5)


# ---------------------------------------------------------------------- configurations
def test_search_configs_expand_hybrid():
    configs = search_configs(
        ["vector", "keyword", "hybrid"],
        alphas=[0.25, 0.5, 0.75],
        fusion_types=["relative_score", "ranked"],
    )
    assert len(configs) == 2 + 2 * 3
    labels = [c.label for c in configs]
    assert labels[:2] == ["vector", "keyword"]
    assert "hybrid relative_score alpha=0.25" in labels
    assert "hybrid ranked alpha=0.75" in labels
    assert SearchConfig(SearchMode.HYBRID, 0.5, HybridFusion.RANKED).overrides() == {
        "mode": SearchMode.HYBRID,
        "alpha": 0.5,
        "fusion_type": HybridFusion.RANKED,
    }
    assert SearchConfig(SearchMode.VECTOR).overrides() == {"mode": SearchMode.VECTOR}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"modes": ["semantic"]}, "unknown mode"),
        ({"modes": []}, "modes is empty"),
        ({"modes": ["hybrid"], "alphas": [1.5]}, "alphas must be"),
        ({"modes": ["hybrid"], "alphas": [True]}, "alphas must be"),
        ({"modes": ["hybrid"], "fusion_types": ["rrf"]}, "unknown fusion type"),
        ({"modes": ["hybrid"], "alphas": []}, "at least one alpha"),
    ],
)
def test_search_configs_reject(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        search_configs(**kwargs)


# ------------------------------------------------------------------------- evaluate()
DOCS = [
    ("d1", "apple banana orchard", [[1.0, 0.0]]),
    ("d2", "cherry date market", [[0.0, 1.0]]),
    ("d3", "elder fig garden", [[0.6, 0.8]]),
]


@pytest.fixture
def tiny(client):
    col = client.collections.create(
        "Tiny",
        vector_config=[Configure.MultiVectors.self_provided(name="mv", dtype="float32")],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="doc_id", data_type=DataType.TEXT, index_searchable=False),
        ],
    )
    for doc_id, text, matrix in DOCS:
        col.data.insert(
            {"text": text, "doc_id": doc_id},
            uuid=multivector.generate_uuid5(doc_id),
            vector={"mv": matrix},
        )
    return col


def test_evaluate_hand_computed(tiny):
    # q1: vector ranks d1 (1.0) > d3 (0.6) > d2 (0.0); keyword finds only d2 ("cherry").
    # q2: vector ranks d2 (1.0) > d3 (0.8) > d1 (0.0); keyword finds only d3 ("fig").
    queries = [EvalQuery("q1", "cherry", "g1"), EvalQuery("q2", "fig", "g2")]
    qrels = {"q1": {"d2": 1}, "q2": {"d3": 1, "d1": 0}}
    vectors = {"q1": [[1.0, 0.0]], "q2": [[0.0, 1.0]]}
    report = evaluate(
        tiny,
        queries,
        qrels,
        k=2,
        modes=["vector", "keyword"],
        id_property="doc_id",
        query_vectors=vectors,
    )
    vec = report.result("vector")
    # q1: d2 at rank 3 > k -> 0; q2: d3 at rank 2 -> nDCG 1/log2(3), MRR 1/2, recall 1
    assert vec.per_query["q1"].ndcg == 0.0
    assert vec.per_query["q2"].ndcg == pytest.approx(1 / math.log2(3))
    assert vec.metrics.ndcg == pytest.approx((0 + 1 / math.log2(3)) / 2)
    assert vec.metrics.mrr == pytest.approx(0.25)
    assert vec.metrics.recall == pytest.approx(0.5)
    assert vec.groups["g1"].ndcg == 0.0
    assert vec.groups["g2"].mrr == pytest.approx(0.5)
    kw = report.result("keyword")
    assert kw.metrics.ndcg == pytest.approx(1.0)
    assert kw.metrics.n_queries == 2
    assert report.best().config.label == "keyword"
    assert report.groups == ("g1", "g2")
    assert report.n_queries == 2


def test_evaluate_uses_uuids_by_default_and_skips_unjudged(tiny):
    uid = multivector.generate_uuid5("d2")
    report = evaluate(
        tiny,
        {"q1": "cherry", "q9": "nothing judged"},
        {"q1": [uid]},
        k=1,
        modes=["keyword"],
    )
    assert report.result("keyword").metrics.ndcg == 1.0
    assert report.skipped_queries == ("q9",)
    assert "skipped" in report.format_table()


def test_keyword_only_configurations_need_no_query_matrix(tiny):
    # hybrid with alpha 0 is pure BM25: a self-provided space needs no query_vectors for it
    report = evaluate(
        tiny,
        {"q1": "cherry"},
        {"q1": {"d2": 1}},
        modes=["hybrid"],
        alphas=[0.0],
        id_property="doc_id",
    )
    assert [r.config.label for r in report.results] == [
        "hybrid relative_score alpha=0",
        "hybrid ranked alpha=0",
    ]
    assert all(r.metrics.ndcg == 1.0 for r in report.results)


def test_evaluate_errors(tiny):
    with pytest.raises(ConfigError, match="none of the 1 queries"):
        evaluate(tiny, {"q1": "cherry"}, {"other": {"d1": 1}}, modes=["keyword"])
    with pytest.raises(ConfigError, match="k must be"):
        evaluate(tiny, {"q1": "cherry"}, {"q1": {"d2": 1}}, k=0)
    with pytest.raises(ConfigError, match="no property 'missing'"):
        evaluate(
            tiny, {"q1": "cherry"}, {"q1": {"d2": 1}}, modes=["keyword"], id_property="missing"
        )
    with pytest.raises(ConfigError, match="self-provided"):  # no embedder, no query_vectors
        evaluate(tiny, {"q1": "cherry"}, {"q1": {"d2": 1}}, modes=["vector"])
    with pytest.raises(ConfigError, match="more than once"):
        evaluate(tiny, [EvalQuery("q1", "a"), EvalQuery("q1", "b")], {"q1": {"d2": 1}})
    with pytest.raises(ConfigError, match="EvalQuery"):
        evaluate(tiny, [{"id": "q1", "text": "a"}], {"q1": {"d2": 1}})  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="is a string"):
        evaluate(tiny, {"q1": "cherry"}, {"q1": "d2"}, modes=["keyword"])


class CountingEmbedder:
    """A tiny deterministic embedder: one 4-d row per word (bag of letter features)."""

    def __init__(self) -> None:
        self.query_calls = 0

    def _matrix(self, text: str) -> np.ndarray:
        rows = []
        for word in text.lower().split() or [""]:
            vec = np.array([word.count(c) for c in "aeio"], dtype=np.float32) + np.float32(0.1)
            rows.append(vec / np.linalg.norm(vec))
        return np.stack(rows)

    def embed_documents(self, texts):
        return [self._matrix(t) for t in texts]

    def embed_query(self, text):
        self.query_calls += 1
        return self._matrix(text)


def test_evaluate_embeds_each_query_once(client):
    embedder = CountingEmbedder()
    col = client.collections.create(
        "Counted",
        vector_config=[
            Configure.MultiVectors.text2vec(name="t", embedder=embedder, source_properties=["text"])
        ],
        properties=[Property(name="text", data_type=DataType.TEXT)],
    )
    ids = [col.data.insert({"text": text}) for _, text, _ in DOCS]
    queries = [EvalQuery(f"q{i}", text) for i, (_, text, _) in enumerate(DOCS)]
    qrels = {f"q{i}": [ids[i]] for i in range(3)}
    report = evaluate(col, queries, qrels, k=3, alphas=[0.3, 0.7])
    assert len(report.results) == 2 + 2 * 2
    assert embedder.query_calls == 3  # once per query, shared by all six configurations
    # a query equal to a document's text finds it by keyword at rank 1
    assert report.result("keyword").metrics.mrr == 1.0
    table = report.format_table()
    assert "hybrid ranked alpha=0.7" in table and "nDCG@3" in table
    data = json.loads(json.dumps(report.to_dict()))
    assert [r["label"] for r in data["results"]] == [r.config.label for r in report.results]


# ---------------------------------------------------------------------------- files
def test_load_queries_corpus_qrels(tmp_path):
    q = tmp_path / "queries.jsonl"
    q.write_text('{"id": "a", "text": "x", "type": "ict"}\n\n{"_id": "b", "text": "y"}\n')
    assert load_queries(q) == [EvalQuery("a", "x", "ict"), EvalQuery("b", "y", None)]
    assert load_queries(q, group_field=None)[0].group is None
    c = tmp_path / "corpus.jsonl"
    c.write_text('{"_id": "d1", "text": "t", "title": "T"}\n')
    assert load_corpus(c) == [{"id": "d1", "text": "t", "title": "T"}]
    tsv = tmp_path / "qrels.tsv"
    tsv.write_text("query_id\tdoc_id\trelevance\na\td1\t1\na\td2\t0\nb\td3\t2\n")
    assert load_qrels(tsv) == {"a": {"d1": 1, "d2": 0}, "b": {"d3": 2}}
    trec = tmp_path / "qrels.trec"
    trec.write_text("a 0 d1 1\n")
    assert load_qrels(trec) == {"a": {"d1": 1}}


@pytest.mark.parametrize(
    ("name", "content", "loader", "message"),
    [
        ("q.jsonl", "{not json\n", load_queries, r"q.jsonl:1: not valid JSON"),
        ("q.jsonl", '["a"]\n', load_queries, "must be a JSON object"),
        ("q.jsonl", '{"id": "a"}\n', load_queries, "missing field 'text'"),
        ("c.jsonl", '{"text": "a"}\n', load_corpus, "missing field 'id'"),
        ("r.tsv", "a\td1\t1\nb\td2\tyes\n", load_qrels, r"r.tsv:2: relevance 'yes'"),
        ("r.tsv", "a\td1\n", load_qrels, "got 2 columns"),
    ],
)
def test_loaders_name_the_bad_line(tmp_path, name, content, loader, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        loader(path)


# ------------------------------------------------------------------------------ CLI
def _tiny_dataset(tmp_path: Path, n_docs: int = 16) -> Path:
    """A labelled set from the bundled passages: each query is a passage's first sentence."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    docs = [json.loads(line) for line in BUNDLED.read_text(encoding="utf-8").splitlines()][:n_docs]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries, qrels = [], ["query_id\tdoc_id\trelevance"]
    for i, doc in enumerate(docs[::3]):
        queries.append({"id": f"q{i}", "text": doc["text"].split(". ")[0], "type": f"t{i % 2}"})
        qrels.append(f"q{i}\t{doc['id']}\t1")
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (tmp_path / "qrels.tsv").write_text("\n".join(qrels) + "\n")
    return tmp_path


def test_cli_evaluate_prints_table(tmp_path, capsys):
    data = _tiny_dataset(tmp_path)
    code = main(
        ["evaluate", str(data), "--k", "5", "--alphas", "0.5", "--limit-docs", "12", "--quiet"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "12 documents (12 imported now), 4 queries, k=5" in out
    )  # queries 0..3 point into the first 12 docs
    for label in (
        "vector",
        "keyword",
        "hybrid relative_score alpha=0.5",
        "hybrid ranked alpha=0.5",
    ):
        assert label in out
    assert "nDCG t0" in out and "nDCG t1" in out
    # a query that is a sentence of its passage: keyword search finds it first every time
    keyword_row = next(line for line in out.splitlines() if line.startswith("keyword"))
    assert keyword_row.split()[1:4] == ["1.000", "1.000", "1.000"]


def test_cli_evaluate_json_and_explicit_paths(tmp_path, capsys):
    data = _tiny_dataset(tmp_path, n_docs=6)
    code = main(
        [
            "evaluate",
            "--corpus",
            str(data / "corpus.jsonl"),
            "--queries",
            str(data / "queries.jsonl"),
            "--qrels",
            str(data / "qrels.tsv"),
            "--modes",
            "keyword,hybrid",
            "--fusions",
            "ranked",
            "--alphas",
            "0.25",
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in report["results"]] == ["keyword", "hybrid ranked alpha=0.25"]
    assert report["n_queries"] == 2


def test_cli_store_is_reused(tmp_path, capsys):
    data = _tiny_dataset(tmp_path / "data", n_docs=6)
    argv = [
        "evaluate",
        str(data),
        "--store",
        str(tmp_path / "store"),
        "--modes",
        "vector",
        "--quiet",
    ]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "6 documents (6 imported now)" in first
    assert main(argv) == 0
    second = capsys.readouterr().out
    assert "6 documents (0 imported now)" in second
    assert first.splitlines()[1:] == second.splitlines()[1:]  # same collection, same numbers
    # a smaller slice than the stored collection is refused, not silently mixed
    assert main([*argv, "--limit-docs", "3"]) == 2
    assert "holds 6 objects, more than the 3 documents" in capsys.readouterr().err


def test_cli_errors_are_reported_not_raised(tmp_path, capsys):
    assert main(["evaluate", "--queries", str(tmp_path / "nope.jsonl"), "--quiet"]) == 2
    assert "no --corpus given" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--quiet"]) == 2
    assert "is not a file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--alphas", "a,b"])
