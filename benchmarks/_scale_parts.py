"""Helpers of ``benchmarks/scale.py``: machine state, memory and disk readings, the report that
prints each figure as it is measured, the fresh-process reopen and the wiki-dev quality check.

Kept free of module-level ``multivector`` imports, so the reopen child (which imports this file)
times ``import multivector`` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SPACE = "mv"


# -- machine, memory, disk ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Load, BLAS / numba threads and CPUs: printed at the start and at the end of a run."""
    import numba

    return {
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "numba_threads": numba.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }


def memory() -> dict[str, int]:
    """This process's VmRSS, VmHWM (peak RSS), RssAnon and RssFile in bytes (/proc/self/status)."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) * 1024
    return out


def mapped_rss(folder: Path | str) -> int:
    """Resident bytes of this process's file maps under ``folder`` (/proc/self/smaps)."""
    prefix, total, inside = str(Path(folder).resolve()), 0, False
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split(maxsplit=5)
            if "-" in head[0] and not head[0].endswith(":"):  # a mapping's header line
                inside = len(head) == 6 and head[5].strip().startswith(prefix)
            elif inside and head[0] == "Rss:":
                total += int(head[1]) * 1024
    return total


def folder_bytes(folder: Path) -> dict[str, int]:
    """Bytes of a store folder: the SQLite file with its WAL / shm, ``cache/``, and the rest."""
    out = {"sqlite": 0, "cache": 0, "other": 0}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(folder)
        part = (
            "cache"
            if rel.parts[0] == "cache"
            else "sqlite"
            if path.name.startswith("multivector.sqlite3")
            else "other"
        )
        out[part] += path.stat().st_size
    out["total"] = sum(out.values())
    return out


