"""The query path on the embedded store: latency of each verb, and what one query costs in locks,
storage polls and filter evaluations.

    python benchmarks/query_path.py                  # this checkout
    PYTHONPATH=/path/to/other/checkout python benchmarks/query_path.py --no-insert-path

Uses only the public API (plus counting wrappers around the collection's lock, its storage poll
and the filter evaluator when they exist), so the same script measures an older checkout: run
both back to back and compare. 20,000 documents on a durable store, float16 token matrices
(8-24 tokens x 128), text of 20-80 Zipf-distributed words, 16-token queries.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--docs", type=int, default=20_000)
parser.add_argument("--dim", type=int, default=128)
parser.add_argument("--queries", type=int, default=30)
parser.add_argument("--no-insert-path", action="store_true", help="use PYTHONPATH as given")
args = parser.parse_args()
if not args.no_insert_path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import multivector  # noqa: E402
from multivector.config import Configure, DataType, Property  # noqa: E402
from multivector.query import Filter  # noqa: E402

VOCAB = [f"term{i}" for i in range(5000)]
WEIGHTS = [1.0 / (i + 1) for i in range(len(VOCAB))]


class CountingLock:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = 0

    def __enter__(self) -> CountingLock:
        self.inner.acquire()
        self.entered += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.release()

    def acquire(self, *a: Any, **k: Any) -> bool:
        self.entered += 1
        return bool(self.inner.acquire(*a, **k))

    def release(self) -> None:
        self.inner.release()


def main() -> None:
    print(f"multivector from {Path(multivector.__file__).parent}")
    print(
        f"load average {os.getloadavg()}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}"
    )
    r = random.Random(0)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        client = multivector.connect(Path(tmp) / "store")
        col = client.collections.create(
            "Bench",
            vector_config=Configure.MultiVectors.self_provided(name="mv"),
            properties=[
                Property(name="text", data_type=DataType.TEXT),
                Property(name="n", data_type=DataType.INT),
            ],
        )
        start = time.perf_counter()
        with col.batch.fixed_size(batch_size=500) as batch:
            for i in range(args.docs):
                m = rng.standard_normal((r.randint(8, 24), args.dim), dtype=np.float32)
                m /= np.linalg.norm(m, axis=1, keepdims=True)
                text = " ".join(r.choices(VOCAB, weights=WEIGHTS, k=r.randint(20, 80)))
                batch.add_object({"text": text, "n": i % 100}, uuid=str(i), vector={"mv": m})
        print(f"import: {args.docs / (time.perf_counter() - start):.0f} docs/s")
        qrng = np.random.default_rng(1)
        queries = [
            qrng.standard_normal((16, args.dim), dtype=np.float32) for _ in range(args.queries)
        ]
        words = random.Random(2)
        texts = [" ".join(words.choices(VOCAB[:400], k=4)) for _ in range(args.queries)]
        where = Filter.by_property("n").less_than(50)
        q = col.query
        verbs: dict[str, Callable[[int], Any]] = {
            "near_vector": lambda i: q.near_vector(queries[i], limit=10),
            "near_vector filtered": lambda i: q.near_vector(queries[i], limit=10, filters=where),
            "bm25": lambda i: q.bm25(texts[i], limit=10),
            "hybrid": lambda i: q.hybrid(texts[i], vector=queries[i], limit=10),
            "hybrid filtered": lambda i: q.hybrid(
                texts[i], vector=queries[i], limit=10, filters=where
            ),
        }
        for fn in verbs.values():  # compile and warm
            fn(0)
        backend: Any = col.backend
        lock = CountingLock(backend._lock)
        backend._lock = lock
        storage = backend._storage
        polls = [0]
        poll = storage.poll

        def counting_poll() -> Any:
            polls[0] += 1
            return poll()

        storage.poll = counting_poll
        print(f"{'verb':<22}{'p50 ms':>9}{'p95 ms':>9}{'locks':>7}{'polls':>7}")
        for name, fn in verbs.items():
            times = []
            lock.entered = polls[0] = 0
            for i in range(args.queries):
                t0 = time.perf_counter()
                fn(i)
                times.append((time.perf_counter() - t0) * 1000)
            n = args.queries
            p95 = sorted(times)[int(0.95 * (n - 1))]
            print(
                f"{name:<22}{statistics.median(times):>9.2f}{p95:>9.2f}"
                f"{lock.entered / n:>7.1f}{polls[0] / n:>7.1f}"
            )
        # Two threads querying at once: with the kernel outside the lock they overlap.
        for threads in (1, 2):
            per = args.queries // threads

            def run(k: int, per: int = per) -> None:
                for i in range(per):
                    q.near_vector(queries[(k * per + i) % args.queries], limit=10)

            t0 = time.perf_counter()
            pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            total = per * threads
            print(
                f"near_vector, {threads} query thread(s): "
                f"{total / (time.perf_counter() - t0):.1f} queries/s"
            )
        client.close()


if __name__ == "__main__":
    main()
