"""Durable store: import throughput, disk bytes per token vector and reopen time, next to the
in-memory store, in one process.

    python benchmarks/persistence.py [--objects 100000] [--tokens 64] [--dim 128] [--batch 1000]
                                     [--dir /tmp/mv-bench] [--synchronous full|normal]

Imports ``objects`` objects of ``tokens`` x ``dim`` float16 token vectors (generated batch by
batch, never all in memory at once) into an in-memory store (the baseline) and into a durable
folder; prints objects/s and token vectors/s for both, the folder's bytes per token vector (SQLite
alone and with the memory-mapped arena cache) against the raw float16 bytes, the close time
(which writes the cache), and the reopen time with the cache and without it (rebuilt from
SQLite), each until the first query has answered. Checks that the reopened store answers like
the one that was closed. Check free disk first: 100k x 64 x 128 needs ~3.5 GB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import multivector
from multivector.config import Configure, DataType, Property
from multivector.stores.ingest import DataObject

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


def reopen(
    path: Path, dim: int, *, mmap_cache: bool
) -> tuple[float, list[tuple[str, float | None]]]:
    subprocess.run(["sync"], check=False)
    t0 = time.perf_counter()
    client = multivector.connect(path, mmap_cache=mmap_cache, read_only=True)
    result = query(client.collections.use("Bench"), dim)
    elapsed = time.perf_counter() - t0
    client.close()
    return elapsed, result


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
    all_bytes = folder_bytes(args.dir, include_cache=True)
    t_cached, after_cached = reopen(args.dir, args.dim, mmap_cache=True)
    t_sqlite, after_sqlite = reopen(args.dir, args.dim, mmap_cache=False)
    same = before == after_cached == after_sqlite == mem_q

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
        (
            "bytes/token vector, in-memory arena",
            f"{mem_bytes / n_vectors:,.1f}",
            f"{mem_bytes / raw:.3f}x raw",
            "",
        ),
        (
            "bytes/token vector, SQLite file",
            f"{db_bytes / n_vectors:,.1f}",
            f"{db_bytes / raw:.3f}x raw",
            "",
        ),
        (
            "bytes/token vector, folder with cache",
            f"{all_bytes / n_vectors:,.1f}",
            f"{all_bytes / raw:.3f}x raw",
            "",
        ),
        ("close (writes the arena cache)", f"{t_close:.2f} s", "", ""),
        ("reopen + first query, mmap cache", f"{t_cached:.2f} s", "", ""),
        (
            "reopen + first query, from SQLite",
            f"{t_sqlite:.2f} s",
            "",
            f"{t_sqlite / t_cached:.1f}x cache",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>18}  {r[2]:>18}  {r[3]:>12}")
    print(f"identical top-10 (in-memory, before close, both reopens): {same}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
