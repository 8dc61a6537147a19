"""Exact and low-precision MaxSim search against the machine's fp32 ceiling, in one process.

    python benchmarks/maxsim.py [--docs 20000] [--queries 20] [--threads 1,2] [--batch 16]
                                [--no-sweep] [--no-peers] [--no-child]

Prints, per thread count (numba and BLAS set alike):

- the fp32 ceiling: a large numpy sgemm (``--ceiling-n``, 3072^3 by default) in GFLOP/s, and what
  it implies for one query's useful work (2 * q * T * d flops): the "ceiling ms";
- ours per arena dtype and precision (float32 / float16 arenas exact, float16 scored in bf16,
  int8 exact over the dequantised rows, int8 x int8 with VNNI), single queries and batches,
  alone and interleaved with a 512x512 sgemm before each query (a pipeline's embedding step;
  only the search is timed): median ms/query, share of the ceiling (ceiling ms / ours), time
  relative to the ceiling time (targets: bf16 <= 0.6x, int8 <= 0.4x), speed-up 2 vs 1 thread;
- the interleaved rows once more in a child process with ``OPENBLAS_THREAD_TIMEOUT=4`` (OpenBLAS
  workers sleep right after a call instead of spinning ~0.1 s), see docs/performance.md;
- top-10 agreement with the float32 search on clustered tokens (benchmarks/scale.py's
  ``terms`` geometry) and on random unit vectors (the near-tie worst case);
- a shape sweep (documents of 8-16, 32-128 and 300-1100 tokens; dims 64 / 96 / 128);
- the peers that are installed (lateweave, maxsim-cpu, fast-maxsim; PyLate needs torch), the
  instruction sets chosen, and the load average before and after (the machine is shared: read
  ratios measured in the same run, not absolute times).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scale
from _data import make_corpus, make_queries

from multivector.kernels import _isa, _simd, maxsim_search, maxsim_search_batch
from multivector.kernels.quantize import quantize_int8

PEERS = {"lateweave": "lateweave", "maxsim-cpu": "maxsim_cpu", "fast-maxsim": "fast_maxsim"}


class BlasThreads:
    """Set OpenBLAS's thread count through its C entry point found in the process."""

    def __init__(self) -> None:
        self.how = "not controlled (no OpenBLAS symbol found)"
        self._limit: Callable[[int], None] | None = None
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

    def set(self, n: int) -> None:
        if self._limit is not None:
            self._limit(n)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def median_ms(times: list[float]) -> float:
    return float(np.median(times)) * 1e3


