"""Approximate search at scale: the PLAID-style centroid index against exact MaxSim, one process.

    python benchmarks/scale.py [--docs 200000] [--queries 50] [--topics 1024] [--sweep]

Data (stated in the output): clustered synthetic token embeddings, not real text. The offline
MiniLM embedder encodes about 10-20 passages/s here, far too slow for 200k documents. The data
is built as follows:

- ``--topics`` unit topic vectors in 128 dimensions.
- ``--structure terms`` (the default): each topic has 16 "terms" near it. A document draws 2-4
  topics and 3-8 terms per topic, then 32-96 tokens (mean 64) as noisy copies of its terms
  (cosine about 0.9). Like ColBERT token embeddings, tokens cluster by term.
- ``--structure flat``: tokens are noise around the topics themselves (cosine about 0.7). This is
  the hard case, where near-ties dominate.
- Tokens are L2-normalised and stored as float16, like the store's arena.
- A query targets a random document: 32 tokens, half noisy copies of the target's tokens, half
  fresh draws around its terms.

Prints: data and index build time, memory (bytes per stored token vector: arena and index), exact
search p50 (the baseline, measured here, single query), approximate p50/p95 with recall@10 against
exact for each setting, the ratio, the time split (candidates vs exact rerank), float16 vs float32
top-10 agreement, and the machine load. Run ``uptime`` yourself too: the machine is shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multivector.backends.embedded import ann_index
from multivector.backends.embedded.ann_index import CentroidIndex, PlaidParams
from multivector.kernels import maxsim_search, maxsim_search_batch

DIM = 128
TERMS_PER_TOPIC = 16


class Data(NamedTuple):
    tokens: np.ndarray  # float16 [T, DIM], unit rows
    offsets: np.ndarray  # int64 [n_docs + 1]
    terms: np.ndarray  # float32 [n_topics * terms_per_topic, DIM] (= topics for "flat")
    doc_terms: list[np.ndarray]  # the term ids each document draws its tokens from


def make_data(n_docs: int, n_topics: int, *, structure: str, seed: int = 0) -> Data:
    """Clustered token arena (float16) and what each document was drawn from (module docstring)."""
    rng = np.random.default_rng(seed)
    topics = unit(rng.standard_normal((n_topics, DIM), dtype=np.float32))
    if structure == "terms":
        terms = unit(
            np.repeat(topics, TERMS_PER_TOPIC, axis=0)
            + rng.standard_normal((n_topics * TERMS_PER_TOPIC, DIM), dtype=np.float32)
            * (0.8 / np.sqrt(DIM))
        )
        noise = 0.45
    else:
        terms, noise = topics, 1.0
    lengths = rng.integers(32, 97, n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    doc_terms = []
    for _ in range(n_docs):
        chosen = rng.choice(n_topics, size=int(rng.integers(2, 5)), replace=False)
        if structure == "terms":
            per = [
                t * TERMS_PER_TOPIC
                + rng.choice(TERMS_PER_TOPIC, size=int(rng.integers(3, 9)), replace=False)
                for t in chosen
            ]
            doc_terms.append(np.concatenate(per))
        else:
            doc_terms.append(chosen)
    tokens = np.empty((int(offsets[-1]), DIM), dtype=np.float16)
    chunk = 4096
    for lo in range(0, n_docs, chunk):
        hi = min(n_docs, lo + chunk)
        ids = np.concatenate(
            [rng.choice(doc_terms[d], size=int(lengths[d])) for d in range(lo, hi)]
        )
        block = rng.standard_normal((ids.shape[0], DIM), dtype=np.float32)
        block *= noise / np.sqrt(DIM)
        block += terms[ids]
        tokens[offsets[lo] : offsets[hi]] = unit(block)
    return Data(tokens, offsets, terms, doc_terms)


def unit(rows: np.ndarray) -> np.ndarray:
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def make_queries(n: int, data: Data, *, structure: str, seed: int = 1) -> list[np.ndarray]:
    """Queries of 32 tokens aimed at random target documents (see the module docstring)."""
    rng = np.random.default_rng(seed)
    noise = 0.45 if structure == "terms" else 1.0
    out = []
    for _ in range(n):
        d = int(rng.integers(len(data.doc_terms)))
        own = data.tokens[rng.integers(data.offsets[d], data.offsets[d + 1], 16)].astype(np.float32)
        own += rng.standard_normal(own.shape, dtype=np.float32) * (0.3 / np.sqrt(DIM))
        fresh = data.terms[rng.choice(data.doc_terms[d], size=16)]
        fresh = fresh + rng.standard_normal(fresh.shape, dtype=np.float32) * (noise / np.sqrt(DIM))
        out.append(unit(np.concatenate([own, fresh]).astype(np.float32)))
    return out


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values) * 1e3, p))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--topics", type=int, default=1024)
    parser.add_argument("--structure", choices=["terms", "flat"], default="terms")
    parser.add_argument("--centroids", type=int, default=0, help="0 = the index's automatic choice")
    parser.add_argument("--sweep", action="store_true", help="also try other nprobe / n_candidates")
    parser.add_argument(
        "--f16-docs", type=int, default=50_000, help="docs for the float16/float32 check"
    )
    args = parser.parse_args()
    print(
        f"load average at start: {os.getloadavg()}  (2 cores, shared machine); "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )

    t0 = time.perf_counter()
    data = make_data(args.docs, args.topics, structure=args.structure)
    tokens, offsets = data.tokens, data.offsets
    queries = make_queries(args.queries, data, structure=args.structure)
    n_tok = int(offsets[-1])
    print(
        f"data: {args.docs} docs, {n_tok} tokens x {DIM} float16 ({tokens.nbytes / 2**30:.2f} GiB), "
        f"clustered synthetic ({args.topics} topics, structure {args.structure!r}), generated in {time.perf_counter() - t0:.1f} s"
    )

    params = PlaidParams(n_centroids=args.centroids or None, min_train_docs=1)
    index = CentroidIndex(params)
    report = index.train(tokens, offsets)
    print(
        f"index build: {report.n_centroids} centroids, k-means on {report.n_sampled} sampled tokens, "
        f"{report.n_assigned} tokens assigned, {report.seconds:.1f} s"
    )
    arena_bytes = tokens.nbytes + offsets.nbytes
    print(
        f"memory: arena {arena_bytes / n_tok:.1f} B/token ({arena_bytes / 2**20:.0f} MiB), "
        f"index {index.nbytes / n_tok:.2f} B/token ({index.nbytes / 2**20:.0f} MiB)"
    )

    # exact ground truth, one pass for all queries; single-query exact latency as the baseline
    t0 = time.perf_counter()
    truth = [r.indices[:10] for r in maxsim_search_batch(queries, tokens, offsets, 10)]
    batch_s = time.perf_counter() - t0
    exact_times = []
    for q in queries[: min(5, len(queries))]:
        t0 = time.perf_counter()
        maxsim_search(q, tokens, offsets, 10)
        exact_times.append(time.perf_counter() - t0)
    exact_p50 = pct(exact_times, 50)
    print(
        f"exact: p50 {exact_p50:.1f} ms/query single, {batch_s / len(queries) * 1e3:.1f} ms/query batched"
    )

    settings = [(params.nprobe, params.n_candidates, False)]
    if args.sweep:
        settings += [(2, 256, False), (4, 256, False), (4, 512, False), (8, 512, False)]
        settings += [(8, 1024, False), (16, 1024, False), (4, 1024, True), (4, 2048, False)]
    print(
        f"defaults: nprobe {params.nprobe}, n_candidates {params.n_candidates}; "
        f"rerank parallel above {ann_index.PARALLEL_RERANK} candidates unless forced"
    )
    print(
        f"\n{'nprobe':>6} {'cands':>6} {'par':>4} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'cand ms':>7} {'x exact':>8}"
    )
    default_threshold = ann_index.PARALLEL_RERANK
    for nprobe, n_cand, parallel in settings:
        ann_index.PARALLEL_RERANK = 0 if parallel else default_threshold
        index.params = dataclasses.replace(
            params, nprobe=nprobe, n_candidates=n_cand, flat_search_cutoff=0
        )
        index.search(queries[0], tokens, offsets, k=10, mask=None, alive=None)  # warm-up / compile
        times, cand_times, recalls = [], [], []
        for q, t in zip(queries, truth):
            t0 = time.perf_counter()
            res = index.search(q, tokens, offsets, k=10, mask=None, alive=None)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            index.candidates(q, max(n_cand, 20))
            cand_times.append(time.perf_counter() - t0)
            recalls.append(len(set(res.result.indices.tolist()) & set(t.tolist())) / max(1, len(t)))
        p50 = pct(times, 50)
        print(
            f"{nprobe:>6} {n_cand:>6} {'yes' if parallel else 'auto':>4} {np.mean(recalls):>9.3f} "
            f"{p50:>7.1f} {pct(times, 95):>7.1f} {pct(cand_times, 50):>7.1f} {exact_p50 / p50:>7.1f}x"
        )
    ann_index.PARALLEL_RERANK = default_threshold

    # filters: candidates are generated among matching objects; few matches -> exact search
    index.params = params
    print(f"\nfiltered (defaults, flat_search_cutoff {params.flat_search_cutoff}):")
    print(
        f"{'match':>8} {'objects':>8} {'path':>7} {'recall@10':>9} {'p50 ms':>7} {'exact p50':>9}"
    )
    frng = np.random.default_rng(5)
    for frac in (0.2, 0.02, 0.005):
        mask = frng.random(args.docs) < frac
        fq = queries[: min(20, len(queries))]
        ftruth = [r.indices for r in maxsim_search_batch(fq, tokens, offsets, 10, mask)]
        times, exact_t, recalls, paths = [], [], [], set()
        for q, t in zip(fq, ftruth):
            t0 = time.perf_counter()
            res = index.search(q, tokens, offsets, k=10, mask=mask, alive=None)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            maxsim_search(q, tokens, offsets, 10, mask)
            exact_t.append(time.perf_counter() - t0)
            paths.add("approx" if res.approximate else "exact")
            recalls.append(len(set(res.result.indices.tolist()) & set(t.tolist())) / max(1, len(t)))
        print(
            f"{frac:>8.1%} {int(mask.sum()):>8} {'/'.join(sorted(paths)):>7} "
            f"{np.mean(recalls):>9.3f} {pct(times, 50):>7.1f} {pct(exact_t, 50):>9.1f}"
        )

    n16 = min(args.f16_docs, args.docs)
    sub_off = offsets[: n16 + 1]
    t16 = tokens[: int(sub_off[-1])]
    t32 = t16.astype(np.float32)
    r16 = maxsim_search_batch(queries, t16, sub_off, 10)
    r32 = maxsim_search_batch(queries, t32, sub_off, 10)
    agree = np.mean(
        [len(set(a.indices.tolist()) & set(b.indices.tolist())) / 10 for a, b in zip(r16, r32)]
    )
    print(f"\nfloat16 vs float32 exact top-10 agreement on the first {n16} docs: {agree:.3f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
