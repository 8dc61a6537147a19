"""What token pooling costs in quality: nDCG@10 of exact near_text per ``pool_factor`` on wiki-dev.

    python benchmarks/pooling.py [--data ../shared/eval/wiki-dev] [--factors 1 2 3]

The corpus (``corpus.jsonl``, 1,501 passages) is embedded once with the offline MiniLM embedder
(``MiniLMTokenEmbedder()``, default settings) and cached as float32 ``.npy`` files in
``benchmarks/.pooling-cache/`` (gitignored; keyed by the corpus bytes and the embedder settings),
so a second run skips the ~1 minute of embedding. For each pool factor a fresh in-memory
collection gets a MiniLM ``text2vec`` space with that ``pool_factor`` (default float16 storage,
exact search) and every passage with its cached matrix: the library pools at insert, as it does
for any write. Queries run as ``near_text`` through :func:`multivector.evaluation.evaluate`
(vector mode, k = 10; each query embedded by the space's embedder, never pooled).

Reported per configuration: stored token rows and their reduction against pool factor 1, insert
time (pooling included), nDCG@10 with its 95% bootstrap interval over queries, and the paired
bootstrap 95% interval of the difference to pool factor 1 (same queries resampled for both,
2,000 resamples, seed 0; :mod:`multivector.evaluation.bootstrap`). Two ablations at factor 2,
pooled here and stored unpooled (``pool_factor=1``): the same clusters as plain means, not
rescaled (what PyLate stores), and no protected first token.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import multivector
from multivector import DataObject
from multivector.config import Configure, DataType, Property
from multivector.embeddings.minilm import MiniLMTokenEmbedder
from multivector.evaluation import bootstrap_mean, evaluate, load_corpus, load_qrels, load_queries
from multivector.evaluation.bootstrap import compare
from multivector.kernels.token_pooling import pool_tokens, pooled_labels

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "eval" / "wiki-dev"
CACHE = HERE / ".pooling-cache"


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uptime unavailable"


def embedded_corpus(
    texts: list[str], embedder: MiniLMTokenEmbedder
) -> tuple[np.ndarray, np.ndarray]:
    """Token rows ``[T, 384]`` float32 and offsets ``[n + 1]`` of ``texts``, from the cache when
    it holds the same texts embedded with the same settings.
    """
    key = hashlib.sha256(
        json.dumps([repr(embedder), texts], ensure_ascii=False).encode("utf-8")
    ).hexdigest()[:16]
    tokens_path, offsets_path = (
        CACHE / f"corpus-{key}.tokens.npy",
        CACHE / f"corpus-{key}.offsets.npy",
    )
    if tokens_path.is_file() and offsets_path.is_file():
        return np.load(tokens_path, mmap_mode="r"), np.load(offsets_path)
    t0 = time.perf_counter()
    matrices = embedder.embed_documents(texts)
    print(
        f"embedded {len(texts)} passages in {time.perf_counter() - t0:.1f} s (cached for next time)"
    )
    offsets = np.zeros(len(matrices) + 1, dtype=np.int64)
    np.cumsum([m.shape[0] for m in matrices], out=offsets[1:])
    tokens = np.concatenate([np.asarray(m, dtype=np.float32) for m in matrices])
    CACHE.mkdir(exist_ok=True)
    np.save(tokens_path, tokens)
    np.save(offsets_path, offsets)
    return tokens, offsets


def plain_means(matrix: np.ndarray, pool_factor: int) -> np.ndarray:
    """PyLate's output: the library's clusters, each the plain mean of its rows (not rescaled)."""
    head, rest = matrix[:1], matrix[1:]
    k = max(1, rest.shape[0] // pool_factor)
    if k >= rest.shape[0]:
        return matrix
    labels = pooled_labels(rest, k)
    means = [rest[labels == c].astype(np.float64).mean(axis=0) for c in range(labels.max() + 1)]
    return np.concatenate([head, np.asarray(means, dtype=np.float32)])


@dataclass
class Run:
    label: str
    tokens: int
    insert_seconds: float
    per_query: dict[str, float]


def run_config(
    label: str,
    docs: list[dict[str, str]],
    matrices: list[np.ndarray],
    embedder: MiniLMTokenEmbedder,
    pool_factor: int,
    data: Path,
) -> Run:
    client = multivector.connect()
    try:
        col = client.collections.create(
            "Wiki",
            properties=[
                Property(name="doc_id", data_type=DataType.TEXT, index_searchable=False),
                Property(name="text", data_type=DataType.TEXT),
            ],
            vector_config=[
                Configure.MultiVectors.text2vec(
                    name="mv",
                    embedder=embedder,
                    source_properties=["text"],
                    pool_factor=pool_factor,
                )
            ],
        )
        t0 = time.perf_counter()
        for start in range(0, len(docs), 256):
            batch = [
                DataObject({"doc_id": d["id"], "text": d["text"]}, vector={"mv": m})
                for d, m in zip(docs[start : start + 256], matrices[start : start + 256])
            ]
            result = col.data.insert_many(batch)
            if result.has_errors:
                raise SystemExit(f"{label}: insert failed: {result.errors}")
        insert_seconds = time.perf_counter() - t0
        stored = sum(
            int(np.asarray(obj.vector["mv"]).shape[0]) for obj in col.iterator(include_vector=True)
        )
        report = evaluate(
            col,
            load_queries(data / "queries.jsonl"),
            load_qrels(data / "qrels.tsv"),
            k=10,
            modes=("vector",),
            id_property="doc_id",
            show_progress=False,
        )
        per_query = {q: m.ndcg for q, m in report.results[0].per_query.items()}
        return Run(label, stored, insert_seconds, per_query)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    print(f"uptime before: {_uptime()}")
    docs = [
        {"id": str(d["id"]), "text": str(d["text"])}
        for d in load_corpus(args.data / "corpus.jsonl")
    ]
    embedder = MiniLMTokenEmbedder()
    tokens, offsets = embedded_corpus([d["text"] for d in docs], embedder)
    matrices = [np.asarray(tokens[offsets[i] : offsets[i + 1]]) for i in range(len(docs))]
    print(f"corpus: {len(docs)} passages, {int(offsets[-1])} token rows ({args.data})")

    pool_tokens(matrices[0], 2)  # load the compiled kernels before any insert is timed
    runs = [
        run_config(f"pool_factor={f}", docs, matrices, embedder, f, args.data) for f in args.factors
    ]
    ablations = [
        ("pool 2, plain means (PyLate)", [plain_means(m, 2) for m in matrices]),
        ("pool 2, no protected token", [pool_tokens(m, 2, protected_tokens=0) for m in matrices]),
    ]
    for label, pooled_mats in ablations:
        runs.append(run_config(label, docs, pooled_mats, embedder, 1, args.data))

    queries = load_queries(args.data / "queries.jsonl")
    groups = {q.id: q.group for q in queries}
    base = runs[0]
    print(
        f"\nexact near_text, nDCG@10 over {len(base.per_query)} queries; 95% intervals: "
        f"bootstrap over queries ({args.resamples} resamples), differences paired against "
        f"{base.label}\n"
    )
    header = (
        f"{'configuration':<29} {'tokens':>7} {'kept':>6} {'insert s':>8}  "
        f"{'nDCG@10 [95% CI]':<22} {'diff vs ' + base.label + ' [paired 95% CI]':<34} per group"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        ndcg = bootstrap_mean(list(run.per_query.values()), n_resamples=args.resamples)
        cell = f"{ndcg.mean:.3f} [{ndcg.low:.3f}, {ndcg.high:.3f}]"
        if run is base:
            diff, per_group = "-", ""
        else:
            cmp = compare(
                (run.label, run.per_query),
                (base.label, base.per_query),
                groups,
                n_resamples=args.resamples,
            )
            diff = f"{cmp.overall} ({cmp.wins}+ / {cmp.losses}-)"
            per_group = ", ".join(f"{g} {d:+.3f}" for g, d in cmp.groups.items())
        print(
            f"{run.label:<29} {run.tokens:>7} {run.tokens / base.tokens:>6.1%} "
            f"{run.insert_seconds:>8.1f}  {cell:<22} {diff:<34} {per_group}"
        )
    print(f"\nuptime after: {_uptime()}")


if __name__ == "__main__":
    main()
