"""Issue 14 at scale: a compressed, persisted PLAID index on the durable store, through the public
API, on realistic token geometry; every figure below comes from one run of this script.

    python benchmarks/scale.py --docs 200000 --queries 50 --sweep
    python benchmarks/scale.py --docs 1000000 --queries 50 --data-dir /big/docs-1m --path /big/store
    python benchmarks/scale.py --docs 3000 --queries 10            # a smoke test

Disk: the generated data is ~256 B per token vector (1M documents: ~64M tokens, ~16 GB) and the
store ~570 B per token vector (SQLite rows plus the ``cache/`` copy the index reranks from), so
put both on a disk with room at 1M (``--data-dir``, ``--path``). Check ``uptime`` first: the
machine is shared, and the exact baseline alone reads the whole arena once per query.

Data: ``benchmarks/_real_tokens.py`` (read its docstring). Documents are spans of real
all-MiniLM-L6-v2 token vectors from the 1,501 wiki-dev passages, PCA-projected 384 -> 128 and
lightly noised (``make_documents``: float16, memory-mapped, cached in ``benchmarks/.cache/docs-<n>``
or ``--data-dir``; ``iter_documents`` yields the same documents for the import); queries are the
real wiki-dev queries projected the same way (``make_queries``), cycled past 267.

Measured, in order:

- **Import** through ``collection.batch.fixed_size`` into ``multivector.connect(path=--path)``
  (default a fresh folder under /tmp, removed at the end unless ``--keep``): one space ``mv``,
  ``Configure.MultiVectors.self_provided(index=Configure.VectorIndex.plaid(nbits=--nbits))``
  (plus ``pool_factor=--pool-factor`` when the API has it), an INT property ``part = i % 10``,
  uuid ``generate_uuid5(i)``. Documents/s and token vectors/s.
- **Training**: ``collection.retrain_index()`` timed, then ``collection.index_stats()["mv"]``:
  centroids and index bytes per stored token vector by part.
- **Resident memory**: this process's VmRSS / VmHWM (peak) after import + training, split into
  anonymous (heap: the store's arena, the index, Python, numba) and file-backed pages (mapped
  files whose pages were touched; the generated float16 data is a map too, read only later).
- **Exact baseline**: ``multivector.kernels.maxsim_search`` (top 100, single query, timed one by
  one) on the generated arrays = the ground truth and the exact p50.
- **Approximate**: ``near_vector(limit=10)`` and ``limit=100``: p50 / p95, recall@10 / @100
  against exact, exact p50 / approximate p50; ``--sweep`` over (nprobe, n_candidates, n_decode,
  n_rerank) with ``collection.config.update(vector_index_config=...)`` (the trained index is kept;
  one warm-up query after each update); a filtered run (``part == 3``: 10% of the documents)
  against exact MaxSim with the same mask.
- **Disk** after ``client.close()``: the store folder per token vector, SQLite (+ WAL) vs
  ``cache/`` (memory-mapped float16 rows and the persisted index).
- **Reopen** in a fresh interpreter: import, ``connect(path)``, ``collections.use``, first
  ``near_vector``, its RSS after that query, and whether its top 10 equal the results before close.
- **Quality** on real text: nDCG@10 on wiki-dev (``wiki_dev(projection=None)``: 384-dim MiniLM,
  1,501 passages, 267 queries; an in-memory store), exact vs plaid (``min_train_docs=1,
  flat_search_cutoff=0``, then ``retrain_index()``) at nbits 1 / 2 / 4, pool_factor 2 (when the
  API has it), and nbits 1 / 2 / 4 with ``n_rerank=1`` (only ``2 * limit`` exact reranks, so the
  decoded codes choose the top 20): each against exact with the paired bootstrap 95% interval of
  the difference (``multivector.evaluation``). So small a corpus gets few centroids (the run
  prints how many) and the default ``n_candidates`` covers most or all of it: this checks the
  compressed codes on real text, not behaviour at scale.

Output: each figure as soon as it is measured, then a Markdown summary (``--json FILE``: the same as
JSON). The machine is shared: load, BLAS and numba threads are printed at the start and the end.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _real_tokens import CACHE_DIR, describe, iter_documents, make_documents, make_queries
from _scale_parts import (
    SPACE,
    Report,
    folder_bytes,
    machine,
    mapped_rss,
    memory,
    pct,
    plaid,
    recall,
    reopen,
    run_queries,
    search_defaults,
    wiki_quality,
)

import multivector
from multivector.config import Configure, DataType, Property
from multivector.kernels import maxsim_search
from multivector.query import Filter

NAME = "Scale"
DEFAULTS = search_defaults()  # (nprobe, n_candidates, n_decode, n_rerank), as plaid() has them
SWEEP = [
    (2, 512, 256, 64),
    (4, 1024, 512, 64),
    (4, 1024, 1024, 128),
    (8, 1024, 1024, 128),
    (8, 2048, 512, 128),
    (8, 2048, 1024, 64),
    (8, 2048, 1024, 256),
    (8, 2048, 2048, 128),
    (16, 2048, 1024, 128),
    (16, 4096, 2048, 256),
]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--docs", type=int, default=200_000)
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--nbits", type=int, default=2, choices=[1, 2, 4])
    p.add_argument("--pool-factor", type=int, default=1, help="if self_provided() takes it")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--data-dir", type=Path, default=None, help="default benchmarks/.cache/docs-<n>")
    p.add_argument("--path", type=Path, default=None, help="store folder (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the temp store folder")
    p.add_argument("--sweep", action="store_true", help="search settings sweep")
    p.add_argument("--check-queries", type=int, default=5, help="queries compared after reopen")
    p.add_argument("--no-quality", action="store_true", help="skip the wiki-dev nDCG part")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p.parse_args()


def per_token(mem: dict[str, int], n_tok: int, base: dict[str, int] | None = None) -> str:
    """RSS split as bytes per token vector (minus ``base``, the same process earlier)."""

    def b(key: str) -> float:
        return (mem[key] - (base[key] if base else 0)) / n_tok

    return (
        f"VmRSS {b('VmRSS'):.1f} B/token (anon {b('RssAnon'):.1f}, file-backed {b('RssFile'):.1f})"
    )


def import_docs(col: Any, args: argparse.Namespace, n_gen: int, rep: Report) -> None:
    t0, i = time.perf_counter(), 0
    with col.batch.fixed_size(batch_size=args.batch_size) as batch:
        for block in iter_documents(args.docs, args.batch_size):
            for matrix in block:
                uuid = multivector.generate_uuid5(i)
                batch.add_object(properties={"part": i % 10}, vector={SPACE: matrix}, uuid=uuid)
                i += 1
    secs = time.perf_counter() - t0
    if col.batch.failed_objects:
        raise SystemExit(f"import failed: {col.batch.failed_objects[:3]}")
    imp = rep.put("import", {"s": secs, "docs_per_s": i / secs, "tokens_per_s": n_gen / secs})
    rep.say(
        f"import (batch.fixed_size({args.batch_size}), {i} objects): {secs:.1f} s = "
        f"{imp['docs_per_s']:,.0f} docs/s, {imp['tokens_per_s']:,.0f} token vectors/s"
    )
    rep.row("import", f"{imp['docs_per_s']:,.0f} docs/s ({imp['tokens_per_s']:,.0f} tokens/s)")


def train(col: Any, dim: int, rep: Report) -> int:
    t0 = time.perf_counter()
    trained = col.retrain_index()
    secs = time.perf_counter() - t0
    stats = col.index_stats()[SPACE]
    n_tok = int(stats["n_tokens"])
    parts = {k: v / n_tok for k, v in stats["bytes"].items()}
    total = sum(parts.values())
    report = {k: v._asdict() if hasattr(v, "_asdict") else repr(v) for k, v in trained.items()}
    rep.put("training", {"s": secs, "report": report, "index_stats": stats})
    rep.say(f"training: retrain_index() {secs:.1f} s: {report.get(SPACE)}")
    rep.say(
        f"  index_stats: trained={stats['trained']}, {stats['n_centroids']} centroids, "
        f"{n_tok} stored token vectors, nbits={stats['nbits']}, drift={stats['drift']}"
    )
    rep.say("  index B/token: " + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()))
    rep.say(f"  index total {total:.2f} B/token; the float16 rows ({2 * dim} B/token) beside it")
    rep.row("training", f"{secs:.1f} s ({stats['n_centroids']} centroids, {n_tok:,} stored tokens)")
    rep.row("index resident B/token by part", ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    rep.row("index resident B/token total", f"{total:.2f} (+ {2 * dim} float16 rows)")
    return n_tok


def exact(queries: list, tokens: np.ndarray, offsets: np.ndarray, k: int, mask: Any) -> tuple:
    """Ground truth (document indices) and seconds, one ``maxsim_search`` call per query."""
    times, truth = [], []
    for q in queries:
        t0 = time.perf_counter()
        truth.append(maxsim_search(q, tokens, offsets, k, mask).indices.tolist())
        times.append(time.perf_counter() - t0)
    return truth, times


def approximate(
    col: Any, data: Any, queries: list, truth: list, ex_p50: float, args: Any, rep: Report
) -> None:
    slot_of = {multivector.generate_uuid5(j): j for j in range(args.docs)}

    def measure(label: str) -> dict[str, float]:
        col.query.near_vector(queries[0], limit=10)  # warm-up (after each config update)
        t10, f10 = run_queries(col, queries, slot_of, 10)
        t100, f100 = run_queries(col, queries, slot_of, 100)
        r = {"p50_10": pct(t10, 50), "p95_10": pct(t10, 95)}
        r |= {"p50_100": pct(t100, 50), "p95_100": pct(t100, 95)}
        r["recall10"] = float(np.mean([recall(f, t[:10]) for f, t in zip(f10, truth)]))
        r["recall100"] = float(np.mean([recall(f, t) for f, t in zip(f100, truth)]))
        rep.say(
            f"  {label:<21} limit 10: p50 {r['p50_10']:6.1f} ms p95 {r['p95_10']:6.1f}, R@10 "
            f"{r['recall10']:.3f} | limit 100: p50 {r['p50_100']:6.1f} p95 {r['p95_100']:6.1f}, "
            f"R@100 {r['recall100']:.3f} | exact/approx {ex_p50 / r['p50_10']:.1f}x"
        )
        return r

    rep.say("approximate near_vector, (nprobe, n_candidates, n_decode, n_rerank):")
    d = rep.put("approx_default", measure(f"defaults {DEFAULTS}"))
    rep.row("approx p50 / p95, limit 10", f"{d['p50_10']:.1f} / {d['p95_10']:.1f} ms")
    rep.row("approx p50 / p95, limit 100", f"{d['p50_100']:.1f} / {d['p95_100']:.1f} ms")
    rep.row("recall@10 / recall@100 vs exact", f"{d['recall10']:.3f} / {d['recall100']:.3f}")
    rep.row("exact p50 / approx p50 (limit 10)", f"{ex_p50 / d['p50_10']:.1f}x")
    if args.sweep:
        sweep = {}
        for setting in SWEEP:
            col.config.update(vector_index_config=plaid(args.nbits, setting))
            sweep[str(setting)] = measure(str(setting))
        rep.put("sweep", sweep)
        col.config.update(vector_index_config=plaid(args.nbits))
        s = col.index_stats()[SPACE]
        rep.say(f"  (after the sweep: trained={s['trained']}, {s['n_centroids']} centroids)")

    mask = np.arange(args.docs) % 10 == 3
    flt = Filter.by_property("part").equal(3)
    ftruth, fex = exact(queries, data.tokens, data.offsets, 10, mask)
    col.query.near_vector(queries[0], limit=10, filters=flt)
    ft, ff = run_queries(col, queries, slot_of, 10, filters=flt)
    fr = float(np.mean([recall(f, t) for f, t in zip(ff, ftruth)]))
    cutoff = inspect.signature(Configure.VectorIndex.plaid).parameters["flat_search_cutoff"].default
    kind = "exact: matches <= flat_search_cutoff" if mask.sum() <= cutoff else "approximate"
    f = {"matches": int(mask.sum()), "recall10": fr, "p50": pct(ft, 50), "exact_p50": pct(fex, 50)}
    rep.put("filtered", f)
    rep.say(
        f"filtered part == 3 ({f['matches']} docs, {kind}): R@10 {fr:.3f}, p50 {f['p50']:.1f} ms "
        f"p95 {pct(ft, 95):.1f}; exact maxsim_search with the mask p50 {f['exact_p50']:.1f} ms"
    )
    rep.row("filtered 10% R@10 / p50", f"{fr:.3f} / {f['p50']:.1f} ms (exact {f['exact_p50']:.1f})")


def close_and_reopen(
    client: Any, col: Any, path: Path, n_tok: int, queries: list, rep: Report
) -> None:
    check = queries[: rep.figures["check_queries"]]
    before = [[o.uuid for o in col.query.near_vector(q, limit=10).objects] for q in check]
    t0 = time.perf_counter()
    client.close()
    close_s = rep.put("close_s", time.perf_counter() - t0)
    disk = rep.put("disk", folder_bytes(path))
    per = {k: v / n_tok for k, v in disk.items()}
    rep.say(
        f"close: {close_s:.1f} s; disk {per['total']:.1f} B/token ({disk['total'] / 2**30:.2f} GiB): "
        f"SQLite file + WAL {per['sqlite']:.1f}, cache/ {per['cache']:.1f}, other {disk['other']} B"
    )
    rep.row(
        "disk B/token (SQLite + cache/)",
        f"{per['total']:.1f} ({per['sqlite']:.1f} + {per['cache']:.1f})",
    )
    with tempfile.TemporaryDirectory(prefix="mv-scale-q-") as scratch:
        child = rep.put("reopen", reopen(path, NAME, check, Path(scratch)))
    first = child["connect_s"] + child["use_s"] + child["first_query_s"]
    same = rep.put("reopen_top10", "identical" if child["tops"] == before else "differ")
    rep.say(
        f"reopen (fresh process): import multivector {child['import_s'] * 1e3:.0f} ms; connect "
        f"{child['connect_s'] * 1e3:.0f} ms + collections.use {child['use_s'] * 1e3:.0f} ms + "
        f"first near_vector {child['first_query_s'] * 1e3:.0f} ms = {first * 1e3:.0f} ms to the "
        f"first answer (second query {child['second_query_s'] * 1e3:.1f} ms; spawn to exit "
        f"{child['wall_s']:.1f} s)"
    )
    mem, base = child["memory_after_first"], child["memory_before_connect"]
    rep.say(
        f"  child after the first query: {per_token(mem, n_tok)}; minus the child before connect "
        f"{per_token(mem, n_tok, base)}, of which the store folder's file maps "
        f"{mem['store_maps'] / n_tok:.1f} B/token (the rest: numba and its compiled kernels, "
        "SQLite, Python objects); "
        f"index trained={child['trained']} ({child['n_centroids']} centroids); top-10 of "
        f"{len(check)} queries vs before close: {same}"
    )
    rep.row(
        "reopen to first answer (connect + use + query)", f"{first * 1e3:.0f} ms ({same} top-10)"
    )
    rep.row(
        "reopened process RSS after 1st query (since connect; store file maps)",
        f"{mem['VmRSS'] / n_tok:.0f} B/token ({(mem['VmRSS'] - base['VmRSS']) / n_tok:.0f}; "
        f"{mem['store_maps'] / n_tok:.1f})",
    )


def main() -> None:
    args = parse()
    rep = Report()
    say, put = rep.say, rep.put
    say(f"start: {put('machine_start', machine())}")
    put("args", {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()})
    put("check_queries", args.check_queries)
    pool_ok = "pool_factor" in inspect.signature(Configure.MultiVectors.self_provided).parameters
    if not pool_ok:
        say("note: Configure.MultiVectors.self_provided() has no pool_factor= here: skipped")
    pool = {"pool_factor": args.pool_factor} if pool_ok and args.pool_factor > 1 else {}

    data_dir = args.data_dir or CACHE_DIR / f"docs-{args.docs}"
    t0 = time.perf_counter()
    data = make_documents(args.docs, out_dir=data_dir)
    n_gen, dim = data.tokens.shape
    queries = make_queries(args.queries)
    say(f"data: {describe()}")
    say(
        f"  {args.docs} documents, {n_gen} token vectors x {dim} float16 "
        f"({data.tokens.nbytes / 2**30:.2f} GiB, memory-mapped from {data_dir}), ready in "
        f"{time.perf_counter() - t0:.1f} s; {len(queries)} real wiki-dev queries "
        f"(mean {np.mean([len(q) for q in queries]):.1f} tokens)"
    )
    put("data", {"docs": args.docs, "tokens": n_gen, "dim": dim, "queries": len(queries)})
    rep.row("data", f"{args.docs:,} docs, {n_gen:,} tokens x {dim} (real MiniLM token geometry)")

    temp = args.path is None
    path = Path(tempfile.mkdtemp(prefix="mv-scale-", dir="/tmp")) if temp else args.path
    if not temp and path.exists() and any(path.iterdir()):
        raise SystemExit(f"--path {path} is not empty; give a new folder")
    mem0 = put("memory_before_store", memory())
    client = multivector.connect(path=path)
    space = Configure.MultiVectors.self_provided(name=SPACE, index=plaid(args.nbits), **pool)
    col = client.collections.create(
        NAME, vector_config=[space], properties=[Property(name="part", data_type=DataType.INT)]
    )
    say(f"store: connect(path={path}); plaid nbits={args.nbits}, {pool or 'no pooling'}")
    if pool:
        say("  (pooled rows are stored, exact truth is unpooled: recall includes the pooling)")
    import_docs(col, args, n_gen, rep)
    n_tok = train(col, dim, rep)

    mem1 = put("memory_after_train", memory() | {"data_maps": mapped_rss(data_dir)})
    say(
        f"resident after import + training: {per_token(mem1, n_tok)}, {mem1['VmRSS'] / 2**20:.0f} "
        f"MiB, peak VmHWM {mem1['VmHWM'] / 2**20:.0f} MiB; the store's share (minus before the "
        f"store: {mem0['VmRSS'] / 2**20:.0f} MiB, peak {mem0['VmHWM'] / 2**20:.0f}) "
        f"{per_token(mem1, n_tok, mem0)}"
    )
    say(
        "  (retrain_index() checkpoints a durable store: the float16 rows and the index are then "
        "served from memory-mapped cache files, resident only as pages are read; anonymous memory "
        "is Python, numba's kernels and what the import left; of the generated data's file map "
        f"{mem1['data_maps'] / n_tok:.1f} B/token is resident)"
    )
    rep.row(
        "process RSS after import+train (store share)",
        f"{mem1['VmRSS'] / n_tok:.0f} B/token ({(mem1['VmRSS'] - mem0['VmRSS']) / n_tok:.0f})",
    )

    maxsim_search(queries[0], data.tokens, data.offsets, 100, None)  # compile, warm the pages
    truth, ex_times = exact(queries, data.tokens, data.offsets, 100, None)
    ex_p50 = put("exact_p50_ms", pct(ex_times, 50))
    say(
        f"exact MaxSim (kernels.maxsim_search on the generated arrays, top 100, one query at a "
        f"time): p50 {ex_p50:.1f} ms, p95 {pct(ex_times, 95):.1f} ms"
    )
    rep.row("exact p50 (maxsim_search, 1 query)", f"{ex_p50:.1f} ms")
    approximate(col, data, queries, truth, ex_p50, args, rep)
    close_and_reopen(client, col, path, n_tok, queries, rep)
    if temp and not args.keep:
        shutil.rmtree(path, ignore_errors=True)

    if not args.no_quality:
        quality = put("wiki_dev", wiki_quality(rep, nbits=(1, 2, 4), pool=2 if pool_ok else None))
        say(
            f"  (1,501 passages: few centroids, and n_candidates {DEFAULTS[1]} / n_decode "
            f"{DEFAULTS[2]} cover most of the corpus; the n_rerank=2*limit rows lean on the codes)"
        )
        ref = quality["exact"]["ndcg10"]
        for label, q in list(quality.items())[1:]:
            rep.row(
                f"nDCG@10 wiki-dev exact vs {label}",
                f"{ref:.3f} vs {q['ndcg10']:.3f}: {q['diff']:+.3f} [{q['low']:+.3f}, {q['high']:+.3f}]",
            )
    say(f"\nend: {put('machine_end', machine())}")
    setup = f"nbits {args.nbits}" + (f", pool_factor {args.pool_factor}" if pool else "")
    say(f"\n## scale.py --docs {args.docs} --queries {len(queries)} ({setup})\n")
    say("B/token: per stored token vector (index_stats n_tokens); one run, figures above.\n")
    say(rep.markdown())
    if args.json:
        rep.write_json(args.json)
        say(f"\nJSON: {args.json}")
    if not temp or args.keep:
        say(f"store kept at {path}")


if __name__ == "__main__":
    main()
