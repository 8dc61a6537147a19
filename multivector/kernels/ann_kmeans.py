"""Spherical k-means and nearest-centroid assignment for approximate candidate generation.

Arrays only: token vectors in, centroids and centroid ids out. Similarity is the dot product
(the MaxSim similarity), so centroids are unit-normalised means ("spherical" k-means) and a vector
belongs to the centroid with the largest dot product. The heavy lifting is one BLAS matrix
product per chunk; float16 inputs are widened to float32 one chunk at a time, never whole.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from multivector._types import F32Array
from multivector.errors import ConfigError

__all__ = ["KMeansResult", "assign_centroids", "kmeans", "sample_rows"]

#: Rows per matrix product in :func:`assign_centroids` (bounds the temporary ``[chunk, k]``).
_ASSIGN_CHUNK = 32_768


class KMeansResult(NamedTuple):
    """Trained centroids (unit rows, float32 ``[k, d]``) and how many sample rows each holds."""

    centroids: F32Array
    sizes: np.ndarray


def sample_rows(n_rows: int, n_sample: int, *, seed: int) -> np.ndarray:
    """``min(n_rows, n_sample)`` distinct row indices drawn uniformly, sorted (int64)."""
    rng = np.random.default_rng(seed)
    if n_sample >= n_rows:
        return np.arange(n_rows, dtype=np.int64)
    return np.sort(rng.choice(n_rows, size=n_sample, replace=False)).astype(np.int64)


def assign_centroids(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The id of the centroid with the largest dot product for every row: int32 ``[n]``.

    ``vectors`` is ``[n, d]`` float16 or float32 (widened chunk by chunk); ties go to the lower id.
    """
    cents = np.ascontiguousarray(centroids, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != cents.shape[1]:
        raise ConfigError(
            f"vectors of shape {vectors.shape} cannot be assigned to centroids of width "
            f"{cents.shape[1]}"
        )
    out = np.empty(vectors.shape[0], dtype=np.int32)
    cents_t = np.ascontiguousarray(cents.T)
    for lo in range(0, vectors.shape[0], _ASSIGN_CHUNK):
        hi = min(vectors.shape[0], lo + _ASSIGN_CHUNK)
        block = np.asarray(vectors[lo:hi], dtype=np.float32)
        out[lo:hi] = np.argmax(block @ cents_t, axis=1)
    return out


def kmeans(sample: np.ndarray, k: int, *, n_iter: int = 10, seed: int = 0) -> KMeansResult:
    """Spherical k-means (Lloyd iterations on the dot product) over the rows of ``sample``.

    Starts from ``k`` distinct random rows; a centroid that loses every row is re-seeded with the
    row farthest from its own centroid, so all ``k`` centroids stay in use. Rows should be
    non-zero; the centroids returned are unit-normalised.

    Raises:
        ConfigError: ``k`` is not in ``[1, len(sample)]`` or ``n_iter`` is negative.

    """
    data = np.ascontiguousarray(sample, dtype=np.float32)
    n = data.shape[0]
    if not 1 <= k <= n:
        raise ConfigError(f"kmeans needs 1 <= k <= number of rows ({n}), got k={k}")
    if n_iter < 0:
        raise ConfigError(f"n_iter must be >= 0, got {n_iter}")
    rng = np.random.default_rng(seed)
    centroids = data[rng.choice(n, size=k, replace=False)].copy()
    _normalise(centroids)
    labels = assign_centroids(data, centroids)
    for _ in range(n_iter):
        sums, sizes = _cluster_sums(data, labels, k)
        empty = np.flatnonzero(sizes == 0)
        if empty.size:
            fit = np.einsum("ij,ij->i", data, centroids[labels])
            worst = np.argsort(fit)[: empty.size]
            sums[empty] = data[worst]
        centroids = sums
        _normalise(centroids)
        new_labels = assign_centroids(data, centroids)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return KMeansResult(centroids, np.bincount(labels, minlength=k).astype(np.int64))


def _cluster_sums(data: F32Array, labels: np.ndarray, k: int) -> tuple[F32Array, np.ndarray]:
    """Per-cluster sums of rows ``[k, d]`` and sizes ``[k]`` (one sort plus ``add.reduceat``)."""
    sizes = np.bincount(labels, minlength=k)
    sums = np.zeros((k, data.shape[1]), dtype=np.float32)
    order = np.argsort(labels, kind="stable")
    starts = np.zeros(k, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    used = np.flatnonzero(sizes > 0)
    sums[used] = np.add.reduceat(data[order], starts[used], axis=0)
    return sums, sizes


def _normalise(rows: F32Array) -> None:
    """Scale rows to unit length in place (all-zero rows stay zero)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    np.divide(rows, norms, out=rows, where=norms > 0)
