"""Exact MaxSim search: multivector's numba kernels next to NumPy baselines, in one process.

    python benchmarks/maxsim.py [--docs 20000] [--queries 20] [--threads 1,2] [--batch 16]

Prints ms/query for our exact search (float32, float16 and int8 arenas with per-token scales,
single queries and batches) beside a naive per-document NumPy loop and sgemm + np.maximum.reduceat, the ratios, the share of
the measured sgemm GFLOP/s rate we reach (useful work = 2*q*T*d flops per query), top-10
agreement float16 and int8 vs float32, bytes per token of each arena, the machine load and whether OPENBLAS_CORETYPE is set.
"cpu ms" is process CPU time per query (all threads): on a busy machine it is the steadier figure.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _data import make_corpus, make_queries

from multivector.kernels import maxsim_search, maxsim_search_batch, topk
from multivector.kernels.quantize import quantize_int8


class BlasThreads:
    """Set BLAS threads: threadpoolctl if installed, else OpenBLAS's C entry point found in the process."""

    def __init__(self) -> None:
        self.how = "unknown (threadpoolctl not installed, no OpenBLAS symbol found)"
        self._limit: Callable[[int], None] | None = None
        if importlib.util.find_spec("threadpoolctl"):
            import threadpoolctl

            self._controller = threadpoolctl.ThreadpoolController()
            self._limit = lambda n: self._controller.limit(limits=n, user_api="blas")
            self.how = "threadpoolctl"
            return
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            for name in (
                "scipy_openblas_set_num_threads64_",
                "openblas_set_num_threads64_",
                "openblas_set_num_threads",
            ):
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn.argtypes = [ctypes.c_int]
                    self._limit = fn
                    self.how = f"{Path(path).name}:{name}"
                    return

    def set(self, n: int) -> str:
        if self._limit is None:
            return "BLAS threads not controlled"
        self._limit(n)
        return f"BLAS threads={n} via {self.how}"


class Timing(NamedTuple):
    wall: float  # seconds per query
    cpu: float  # process CPU seconds per query (all threads): robust to a busy machine


def timed(fn: Callable[[], object], repeat: int) -> Timing:
    """Seconds per call, over ``repeat`` calls after one warm-up call."""
    fn()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        fn()
    return Timing((time.perf_counter() - wall) / repeat, (time.process_time() - cpu) / repeat)


