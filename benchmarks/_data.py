"""Seeded synthetic corpora for the benchmarks: a packed token arena plus offsets, and queries."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Corpus(NamedTuple):
    tokens: np.ndarray  # float32 [T, dim], rows L2-normalised
    offsets: np.ndarray  # int64 [n_docs + 1]


def make_corpus(
    n_docs: int, *, min_len: int = 32, max_len: int = 128, dim: int = 128, seed: int = 0
) -> Corpus:
    """Documents of uniform random length in [min_len, max_len], unit-norm random token vectors."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = rng.standard_normal((int(offsets[-1]), dim), dtype=np.float32)
    tokens /= np.linalg.norm(tokens, axis=1, keepdims=True)
    return Corpus(tokens, offsets)


def make_queries(
    n_queries: int, *, n_tokens: int = 32, dim: int = 128, seed: int = 1
) -> list[np.ndarray]:
    """Unit-norm random query matrices ``[n_tokens, dim]`` float32."""
    rng = np.random.default_rng(seed)
    queries = []
    for _ in range(n_queries):
        q = rng.standard_normal((n_tokens, dim), dtype=np.float32)
        queries.append(q / np.linalg.norm(q, axis=1, keepdims=True))
    return queries