def ceiling_gflops(n: int) -> float:
    """Best of 3 n^3 sgemm rates (GFLOP/s) with the current BLAS threads."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = min(_timed(lambda: np.matmul(a, a, out=out)) for _ in range(3))
    return 2.0 * n**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Workload:
    """The corpus in every storage form, the queries and the variants to time."""

    def __init__(self, args: argparse.Namespace) -> None:
        corpus = make_corpus(args.docs, dim=args.dim)
        self.offsets = corpus.offsets
        self.t32 = corpus.tokens
        self.t16 = self.t32.astype(np.float16)
        self.v8, self.s8 = quantize_int8(self.t32)
        self.queries = make_queries(
            max(args.queries, args.batch), n_tokens=args.query_tokens, dim=args.dim
        )
        self.flops = 2.0 * args.query_tokens * int(self.offsets[-1]) * args.dim
        self.k = args.k
        o, k = self.offsets, self.k
        self.variants: dict[str, Callable[[list[np.ndarray]], object]] = {
            "float32 arena, exact": lambda qs: maxsim_search_batch(qs, self.t32, o, k),
            "float16 arena, exact": lambda qs: maxsim_search_batch(qs, self.t16, o, k),
            "float16 arena, bf16": lambda qs: maxsim_search_batch(
                qs, self.t16, o, k, precision="bfloat16"
            ),
            "int8 arena, exact": lambda qs: maxsim_search_batch(qs, self.v8, o, k, scales=self.s8),
            "int8 arena, int8 VNNI": lambda qs: maxsim_search_batch(
                qs, self.v8, o, k, scales=self.s8, precision="int8"
            ),
        }


def time_variant(
    w: Workload, fn: Callable[[list[np.ndarray]], object], *, n: int, batch: int, blas: bool
) -> float:
    """Best seconds per query over the calls (the ceiling is a best of 3 too: the machine is
    shared): singles (``batch`` 1) or batches, optionally each after a 512x512 sgemm."""
    a = np.random.default_rng(2).standard_normal((512, 512), dtype=np.float32)
    fn(w.queries[:batch])  # warm-up: compilation, page cache
    times = []
    for i in range(max(1, n // batch)):
        queries = w.queries[(i * batch) % len(w.queries) :][:batch] or w.queries[:batch]
        if blas:
            a @ a  # the embedding step of a pipeline: not timed
        times.append(_timed(lambda qs=queries: fn(qs)) / len(queries))
    return float(np.min(times))


def measure(w: Workload, args: argparse.Namespace, threads: int, *, rows: str) -> dict[str, float]:
    """ms/query of every variant (``rows``: "all" or "interleaved") at ``threads`` threads."""
    out: dict[str, float] = {}
    for name, fn in w.variants.items():
        if rows == "all":
            out[f"{name} | single, alone"] = time_variant(
                w, fn, n=args.queries, batch=1, blas=False
            )
        out[f"{name} | single, +sgemm"] = time_variant(w, fn, n=args.queries, batch=1, blas=True)
        if rows == "all":
            out[f"{name} | batch {args.batch}, alone"] = time_variant(
                w, fn, n=max(args.queries, 2 * args.batch), batch=args.batch, blas=False
            )
    return out


def agreement(n_docs: int, n_queries: int) -> dict[str, dict[str, float]]:
    """Mean (and min) top-10 overlap with the float32 search, on two token geometries."""
    data = scale.make_data(n_docs, 256, structure="terms")
    geometries = {
        "clustered (scale.py terms)": (
            data.tokens.astype(np.float32),
            data.offsets,
            scale.make_queries(n_queries, data, structure="terms"),
        ),
    }
    rnd = make_corpus(n_docs)
    geometries["random unit vectors"] = (rnd.tokens, rnd.offsets, make_queries(n_queries))
    result: dict[str, dict[str, float]] = {}
    for geometry, (t32, offsets, queries) in geometries.items():
        t16 = t32.astype(np.float16)
        v8, s8 = quantize_int8(t32)
        runs = {
            "float16 exact": lambda q, t16=t16, o=offsets: maxsim_search(q, t16, o, 10),
            "float16 bf16": lambda q, t16=t16, o=offsets: maxsim_search(
                q, t16, o, 10, precision="bfloat16"
            ),
            "int8 exact": lambda q, v8=v8, s8=s8, o=offsets: maxsim_search(q, v8, o, 10, scales=s8),
            "int8 VNNI": lambda q, v8=v8, s8=s8, o=offsets: maxsim_search(
                q, v8, o, 10, scales=s8, precision="int8"
            ),
        }
        scores: dict[str, list[float]] = {name: [] for name in runs}
        for q in queries:
            exact = set(maxsim_search(q, t32, offsets, 10).indices.tolist())
            for name, run in runs.items():
                scores[name].append(len(exact & set(run(q).indices.tolist())) / 10)
        result[geometry] = {n: float(np.mean(v)) for n, v in scores.items()}
        result[geometry] |= {f"{n} min": float(np.min(v)) for n, v in scores.items()}
    return result


def sweep(args: argparse.Namespace, ceilings: dict[int, float]) -> None:
    """Share of the ceiling of the float16 exact kernel over document lengths and dims."""
    print("\n== shape sweep: float16 arena, exact; ~400k tokens each; share of the ceiling")
    print(
        f"{'doc tokens':<12}{'dim':>5}"
        + "".join(f"{f'{t}T single':>12}{f'{t}T batch':>11}" for t in ceilings)
    )
    for lo, hi in ((8, 16), (32, 128), (300, 1100)):
        for dim in (64, 96, 128):
            n_docs = max(8, 400_000 // ((lo + hi) // 2))
            corpus = make_corpus(n_docs, min_len=lo, max_len=hi, dim=dim, seed=3)
            t16, offsets = corpus.tokens.astype(np.float16), corpus.offsets
            queries = make_queries(16, n_tokens=args.query_tokens, dim=dim, seed=4)
            flops = 2.0 * args.query_tokens * int(offsets[-1]) * dim
            cells = ""
            for threads, rate in ceilings.items():
                numba.set_num_threads(threads)
                w = Workload.__new__(Workload)
                w.queries = queries

                def fn(
                    qs: list[np.ndarray], t16: np.ndarray = t16, o: np.ndarray = offsets
                ) -> object:
                    return maxsim_search_batch(qs, t16, o, 10)

                single = time_variant(w, fn, n=8, batch=1, blas=False)
                batch = time_variant(w, fn, n=32, batch=16, blas=False)
                ceil_s = flops / (rate * 1e9)
                cells += f"{ceil_s / single:>12.0%}{ceil_s / batch:>11.0%}"
            print(f"{f'{lo}-{hi}':<12}{dim:>5}{cells}")


def peers(w: Workload, threads: int, ceiling_s: float) -> None:
    """The installed peers on the same float32 corpus, single queries."""
    docs = [w.t32[w.offsets[i] : w.offsets[i + 1]] for i in range(len(w.offsets) - 1)]
    lengths = np.diff(w.offsets)
    ours = time_variant(w, w.variants["float32 arena, exact"], n=5, batch=1, blas=False)
    print(
        f"\n== peers, float32 arena, single queries, {threads} thread(s) (ours {ours * 1e3:.1f} ms)"
    )
    for package, module_name in PEERS.items():
        if importlib.util.find_spec(module_name) is None:
            print(f"{package}: not installed")
            continue
        module = importlib.import_module(module_name)
        if module_name == "lateweave":

            def fn(qs: list[np.ndarray], m: object = module) -> object:
                return m.maxsim_scores_packed(qs[0], w.t32, lengths, threads=threads)  # type: ignore[attr-defined]
        else:

            def fn(qs: list[np.ndarray], m: object = module) -> object:
                return m.maxsim_scores_variable(qs[0], docs)  # type: ignore[attr-defined]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # maxsim-cpu's numpy.core import
            t = time_variant(w, fn, n=5, batch=1, blas=False)
        print(
            f"{package:<14}{t * 1e3:>9.1f} ms  {ceiling_s / t:>5.0%} of the ceiling  "
            f"{t / ours:>5.2f}x ours (scores only, no top-k)"
        )
    print("pylate: not benchmarked (installing it pulls torch and CUDA wheels)")


def child_interleaved(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Re-run the interleaved rows in a child with OPENBLAS_THREAD_TIMEOUT=4 (read at BLAS load)."""
    env = {**os.environ, "OPENBLAS_THREAD_TIMEOUT": "4"}
    command = [
        sys.executable,
        __file__,
        "--child",
        f"--docs={args.docs}",
        f"--queries={args.queries}",
    ]
    command += [f"--threads={args.threads}", f"--dim={args.dim}", f"--batch={args.batch}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        print(done.stderr[-2000:])
        return {}
    parsed: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


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
    parser.add_argument("--ceiling-n", type=int, default=3072)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-child", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    blas = BlasThreads()
    w = Workload(args)
    if args.child:  # interleaved rows only, as JSON on the last line
        found = {}
        for threads in thread_counts:
            numba.set_num_threads(threads)
            blas.set(threads)
            found[str(threads)] = measure(w, args, threads, rows="interleaved")
        print(json.dumps(found))
        return

    isa = {
        n: "native" if t is _simd.NATIVE else "portable"
        for n, t in (("bf16", _isa.BF16_ISA), ("int8", _isa.INT8_ISA))
    }
    print(
        f"corpus: {args.docs} docs, {int(w.offsets[-1])} tokens x {args.dim} dims; queries of "
        f"{args.query_tokens} tokens; useful work {w.flops / 1e9:.2f} GFLOP/query"
    )
    print(
        f"numba {numba.__version__}, numpy {np.__version__}, BLAS threads via {blas.how}; "
        f"bf16 kernels {isa['bf16']} (vdpbf16ps), int8 kernels {isa['int8']} (vpdpbusd); "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(not set)')}, "
        f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', '(not set)')}"
    )
    print(f"{load()} (before)")

    table: dict[int, dict[str, float]] = {}
    ceilings: dict[int, float] = {}
    for threads in thread_counts:
        numba.set_num_threads(threads)
        blas.set(threads)
        ceilings[threads] = ceiling_gflops(args.ceiling_n)
        table[threads] = measure(w, args, threads, rows="all")
        ceilings[threads] = max(ceilings[threads], ceiling_gflops(args.ceiling_n))  # after too
    child = {} if args.no_child else child_interleaved(args)

    print(
        f"\n== fp32 ceiling (numpy sgemm {args.ceiling_n}^3, best before/after the rows): "
        + ", ".join(
            f"{t} thread(s) {r:.1f} GFLOP/s = {w.flops / (r * 1e9) * 1e3:.1f} ms/query"
            for t, r in ceilings.items()
        )
    )
    print(
        "ms = best per query over the calls; 'of ceil' = ceiling ms / ours; 'x ceil' = ours / ceiling ms"
    )
    head = f"{'variant':<24}{'mode':<20}"
    for t in thread_counts:
        head += f"{f'{t}T ms':>9}{'of ceil':>8}{'x ceil':>7}"
    if len(thread_counts) > 1:
        head += f"{'2v1':>6}"
    print(head)
    rows = list(table[thread_counts[0]])
    for key in rows + [
        k.replace("+sgemm", "+sgemm, timeout=4") for k in rows if "+sgemm" in k and child
    ]:
        variant, mode = key.split(" | ")
        line = f"{variant:<24}{mode:<20}"
        values = []
        for t in thread_counts:
            source = child.get(str(t), {}) if "timeout=4" in mode else table[t]
            value = source.get(key.replace(", timeout=4", ""), float("nan"))
            values.append(value)
            ceil_s = w.flops / (ceilings[t] * 1e9)
            line += f"{value * 1e3:>9.1f}{ceil_s / value:>8.0%}{value / ceil_s:>6.2f}x"
        if len(values) > 1:
            line += f"{values[0] / values[1]:>5.2f}x"
        print(line)
    print(f"{load()} (after the timed rows)")

    print("\n== top-10 agreement with the float32 search (mean, min over queries)")
    for geometry, found in agreement(args.docs, args.queries).items():
        cells = ", ".join(
            f"{n} {v:.3f} (min {found[n + ' min']:.1f})"
            for n, v in found.items()
            if not n.endswith(" min")
        )
        print(f"{geometry}: {cells}")
    if not args.no_sweep:
        sweep(args, ceilings)
    if not args.no_peers:
        top = thread_counts[-1]
        numba.set_num_threads(top)
        blas.set(top)
        peers(w, top, w.flops / (ceilings[top] * 1e9))
    print(f"\n{load()} (after)")


if __name__ == "__main__":
    main()