def naive_scores(query: np.ndarray, tokens: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    out = np.empty(len(offsets) - 1, dtype=np.float32)
    for i in range(len(offsets) - 1):
        out[i] = (query @ tokens[offsets[i] : offsets[i + 1]].T).max(axis=1).sum()
    return out


def sgemm_scores(query: np.ndarray, tokens: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    # valid for non-empty documents only (reduceat of an empty segment is wrong), as here
    sims = tokens[: offsets[-1]] @ query.T
    return np.maximum.reduceat(sims, offsets[:-1], axis=0).sum(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--query-tokens", type=int, default=32)
    parser.add_argument(
        "--naive-queries", type=int, default=3, help="the naive loop is slow; time this many"
    )
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()

    corpus = make_corpus(args.docs, dim=args.dim)
    tokens32, offsets = corpus.tokens, corpus.offsets
    tokens16 = tokens32.astype(np.float16)
    tokens8, scales8 = quantize_int8(tokens32)
    queries = make_queries(max(args.queries, args.batch), n_tokens=args.query_tokens, dim=args.dim)
    n_tokens = int(offsets[-1])
    flops = 2.0 * args.query_tokens * n_tokens * args.dim
    blas = BlasThreads()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(
        f"corpus: {args.docs} docs, {n_tokens} tokens x {args.dim} dims "
        f"({tokens32.nbytes / 2**20:.0f} MiB float32, {tokens16.nbytes / 2**20:.0f} MiB float16, "
        f"{(tokens8.nbytes + scales8.nbytes) / 2**20:.0f} MiB int8 + scales); "
        f"queries of {args.query_tokens} tokens; useful work {flops / 1e9:.2f} GFLOP/query"
    )
    print(
        f"numba {numba.__version__} ({numba.config.THREADING_LAYER} layer), numpy {np.__version__}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(not set)')}"
    )
    print(f"load before: {load}")

    # top-10 agreement float16 / int8 vs float32 (exactness check against the float32 search, too)
    agree, agree8 = [], []
    for q in queries[: args.queries]:
        a = set(maxsim_search(q, tokens32, offsets, 10).indices.tolist())
        b = set(maxsim_search(q, tokens16, offsets, 10).indices.tolist())
        c = set(maxsim_search(q, tokens8, offsets, 10, scales=scales8).indices.tolist())
        agree.append(len(a & b) / 10)
        agree8.append(len(a & c) / 10)
    q0 = queries[0]
    ours = maxsim_search(q0, tokens32, offsets, args.k)
    ref = topk(sgemm_scores(q0, tokens32, offsets), args.k)
    same = np.array_equal(ours.indices, ref.indices)
    print(
        f"top-10 agreement float16 vs float32: {np.mean(agree):.3f} (mean over {len(agree)} queries); "
        f"float32 top-{args.k} equals the sgemm reference: {same}"
    )
    print(
        f"top-10 agreement int8 vs float32: {np.mean(agree8):.3f} (min {min(agree8):.1f}); "
        f"bytes per token: float32 {4 * args.dim}, float16 {2 * args.dim}, "
        f"int8 {args.dim + 4} (values + one float32 scale)"
    )

    nq = args.queries
    for threads in [int(t) for t in args.threads.split(",")]:
        numba.set_num_threads(threads)
        blas_note = blas.set(threads)
        print(f"\n== {threads} thread(s): numba threads={numba.get_num_threads()}, {blas_note}")

        def per_query(fn: Callable[[np.ndarray], object], count: int) -> Timing:
            fn(queries[0])  # warm-up (compilation, page cache)
            wall, cpu = time.perf_counter(), time.process_time()
            for q in queries[:count]:
                fn(q)
            return Timing((time.perf_counter() - wall) / count, (time.process_time() - cpu) / count)

        def batched(arena: np.ndarray, scales: np.ndarray | None = None) -> Timing:
            batch = queries[: args.batch]
            maxsim_search_batch(batch, arena, offsets, args.k, scales=scales)
            n_batches = max(1, nq // args.batch)
            timing = timed(
                lambda: maxsim_search_batch(batch, arena, offsets, args.k, scales=scales),
                n_batches,
            )
            return Timing(timing.wall / args.batch, timing.cpu / args.batch)

        naive = per_query(
            lambda q: topk(naive_scores(q, tokens32, offsets), args.k), args.naive_queries
        )
        sgemm = per_query(lambda q: topk(sgemm_scores(q, tokens32, offsets), args.k), nq)
        sims = np.empty((n_tokens, args.query_tokens), dtype=np.float32)
        gemm = timed(lambda sims=sims: np.matmul(tokens32, queries[0].T, out=sims), repeat=5)
        results = {
            "naive per-doc NumPy loop": naive,
            "sgemm + maximum.reduceat": sgemm,
            "sgemm alone (no max)": gemm,
            "ours float32, single": per_query(
                lambda q: maxsim_search(q, tokens32, offsets, args.k), nq
            ),
            "ours float16, single": per_query(
                lambda q: maxsim_search(q, tokens16, offsets, args.k), nq
            ),
            "ours int8, single": per_query(
                lambda q: maxsim_search(q, tokens8, offsets, args.k, scales=scales8), nq
            ),
            f"ours float32, batch {args.batch}": batched(tokens32),
            f"ours float16, batch {args.batch}": batched(tokens16),
            f"ours int8, batch {args.batch}": batched(tokens8, scales8),
        }
        rate = flops / gemm.wall
        print(
            f"{'method':<30}{'ms/query':>10}{'cpu ms':>8}{'vs naive':>10}{'vs sgemm+r':>11}"
            f"{'GFLOP/s':>9}{'of sgemm':>9}"
        )
        for name, t in results.items():
            print(
                f"{name:<30}{t.wall * 1e3:>10.1f}{t.cpu * 1e3:>8.0f}{naive.wall / t.wall:>9.1f}x"
                f"{sgemm.wall / t.wall:>10.2f}x{flops / t.wall / 1e9:>9.1f}{flops / t.wall / rate:>9.0%}"
            )
        f32, f16 = results["ours float32, single"], results["ours float16, single"]
        i8 = results["ours int8, single"]
        print(f"float16 / float32 time: {f16.wall / f32.wall:.2f} (cpu {f16.cpu / f32.cpu:.2f})")
        print(f"int8 / float32 time: {i8.wall / f32.wall:.2f} (cpu {i8.cpu / f32.cpu:.2f})")

    for optional in ("pylate", "maxsim_cpu", "qdrant_client"):
        status = (
            "importable (not benchmarked here)"
            if importlib.util.find_spec(optional)
            else "not installed"
        )
        print(f"{optional}: {status}")
    print(
        f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
    )


if __name__ == "__main__":
    main()
