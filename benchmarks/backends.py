"""Embedded store vs Qdrant: import and query latency on the same 20,000 documents, in one run.

    python benchmarks/backends.py                       # Qdrant in-process (":memory:")
    python benchmarks/backends.py --url http://localhost:6333   # a Qdrant server as well

The embedded store is the baseline measured in the same process; the table gives each backend's
figures and the ratio to the baseline. Every query's top-10 is also compared across backends.
Documents: seeded synthetic text (Zipf-distributed vocabulary) and random unit token matrices.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable

import numpy as np

import multivector
from multivector.config import Configure, DataType, Property

VOCAB = [f"term{i}" for i in range(5000)]
WEIGHTS = [1.0 / (i + 1) for i in range(len(VOCAB))]


def make_objects(n: int, *, dim: int, seed: int = 0) -> list[multivector.DataObject]:
    """``n`` documents: 20-80 words of text, 8-24 unit token vectors of width ``dim``."""
    r = random.Random(seed)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m = rng.standard_normal((r.randint(8, 24), dim), dtype=np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        text = " ".join(r.choices(VOCAB, weights=WEIGHTS, k=r.randint(20, 80)))
        out.append(multivector.DataObject({"text": text, "n": i % 100}, str(i), m))
    return out


def fill(client: multivector.Client, objects: list[multivector.DataObject]) -> float:
    """Import ``objects`` with batches of 256; returns seconds."""
    col = client.collections.create(
        "Bench",
        vector_config=Configure.MultiVectors.self_provided(name="mv", dtype="float32"),
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="n", data_type=DataType.INT),
        ],
    )
    start = time.perf_counter()
    with col.batch.fixed_size(batch_size=256) as batch:
        for obj in objects:
            batch.add_object(obj.properties, uuid=obj.uuid, vector=obj.vector)
    elapsed = time.perf_counter() - start
    if col.batch.failed_objects or len(col) != len(objects):
        raise SystemExit(f"import failed: {col.batch.failed_objects[:3]}")
    return elapsed


def timed(fn: Callable[[int], list[str]], n: int) -> tuple[float, list[list[str]]]:
    """Median milliseconds of ``fn(i)`` over ``n`` calls, and the results."""
    times, results = [], []
    for i in range(n):
        start = time.perf_counter()
        results.append(fn(i))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), results


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--url", default=os.environ.get("QDRANT_URL"))
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}; {args.docs} docs, dim {args.dim}")
    objects = make_objects(args.docs, dim=args.dim)
    rng = np.random.default_rng(1)
    queries = [rng.standard_normal((16, args.dim), dtype=np.float32) for _ in range(args.queries)]
    words = random.Random(2)
    texts = [" ".join(words.choices(VOCAB[:400], k=4)) for _ in range(args.queries)]

    backends: dict[str, Callable[[], multivector.Client]] = {
        "embedded": multivector.connect,
        "qdrant :memory:": lambda: multivector.connect_to_qdrant(location=":memory:"),
    }
    if args.url:
        backends["qdrant server"] = lambda: multivector.connect_to_qdrant(url=args.url)
    rows: dict[str, dict[str, float]] = {}
    tops: dict[str, dict[str, list[list[str]]]] = {}
    for name, connect in backends.items():
        client = connect()
        client.collections.delete("Bench")
        seconds = fill(client, objects)
        col = client.collections.use("Bench")
        rows[name] = {"import s": seconds, "import obj/s": len(objects) / seconds}
        tops[name] = {}
        for verb, fn in {
            "near_vector": lambda i, c=col: c.query.near_vector(queries[i], limit=10).objects,
            "bm25": lambda i, c=col: c.query.bm25(texts[i], limit=10).objects,
            "hybrid": lambda i, c=col: (
                c.query.hybrid(texts[i], vector=queries[i], limit=10).objects
            ),
        }.items():
            ms, results = timed(lambda i, f=fn: [o.uuid for o in f(i)], args.queries)
            rows[name][f"{verb} ms"] = ms
            tops[name][verb] = results
        client.collections.delete("Bench")
        client.close()

    base = rows["embedded"]
    header = f"{'backend':<16}" + "".join(f"{k:>16}" for k in base)
    print(header)
    for name, row in rows.items():
        print(f"{name:<16}" + "".join(f"{v:>16.2f}" for v in row.values()))
        if name != "embedded":
            ratio = {k: (v / base[k]) for k, v in row.items()}
            print(f"{'  x baseline':<16}" + "".join(f"{v:>16.2f}" for v in ratio.values()))
            same = {v: tops[name][v] == tops["embedded"][v] for v in tops[name]}
            print(f"  top-10 identical to embedded: {same}")


if __name__ == "__main__":
    main()
