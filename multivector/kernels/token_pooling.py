"""Token pooling: fewer rows per document matrix by hierarchical clustering of its tokens.

Clavié et al. 2024 ("Reducing the Footprint of Multi-Vector Retrieval with Minimal Performance
Impact via Token Pooling") cluster a document's token vectors and store one vector per cluster.
This module follows PyLate's ``pool_embeddings_hierarchical`` as ported to sentence-transformers
(``pool_document_embeddings``), with one measured change (step 4):

1. the first ``protected_tokens`` rows (default 1: ``[CLS]`` or the model's marker token) are
   kept as they are, unpooled, as PyLate does; they lead the output;
2. the other ``r`` rows get the cosine distance ``max(0, 1 - cos)`` (float64) and Ward linkage
   with the Lance-Williams update, computed by the nearest-neighbour chain as SciPy's
   ``linkage(condensed, method="ward")`` computes it (same merges, same tie-breaking);
3. the dendrogram is cut as ``fcluster(Z, t=k, criterion="maxclust")`` cuts it, with
   ``k = max(1, r // pool_factor)``: every merge at or below the height of the ``(r - k)``-th
   is made, so ties at that height (duplicate tokens) leave fewer than ``k`` clusters;
4. each cluster becomes the mean of its rows, rescaled to their mean length (unit length for
   the unit rows every built-in embedder returns); clusters are ordered by their first row.
   PyLate keeps the plain mean; on wiki-dev with MiniLM the rescaled mean scored higher
   (``benchmarks/pooling.py``, docs/evaluation.md), and it keeps pooled tokens on the scale
   MaxSim scores the others (and queries) on.

A document of ``n`` rows therefore keeps at most ``1 + max(1, (n - 1) // pool_factor)`` rows.
PyLate's own ``ColBERT.pool_embeddings_hierarchical`` hands SciPy the square ``1 - cos`` matrix,
which ``linkage`` reads as ``r`` observations of width ``r`` (Ward over rows of the distance
matrix, O(r^3)); we cluster the distances themselves, as its port and the paper describe.

Cost: an ``[r, r]`` float64 matrix (9.7 MB at r = 1,100) and O(r^2 d) time for the distances
plus O(r^2) for the chain. ``pool_factor`` 1, and a matrix with at most one row to pool, come
back unchanged. Deterministic: no randomness, no threads, fixed tie-breaking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from numba import njit

from multivector._checks import check_int
from multivector._types import F32Array, F64Array, I64Array

__all__ = ["cosine_distances", "pool_tokens", "pooled_labels", "ward_linkage"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _kernel(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``, typed so mypy keeps checking the kernels' Python signatures."""
    decorator: Callable[[_F], _F] = njit(**options)
    return decorator


@_kernel(cache=True, nogil=True)
def _nn_chain_ward(dist: np.ndarray, xs: np.ndarray, ys: np.ndarray, heights: np.ndarray) -> None:
    """Ward merges of the ``[n, n]`` symmetric ``dist`` (overwritten) by the nearest-neighbour
    chain, as SciPy's ``nn_chain``: merge ``k`` joins the clusters in slots ``xs[k] < ys[k]``
    at ``heights[k]``; the merged cluster lives on in slot ``ys[k]``.
    """
    n = dist.shape[0]
    size = np.ones(n, dtype=np.int64)
    chain = np.empty(n, dtype=np.int64)
    length = 0
    for k in range(n - 1):
        if length == 0:
            length = 1
            for i in range(n):
                if size[i] > 0:
                    chain[0] = i
                    break
        while True:
            x = chain[length - 1]
            y = -1
            best = np.inf
            if length > 1:  # prefer the previous link: no cycles on ties
                y = chain[length - 2]
                best = dist[x, y]
            for i in range(n):
                if size[i] == 0 or i == x:
                    continue
                if dist[x, i] < best:
                    best = dist[x, i]
                    y = i
            if length > 1 and y == chain[length - 2]:
                break
            chain[length] = y
            length += 1
        length -= 2
        if x > y:
            x, y = y, x
        nx = size[x]
        ny = size[y]
        xs[k] = x
        ys[k] = y
        heights[k] = best
        size[x] = 0
        size[y] = nx + ny
        for i in range(n):
            ni = size[i]
            if ni == 0 or i == y:
                continue
            t = 1.0 / (nx + ny + ni)
            d_xi = dist[i, x]
            d_yi = dist[i, y]
            value = (ni + nx) * t * d_xi * d_xi + (ni + ny) * t * d_yi * d_yi - ni * t * best * best
            merged = np.sqrt(value) if value > 0.0 else 0.0
            dist[i, y] = merged
            dist[y, i] = merged