def pct(seconds: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of ``seconds``, in milliseconds."""
    return float(np.percentile(np.asarray(seconds) * 1e3, p))


def recall(found: Iterable[int], truth: Sequence[int]) -> float:
    return len(set(found) & set(truth)) / max(1, len(truth))


SEARCH = ("nprobe", "n_candidates", "n_decode", "n_rerank")


def search_defaults() -> tuple[int, ...]:
    """``Configure.VectorIndex.plaid``'s own defaults of (nprobe, n_candidates, n_decode, n_rerank)."""
    import inspect

    from multivector.config import Configure

    params = inspect.signature(Configure.VectorIndex.plaid).parameters
    return tuple(params[name].default for name in SEARCH)


def plaid(nbits: int, setting: Sequence[int] | None = None) -> Any:
    """``Configure.VectorIndex.plaid(nbits=...)``: every default, or these search settings."""
    from multivector.config import Configure

    return Configure.VectorIndex.plaid(nbits=nbits, **dict(zip(SEARCH, setting or ())))


def run_queries(
    col: Any, queries: Sequence[np.ndarray], slot_of: dict[str, int], limit: int, **kw: Any
) -> tuple[list[float], list[list[int]]]:
    """Each query through ``near_vector`` (no properties returned): seconds and document indices."""
    times, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        res = col.query.near_vector(q, limit=limit, return_properties=[], **kw)
        times.append(time.perf_counter() - t0)
        found.append([slot_of[o.uuid] for o in res.objects])
    return times, found


# -- the report ---------------------------------------------------------------------------------


class Report:
    """Prints each line at once and keeps figures for the JSON file and the summary rows."""

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}
        self.rows: list[tuple[str, str]] = []

    def say(self, line: str = "") -> None:
        print(line, flush=True)

    def put(self, key: str, value: Any) -> Any:
        self.figures[key] = value
        return value

    def row(self, what: str, value: str) -> None:
        self.rows.append((what, value))

    def markdown(self) -> str:
        lines = ["| what | value |", "|---|---|"]
        lines += [f"| {what} | {value} |" for what, value in self.rows]
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        doc = {"figures": self.figures, "summary": [{"what": w, "value": v} for w, v in self.rows]}
        path.write_text(json.dumps(doc, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


# -- reopen in a fresh process ------------------------------------------------------------------


def child_main() -> None:
    """Run in a fresh interpreter: time import, connect, use, first and second query; print JSON."""
    t0 = time.perf_counter()
    import multivector

    t1 = time.perf_counter()
    path, name, qfile = sys.argv[1], sys.argv[2], sys.argv[3]
    with np.load(qfile) as npz:
        queries = [npz[f"q{i}"] for i in range(len(npz.files))]
    mem0 = memory()
    t2 = time.perf_counter()
    client = multivector.connect(path)
    t3 = time.perf_counter()
    col = client.collections.use(name)
    t4 = time.perf_counter()
    first = col.query.near_vector(queries[0], limit=10, return_properties=[])
    t5 = time.perf_counter()
    mem = memory() | {"store_maps": mapped_rss(path)}
    col.query.near_vector(queries[-1], limit=10, return_properties=[])
    t6 = time.perf_counter()
    tops = [[o.uuid for o in first.objects]]
    tops += [
        [o.uuid for o in col.query.near_vector(q, limit=10, return_properties=[]).objects]
        for q in queries[1:]
    ]
    stats = col.index_stats().get(SPACE, {})
    client.close()
    out = {
        "import_s": t1 - t0,
        "connect_s": t3 - t2,
        "use_s": t4 - t3,
        "first_query_s": t5 - t4,
        "second_query_s": t6 - t5,
        "memory_before_connect": mem0,
        "memory_after_first": mem,
        "tops": tops,
        "trained": stats.get("trained"),
        "n_centroids": stats.get("n_centroids"),
    }
    print("RESULT " + json.dumps(out), flush=True)


def reopen(path: Path, name: str, queries: Sequence[np.ndarray], scratch: Path) -> dict[str, Any]:
    """Run :func:`child_main` in a new interpreter (numba is not fork safe) and return its
    figures, plus ``wall_s``: spawn to exit, seen from this process.
    """
    qfile = scratch / "reopen-queries.npz"
    np.savez(qfile, **{f"q{i}": q for i, q in enumerate(queries)})
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import _scale_parts; _scale_parts.child_main()"
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), name, str(qfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"reopen child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    if done.stderr.strip():
        print(f"  (child stderr: {done.stderr.strip()[:500]})", flush=True)
    out: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    out["wall_s"] = wall
    return out


# -- quality on wiki-dev ------------------------------------------------------------------------


def wiki_quality(rep: Report, *, nbits: Sequence[int], pool: int | None) -> dict[str, Any]:
    """nDCG@10 of exact vs plaid MaxSim on wiki-dev (384-dim MiniLM, in-memory store), each plaid
    configuration against exact with a paired bootstrap 95% interval; ``pool``: one more plaid
    row at ``pool_factor=pool`` (None when the API lacks it).
    """
    from _real_tokens import wiki_dev

    import multivector
    from multivector.config import Configure, DataType, Property
    from multivector.evaluation import EvalQuery, evaluate
    from multivector.evaluation.bootstrap import compare

    wd = wiki_dev(projection=None)
    queries = [EvalQuery(q, q, t) for q, t in zip(wd.query_ids, wd.query_types)]
    vectors = dict(zip(wd.query_ids, wd.queries))
    n_tok = sum(len(p) for p in wd.passages)
    rep.say(
        f"\nquality on wiki-dev: {len(wd.passages)} passages ({n_tok} tokens, 384 dims), "
        f"{len(queries)} queries; in-memory store; plaid with min_train_docs=1, "
        "flat_search_cutoff=0, retrained before the queries"
    )
    plaid = Configure.VectorIndex.plaid
    small = {"min_train_docs": 1, "flat_search_cutoff": 0}
    runs: list[tuple[str, Any, int]] = [("exact", Configure.VectorIndex.exact(), 1)]
    runs += [(f"plaid nbits={b}", plaid(nbits=b, **small), 1) for b in nbits]
    if pool:
        runs.append((f"plaid nbits=2 pool_factor={pool}", plaid(nbits=2, **small), pool))
    # n_rerank=1: only 2 * limit = 20 exact reranks, so the decoded codes choose the top 20
    runs += [
        (f"plaid nbits={b} n_rerank=2*limit", plaid(nbits=b, n_rerank=1, **small), 1) for b in nbits
    ]
    client = multivector.connect()
    out: dict[str, Any] = {}
    reference: dict[str, float] = {}
    for i, (label, index, pool_factor) in enumerate(runs):
        extra = {"pool_factor": pool_factor} if pool_factor > 1 else {}
        col = client.collections.create(
            f"Wiki{i}",
            vector_config=[Configure.MultiVectors.self_provided(name=SPACE, index=index, **extra)],
            properties=[Property(name="doc_id", data_type=DataType.TEXT)],
        )
        with col.batch.fixed_size(batch_size=500) as batch:
            for doc_id, matrix in zip(wd.doc_ids, wd.passages):
                batch.add_object(properties={"doc_id": doc_id}, vector={SPACE: matrix})
        if col.batch.failed_objects:
            raise SystemExit(f"wiki-dev import failed: {col.batch.failed_objects[:3]}")
        col.retrain_index()
        stats = col.index_stats().get(SPACE, {})
        t0 = time.perf_counter()
        report = evaluate(
            col,
            queries,
            wd.qrels,
            k=10,
            modes=("vector",),
            id_property="doc_id",
            query_vectors=vectors,
        )
        ms = (time.perf_counter() - t0) / len(queries) * 1e3
        result = report.results[0]
        per_query = {q: m.ndcg for q, m in result.per_query.items()}
        entry: dict[str, Any] = {"ndcg10": result.metrics.ndcg, "ms_per_query": ms}
        if stats:
            entry |= {"n_centroids": stats["n_centroids"], "n_tokens": stats["n_tokens"]}
        line = f"  {label:<32} nDCG@10 {result.metrics.ndcg:.4f} ({ms:.0f} ms/query)"
        if not reference:
            reference = per_query
        else:
            cmp = compare((label, per_query), ("exact", reference), report.query_groups)
            iv = cmp.overall
            entry |= {"diff": iv.mean, "low": iv.low, "high": iv.high}
            entry |= {"wins": cmp.wins, "losses": cmp.losses}
            line += f"  vs exact {iv} ({cmp.wins} better, {cmp.losses} worse)"
            line += f"; {stats.get('n_centroids')} centroids / {stats.get('n_tokens')} tokens"
        rep.say(line)
        out[label] = entry
    client.close()
    return out
