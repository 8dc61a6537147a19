"""Durable store: import throughput, disk bytes per token vector and reopen time, next to the
in-memory store, in one run.

    python benchmarks/persistence.py [--objects 100000] [--tokens 64] [--dim 128] [--batch 1000]
                                     [--dir /tmp/mv-bench] [--synchronous full|normal]

Imports ``objects`` objects of ``tokens`` x ``dim`` float16 token vectors (generated batch by
batch, never all in memory at once) into an in-memory store (the baseline) and into a durable
folder; prints objects/s and token vectors/s for both, the folder's bytes per token vector against
the raw float16 bytes (SQLite file; the default folder, SQLite plus the small BM25 cache; the
folder with the optional memory-mapped token cache), the close time, and for each configuration
the reopen time in a fresh process, split into open (connect + load the collection) and the first
and second query, against the in-memory store's query time. Checks that every reopened store
answers like the one that was closed. Check free disk first: 100k x 64 x 128 needs ~3.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import multivector
from multivector.api.ingest import DataObject
from multivector.config import Configure, DataType, Property

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron".split()


def batches(n: int, tokens: int, dim: int, batch: int) -> Iterator[list[DataObject]]:
    rng = np.random.default_rng(0)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        mats = rng.standard_normal((stop - start, tokens, dim), dtype=np.float32)
        mats /= np.linalg.norm(mats, axis=2, keepdims=True)
        yield [
            DataObject(
                properties={
                    "text": " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 9)) + f" doc{i}",
                    "n": i,
                },
                uuid=multivector.generate_uuid5(f"doc{i}"),
                vector=mats[i - start],
            )
            for i in range(start, stop)
        ]


def create(client: multivector.Client, dim: int) -> multivector.Collection:
    return client.collections.create(
        "Bench",
        vector_config=[Configure.MultiVectors.self_provided(name="default", dimension=dim)],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="n", data_type=DataType.INT),
        ],
    )


def run_import(col: multivector.Collection, args: argparse.Namespace) -> float:
    t0 = time.perf_counter()
    for objs in batches(args.objects, args.tokens, args.dim, args.batch):
        res = col.data.insert_many(objs)
        if res.errors:
            raise SystemExit(f"import failed: {res.errors}")
    return time.perf_counter() - t0


def query(col: multivector.Collection, dim: int) -> list[tuple[str, float | None]]:
    q = np.random.default_rng(1).standard_normal((32, dim)).astype(np.float32)
    res = col.query.near_vector(
        q, limit=10, return_metadata=multivector.MetadataQuery(distance=True)
    )
    return [(o.uuid, o.metadata.distance) for o in res.objects]


REOPEN = """
import json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import numpy as np
import multivector
t1 = time.perf_counter()
client = multivector.connect({path!r}, mmap_cache={mmap_cache!r}, read_only=True)
col = client.collections.use("Bench")
col.backend.count()
t2 = time.perf_counter()
q = np.random.default_rng(1).standard_normal((32, {dim})).astype(np.float32)
meta = multivector.MetadataQuery(distance=True)
res = col.query.near_vector(q, limit=10, return_metadata=meta)
t3 = time.perf_counter()
col.query.near_vector(q, limit=10, return_metadata=meta)
t4 = time.perf_counter()
kw = [o.uuid for o in col.query.bm25("alpha doc7", limit=5).objects]
print(json.dumps(dict(imp=t1 - t0, open=t2 - t1, first=t3 - t2, second=t4 - t3, kw=kw,
                      top=[[o.uuid, o.metadata.distance] for o in res.objects])))