@_kernel(cache=True, nogil=True)
def _cut(xs: np.ndarray, ys: np.ndarray, n_merges: int, n: int) -> np.ndarray:
    """Flat cluster ids (0, 1, ... in order of first member) after the first ``n_merges`` of
    the height-sorted merges ``xs``/``ys`` (slot ids), joined with a union-find.
    """
    parent = np.arange(n)
    for k in range(n_merges):
        a = xs[k]
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        b = ys[k]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a != b:
            parent[max(a, b)] = min(a, b)
    ids = np.full(n, -1, dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    count = 0
    for i in range(n):
        root = i
        while parent[root] != root:
            root = parent[root]
        if ids[root] < 0:
            ids[root] = count
            count += 1
        labels[i] = ids[root]
    return labels


@_kernel(cache=True, nogil=True)
def _cluster_means(rows: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """One float32 row per cluster: the mean of its rows (float64 sums) rescaled to their mean
    length; a single row is copied as it is, a mean of length 0 stays all zeros.
    """
    dim = rows.shape[1]
    sums = np.zeros((n_clusters, dim), dtype=np.float64)
    lengths = np.zeros(n_clusters, dtype=np.float64)
    counts = np.zeros(n_clusters, dtype=np.int64)
    first = np.empty(n_clusters, dtype=np.int64)
    for i in range(rows.shape[0]):
        c = labels[i]
        if counts[c] == 0:
            first[c] = i
        counts[c] += 1
        sq = 0.0
        for j in range(dim):
            value = np.float64(rows[i, j])
            sums[c, j] += value
            sq += value * value
        lengths[c] += np.sqrt(sq)
    out = np.empty((n_clusters, dim), dtype=np.float32)
    for c in range(n_clusters):
        if counts[c] == 1:
            out[c] = rows[first[c]]
            continue
        sq = 0.0
        for j in range(dim):
            sq += sums[c, j] * sums[c, j]
        scale = lengths[c] / counts[c] / np.sqrt(sq) if sq > 0.0 else 0.0
        for j in range(dim):
            out[c, j] = sums[c, j] * scale
    return out


@_kernel(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _cosine_distances_jit(rows: np.ndarray) -> np.ndarray:
    n, dim = rows.shape
    unit = np.zeros((n, dim), dtype=np.float64)
    for i in range(n):
        sq = 0.0
        for j in range(dim):
            sq += np.float64(rows[i, j]) * np.float64(rows[i, j])
        if sq > 0.0:
            inv = 1.0 / np.sqrt(sq)
            for j in range(dim):
                unit[i, j] = rows[i, j] * inv
    dist = np.zeros((n, n), dtype=np.float64)
    for i in range(n):
        for k in range(i + 1, n):
            dot = 0.0
            for j in range(dim):
                dot += unit[i, j] * unit[k, j]
            value = max(0.0, 1.0 - dot)
            dist[i, k] = value
            dist[k, i] = value
    return dist


def cosine_distances(matrix: npt.ArrayLike) -> F64Array:
    """``max(0, 1 - cos)`` between every two rows, float64 ``[n, n]`` with a zero diagonal (an
    all-zero row is at distance 1 from every other row). A compiled loop, not BLAS: at these
    sizes waking BLAS threads on a busy machine costs more than the product.
    """
    dist: F64Array = _cosine_distances_jit(np.ascontiguousarray(matrix, dtype=np.float32))
    return dist


def ward_linkage(dist: F64Array) -> tuple[I64Array, I64Array, F64Array]:
    """Ward merges of a square distance matrix, sorted by height (stable, as SciPy sorts them):
    slot ids ``xs < ys`` and ``heights``, ``n - 1`` of each. ``dist`` is not modified.
    """
    n = dist.shape[0]
    xs = np.empty(max(n - 1, 0), dtype=np.int64)
    ys = np.empty_like(xs)
    heights = np.empty(xs.shape[0], dtype=np.float64)
    if n > 1:
        _nn_chain_ward(np.array(dist, dtype=np.float64, order="C"), xs, ys, heights)
    order = np.argsort(heights, kind="stable")
    return xs[order], ys[order], heights[order]


def pooled_labels(matrix: npt.ArrayLike, n_clusters: int) -> I64Array:
    """The flat cluster of every row (0-based, numbered in order of first member) when Ward
    linkage on cosine distance is cut into at most ``n_clusters`` clusters (see the module
    docstring for how ties are cut).
    """
    rows = np.asarray(matrix)
    n = rows.shape[0]
    check_int("n_clusters", n_clusters, 1)
    if n_clusters >= n:
        return np.arange(n, dtype=np.int64)
    xs, ys, heights = ward_linkage(cosine_distances(rows))
    cut = heights[n - n_clusters - 1]
    n_merges = int(np.searchsorted(heights, cut, side="right"))
    labels: I64Array = _cut(xs, ys, n_merges, n)
    return labels


def pool_tokens(matrix: npt.ArrayLike, pool_factor: int, *, protected_tokens: int = 1) -> F32Array:
    """``matrix`` (``[n, dim]``) with its tokens pooled: the first ``protected_tokens`` rows as
    they are, then one mean row per Ward cluster of the rest, at most ``max(1, r // pool_factor)``
    of them for ``r`` rows to pool. ``pool_factor`` 1 or ``r <= 1`` returns the rows unchanged.
    """
    check_int("pool_factor", pool_factor, 1)
    check_int("protected_tokens", protected_tokens, 0)
    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"pool_tokens takes a 2-D matrix [n, dim], got shape {rows.shape}")
    head, rest = rows[:protected_tokens], rows[protected_tokens:]
    n_clusters = max(1, rest.shape[0] // pool_factor)
    if pool_factor == 1 or n_clusters >= rest.shape[0]:
        return rows
    labels = pooled_labels(rest, n_clusters)
    means = _cluster_means(rest, labels, int(labels.max()) + 1)
    out: F32Array = np.concatenate([head, means])
    return out
