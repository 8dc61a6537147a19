"""Bootstrap intervals, paired comparisons and the command line's new options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from multivector.__main__ import main
from multivector.errors import ConfigError
from multivector.evaluation import (
    ALL_FUSIONS,
    Interval,
    bootstrap_mean,
    evaluate,
    paired_difference,
)
from multivector.evaluation.bootstrap import compare

BUNDLED = Path(__file__).resolve().parents[1] / "examples" / "data" / "wiki_passages.jsonl"


def test_bootstrap_mean_matches_a_numpy_reference():
    values = np.random.default_rng(1).random(40)
    got = bootstrap_mean(values.tolist(), n_resamples=500, seed=3)
    rng = np.random.default_rng(3)
    means = values[rng.integers(0, 40, size=(500, 40))].mean(axis=1)
    assert got.mean == pytest.approx(values.mean())
    assert (got.low, got.high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    assert got.low < got.mean < got.high
    assert bootstrap_mean([0.5] * 9) == Interval(0.5, 0.5, 0.5)


def test_paired_difference_and_comparison():
    a = {"q1": 1.0, "q2": 0.5, "q3": 0.0, "only_a": 1.0}
    b = {"q1": 0.5, "q2": 0.5, "q3": 0.0}
    diff = paired_difference(a, b, n_resamples=200)
    assert diff.mean == pytest.approx(0.5 / 3)  # over the shared queries only
    assert diff.low >= 0 and not Interval(0.1, -0.01, 0.2).excludes_zero
    assert Interval(0.1, 0.01, 0.2).excludes_zero and Interval(-0.1, -0.2, -0.01).excludes_zero
    assert paired_difference(b, b) == Interval(0.0, 0.0, 0.0)
    c = compare(("a", a), ("b", b), {"q1": "x", "q2": "x", "q3": "y", "only_a": "y"})
    assert (c.wins, c.losses) == (1, 0)
    assert c.groups == {"x": pytest.approx(0.25), "y": 0.0}
    assert "a - b: nDCG +0.167" in str(c)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bootstrap_mean([]), "non-empty"),
        (lambda: bootstrap_mean([1.0], n_resamples=0), "n_resamples"),
        (lambda: bootstrap_mean([1.0], confidence=1.5), "confidence"),
        (lambda: paired_difference({"a": 1.0}, {"b": 1.0}), "share no query"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def _dataset(tmp_path: Path, n_docs: int = 12) -> Path:
    docs = [json.loads(line) for line in BUNDLED.read_text(encoding="utf-8").splitlines()][:n_docs]
    for doc in docs:
        doc["title"] = doc.get("title") or doc["text"].split()[0]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries, qrels = [], ["query_id\tdoc_id\trelevance"]
    for i, doc in enumerate(docs[::2]):
        queries.append({"id": f"q{i}", "text": doc["text"].split(". ")[0], "type": f"t{i % 2}"})
        qrels.append(f"q{i}\t{doc['id']}\t1")
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (tmp_path / "qrels.tsv").write_text("\n".join(qrels) + "\n")
    return tmp_path


def test_cli_reports_adaptive_with_intervals(tmp_path, capsys):
    data = _dataset(tmp_path)
    assert main(["evaluate", str(data), "--alphas", "0.75", "--bootstrap", "300", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "hybrid adaptive alpha=0.75" in out and "nDCG 95% CI" in out
    assert "(reference)" in out  # the row of hybrid relative_score alpha=0.75
    comparison = [line for line in out.splitlines() if line.startswith("hybrid adaptive")][-1]
    assert "- hybrid relative_score alpha=0.75: nDCG" in comparison and "per group" in comparison
    keyword = next(line for line in out.splitlines() if line.startswith("keyword"))
    assert len(keyword.split()[1:4]) == 3 and "[" in keyword


def test_cli_keyword_leg_options_and_json(tmp_path, capsys):
    data = _dataset(tmp_path)
    argv = ["evaluate", str(data), "--modes", "keyword,hybrid", "--alphas", "0.75", "--quiet"]
    argv += ["--bm25", "text,title^2", "--tokenization", "word_stem_en", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    labels = [r["label"] for r in report["results"]]
    assert labels == ["keyword"] + [f"hybrid {f} alpha=0.75" for f in ALL_FUSIONS]
    assert {c["candidate"] for c in report["comparisons"]} == {
        "keyword",
        "hybrid adaptive alpha=0.75",
    }
    assert main([*argv[:-1], "--bootstrap", "0"]) == 0
    assert "95% CI" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--tokenization", "snowball"], "tokenization"), (["--bootstrap", "-1"], "bootstrap")],
)
def test_cli_rejects_bad_options(tmp_path, capsys, extra, message):
    data = _dataset(tmp_path, n_docs=4)
    assert main(["evaluate", str(data), "--modes", "keyword", "--quiet", *extra]) == 2
    assert message in capsys.readouterr().err


def test_report_compare_and_table(tmp_path):
    import multivector
    from multivector.config import Configure, DataType, Property

    client = multivector.connect()
    try:
        col = client.collections.create(
            "Tiny",
            vector_config=[Configure.MultiVectors.self_provided(name="v")],
            properties=[Property(name="text", data_type=DataType.TEXT)],
        )
        texts = ["apple pie", "banana bread", "cherry tart", "apple cherry"]
        ids = [
            col.data.insert({"text": t}, vector=np.eye(3, dtype=np.float32)[: 1 + i % 2])
            for i, t in enumerate(texts)
        ]
        report = evaluate(
            col,
            {"q1": "apple", "q2": "cherry tart"},
            {"q1": [ids[0]], "q2": [ids[2]]},
            modes=["keyword", "hybrid"],
            alphas=[0.0],
        )
        c = report.compare("hybrid ranked alpha=0", "keyword", n_resamples=100)
        assert c.overall.mean == pytest.approx(
            np.mean(
                [
                    report.result("hybrid ranked alpha=0").per_query[q].ndcg
                    - report.result("keyword").per_query[q].ndcg
                    for q in ("q1", "q2")
                ]
            )
        )
        table = report.format_table(intervals=True, reference="keyword", n_resamples=100)
        assert "vs keyword: diff [95% CI]" in table and "(reference)" in table
        assert "95% CI" not in report.format_table()
        with pytest.raises(ConfigError, match="no configuration"):
            report.format_table(intervals=True, reference="nope")
    finally:
        client.close()