"""


def reopen(path: Path, dim: int, *, mmap_cache: bool) -> dict[str, Any]:
    """Open, first and second query of a read-only client in a fresh process."""
    subprocess.run(["sync"], check=False)
    code = REOPEN.format(
        root=str(Path(__file__).resolve().parents[1]),
        path=str(path),
        mmap_cache=mmap_cache,
        dim=dim,
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["top"] = [tuple(pair) for pair in result["top"]]
    return result


def folder_bytes(path: Path, *, include_cache: bool) -> int:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and (include_cache or "cache" not in p.relative_to(path).parts):
            total += p.stat().st_size
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mv-bench"))
    ap.add_argument("--synchronous", choices=["full", "normal"], default="full")
    ap.add_argument("--repeats", type=int, default=3, help="fresh-process reopens per config")
    args = ap.parse_args()
    n_vectors = args.objects * args.tokens
    raw = n_vectors * args.dim * 2
    print(
        f"load: {os.getloadavg()}  free disk: {shutil.disk_usage(args.dir.parent).free / 1e9:.1f} GB"
    )
    print(
        f"{args.objects} objects x {args.tokens} tokens x {args.dim} dims: raw float16 {raw / 1e9:.2f} GB"
    )

    with multivector.connect() as mem:
        col = create(mem, args.dim)
        t_mem = run_import(col, args)
        mem_q = query(col, args.dim)
        t0 = time.perf_counter()
        query(col, args.dim)
        t_mem_query = time.perf_counter() - t0
        mem_kw = [o.uuid for o in col.query.bm25("alpha doc7", limit=5).objects]
        mem_bytes = sum(col.backend.nbytes().values())

    shutil.rmtree(args.dir, ignore_errors=True)
    client = multivector.connect(args.dir, synchronous=args.synchronous)
    col = create(client, args.dim)
    t_disk = run_import(col, args)
    before = query(col, args.dim)
    t0 = time.perf_counter()
    client.close()
    t_close = time.perf_counter() - t0
    db_bytes = folder_bytes(args.dir, include_cache=False)
    default_bytes = folder_bytes(args.dir, include_cache=True)
    n = args.repeats
    runs = {"default": [reopen(args.dir, args.dim, mmap_cache=False) for _ in range(n)]}
    (args.dir / "cache").rename(args.dir / "cache.off")
    runs["no cache"] = [reopen(args.dir, args.dim, mmap_cache=False) for _ in range(n)]
    shutil.rmtree(args.dir / "cache.off")
    with multivector.connect(args.dir, mmap_cache=True) as writer:  # rebuilds the cache at close
        writer.collections.use("Bench").backend.count()
    mmap_bytes = folder_bytes(args.dir, include_cache=True)
    runs["mmap_cache"] = [reopen(args.dir, args.dim, mmap_cache=True) for _ in range(n)]
    same = all(
        r["top"] == before == mem_q and r["kw"] == mem_kw for rs in runs.values() for r in rs
    )

    rows = [
        (
            "import, in-memory (baseline)",
            f"{args.objects / t_mem:,.0f} obj/s",
            f"{n_vectors / t_mem:,.0f} vec/s",
            "1.00x",
        ),
        (
            f"import, durable (synchronous={args.synchronous})",
            f"{args.objects / t_disk:,.0f} obj/s",
            f"{n_vectors / t_disk:,.0f} vec/s",
            f"{t_mem / t_disk:.2f}x",
        ),
    ]
    for label, size in (
        ("in-memory arena", mem_bytes),
        ("SQLite file", db_bytes),
        ("folder, default", default_bytes),
        ("folder, mmap_cache=True", mmap_bytes),
    ):
        rows.append(
            (
                f"bytes/token vector, {label}",
                f"{size / n_vectors:,.1f}",
                f"{size / raw:.3f}x raw",
                "",
            )
        )
    rows.append(("close (writes the cache)", f"{t_close:.2f} s", "", ""))
    rows.append(("query, in-memory (baseline, warm)", f"{t_mem_query:.2f} s", "", "1.00x"))
    for label, rs in runs.items():

        def span(key: str, rs: list[dict[str, Any]] = rs) -> str:
            values = sorted(r[key] if key != "total" else r["open"] + r["first"] for r in rs)
            return " / ".join(f"{v:.2f}" for v in values) + " s"

        rows.append((f"reopen, {label}: open (best .. worst)", span("open"), "", ""))
        rows.append((f"reopen, {label}: first query", span("first"), "", ""))
        rows.append((f"reopen, {label}: second query", span("second"), "", ""))
        rows.append((f"reopen, {label}: open + first query", span("total"), "", ""))
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>22}  {r[2]:>18}  {r[3]:>8}")
    print(
        f"reopens run in fresh processes, {n} per configuration: default = SQLite + BM25 cache "
        "(mmap_cache=False), no cache = SQLite only, mmap_cache = memory-mapped token copy"
    )
    print(f"identical top-10 and BM25 top-5 (in-memory, before close, every reopen): {same}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
