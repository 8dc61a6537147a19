"""Residual compression of token vectors (PLAID / ColBERTv2 style) and scoring on the codes.

A token vector ``x`` is stored as the id ``c`` of its nearest centroid plus its residual
``x - centroids[c]`` quantised to ``nbits`` (1, 2 or 4) bits per dimension. Per dimension ``d``
the ``2**nbits - 1`` bucket *cut-offs* are quantiles of the training residuals' values in that
dimension and the ``2**nbits`` bucket *weights* are the quantiles at the buckets' midpoints (as
ColBERTv2 does, but per dimension: token embeddings are anisotropic, and a per-dimension table
costs ``dim * 2**nbits`` floats); each weight is then replaced by the mean of the training values in
its bucket, which lowers the squared error for the same cut-offs. The decoded vector is ``centroids[c] + weights[d, bucket]``.

Codes are packed little-endian within a byte: dimension ``d`` occupies bits
``(d * nbits) % 8 ..`` of byte ``d * nbits // 8``, so a token takes ``ceil(dim * nbits / 8)``
bytes (32 B at 128 dims and 2 bits).

:func:`residual_maxsim` scores documents from their codes: a block of candidates at a time is
decoded into a small float32 arena (never the whole collection) and scored by the exact MaxSim
kernel.

Arrays only; the kernels trust their inputs (:mod:`multivector.backends.embedded.ann_index` checks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numba import njit, prange

from multivector._types import F32Array, I64Array
from multivector.kernels.maxsim import maxsim_scores

__all__ = [
    "ResidualCodec",
    "byte_table",
    "decode_docs",
    "decode_residuals",
    "encode_residuals",
    "fit_codec",
    "residual_maxsim",
]

_F = TypeVar("_F", bound=Callable[..., Any])
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_NEG_INF = np.float32(-np.inf)
_ENCODE_ROWS = 65_536


def _kernel(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``, typed so mypy keeps checking the kernels' Python signatures."""
    decorator: Callable[[_F], _F] = njit(**options)
    return decorator


class ResidualCodec(NamedTuple):
    """Bucket cut-offs float32 ``[dim, 2**nbits - 1]`` and weights float32 ``[dim, 2**nbits]``."""

    nbits: int
    cutoffs: F32Array
    weights: F32Array

    @property
    def bytes_per_token(self) -> int:
        """Packed bytes of one token's residual."""
        return -(-int(self.cutoffs.shape[0]) * self.nbits // 8)


def fit_codec(residuals: F32Array, nbits: int) -> ResidualCodec:
    """Learn per-dimension cut-offs and weights from sample residuals ``[n, dim]`` (n >= 1)."""
    levels = 1 << nbits
    cut_q = np.arange(1, levels, dtype=np.float64) / levels
    mid_q = (np.arange(levels, dtype=np.float64) + 0.5) / levels
    data = np.asarray(residuals, dtype=np.float32)
    cutoffs = np.ascontiguousarray(np.quantile(data, cut_q, axis=0).T.astype(np.float32))
    weights = np.quantile(data, mid_q, axis=0).T.astype(np.float32)
    # Each bucket's weight is the mean of its values (the squared-error optimum for these
    # cut-offs), the midpoint quantile where a bucket is empty.
    dim = data.shape[1]
    buckets = np.zeros(data.shape, dtype=np.int64)
    for m in range(levels - 1):
        buckets += data >= cutoffs[None, :, m]
    flat = (np.arange(dim)[None, :] * levels + buckets).ravel()
    sums = np.bincount(flat, weights=data.ravel().astype(np.float64), minlength=dim * levels)
    counts = np.bincount(flat, minlength=dim * levels)
    means = (sums / np.maximum(counts, 1)).reshape(dim, levels)
    weights = np.where(counts.reshape(dim, levels) > 0, means, weights).astype(np.float32)
    return ResidualCodec(nbits, np.ascontiguousarray(cutoffs), np.ascontiguousarray(weights))


@_kernel(nogil=True, cache=True)
def _encode_jit(
    vectors: np.ndarray,
    codes: np.ndarray,
    centroids: np.ndarray,
    cutoffs: np.ndarray,
    nbits: int,
    out: np.ndarray,
) -> None:
    n_cut = cutoffs.shape[1]
    dim = vectors.shape[1]
    per_byte = 8 // nbits
    for t in range(vectors.shape[0]):
        c = codes[t]
        for b in range(out.shape[1]):
            byte = 0
            for j in range(per_byte):
                d = b * per_byte + j
                if d >= dim:  # the last byte of a width that is not a multiple of 8 / nbits
                    break
                value = np.float32(vectors[t, d]) - centroids[c, d]
                bucket = 0
                for m in range(n_cut):  # cut-offs ascend: count those below the value
                    if value >= cutoffs[d, m]:
                        bucket += 1
                byte |= bucket << (j * nbits)
            out[t, b] = byte


def encode_residuals(
    vectors: np.ndarray, codes: np.ndarray, centroids: F32Array, codec: ResidualCodec
) -> np.ndarray:
    """Packed residual codes uint8 ``[n, bytes_per_token]`` of ``vectors`` ``[n, dim]`` (float16
    or float32) against ``centroids[codes]``.
    """
    n = int(vectors.shape[0])
    out = np.empty((n, codec.bytes_per_token), dtype=np.uint8)
    ids = np.ascontiguousarray(codes, dtype=np.int32)
    for lo in range(0, n, _ENCODE_ROWS):
        hi = min(n, lo + _ENCODE_ROWS)
        block = np.ascontiguousarray(vectors[lo:hi], dtype=np.float32)
        _encode_jit(block, ids[lo:hi], centroids, codec.cutoffs, codec.nbits, out[lo:hi])
    return out


def decode_residuals(
    packed: np.ndarray, codes: np.ndarray, centroids: F32Array, codec: ResidualCodec
) -> F32Array:
    """The decoded vectors float32 ``[n, dim]``: ``centroids[codes]`` plus bucket weights (a
    reference for tests and for reading a few tokens; scoring never materialises them).
    """
    dim = int(codec.weights.shape[0])
    per_byte = 8 // codec.nbits
    mask = (1 << codec.nbits) - 1
    shifts = (np.arange(per_byte) * codec.nbits).astype(np.uint8)
    buckets = (packed[:, :, None] >> shifts[None, None, :]) & mask  # [n, bytes, per_byte]
    buckets = buckets.reshape(packed.shape[0], packed.shape[1] * per_byte)[:, :dim].astype(np.int64)
    residual = codec.weights[np.arange(dim)[None, :], buckets]
    out: F32Array = (centroids[np.asarray(codes, dtype=np.int64)] + residual).astype(np.float32)
    return out


def byte_table(codec: ResidualCodec) -> F32Array:
    """Decoding table float32 ``[bytes_per_token, 256, 8 // nbits]``: the residual values of the
    dimensions packed in byte position ``p`` when that byte holds ``v``.
    """
    per_byte = 8 // codec.nbits
    n_bytes = codec.bytes_per_token
    mask = (1 << codec.nbits) - 1
    values = np.arange(256)[:, None]
    buckets = (values >> (np.arange(per_byte)[None, :] * codec.nbits)) & mask  # [256, per_byte]
    dims = np.arange(n_bytes)[:, None, None] * per_byte + np.arange(per_byte)[None, None, :]
    dim = int(codec.weights.shape[0])
    padded = np.zeros((n_bytes * per_byte, codec.weights.shape[1]), dtype=np.float32)
    padded[:dim] = codec.weights  # padding dimensions decode to 0
    table = padded[dims, buckets[None, :, :]]  # [n_bytes, 256, per_byte]
    return np.ascontiguousarray(table, dtype=np.float32)


def _decode_kernel(per_byte: int) -> Callable[..., None]:
    """A parallel decoder for ``per_byte`` dimensions per byte (a compile-time constant, so the
    table copy of each byte unrolls into one vector move and the centroid add vectorises).
    """

    @_kernel(nogil=True, cache=True, parallel=True, fastmath=_FASTMATH)
    def decode(
        tok_codes: np.ndarray,
        packed: np.ndarray,
        table: np.ndarray,
        centroids: np.ndarray,
        offsets: np.ndarray,
        slots: np.ndarray,
        out: np.ndarray,
        out_offsets: np.ndarray,
    ) -> None:
        dim = centroids.shape[1]
        exact_fit = packed.shape[1] * per_byte == dim
        for i in prange(slots.shape[0]):
            s = slots[i]
            pos = out_offsets[i]
            for t in range(offsets[s], offsets[s + 1]):
                c = tok_codes[t]
                row = out[pos]
                if exact_fit:  # every byte holds per_byte dimensions: no bounds test
                    for b in range(packed.shape[1]):
                        v = packed[t, b]
                        for e in range(per_byte):
                            row[b * per_byte + e] = table[b, v, e]
                    for d in range(dim):
                        row[d] += centroids[c, d]
                else:
                    for b in range(packed.shape[1]):
                        v = packed[t, b]
                        for e in range(per_byte):
                            d = b * per_byte + e
                            if d < dim:
                                row[d] = centroids[c, d] + table[b, v, e]
                pos += 1

    return decode


_DECODERS = {8: _decode_kernel(8), 4: _decode_kernel(4), 2: _decode_kernel(2)}


def decode_docs(
    tok_codes: np.ndarray,
    packed: np.ndarray,
    table: F32Array,
    centroids: F32Array,
    offsets: I64Array,
    slots: I64Array,
) -> tuple[F32Array, I64Array]:
    """The decoded token rows of documents ``slots`` as a small packed arena: float32
    ``[rows, dim]`` and offsets ``[len(slots) + 1]`` (document ``i`` is ``slots[i]``).
    """
    lengths = offsets[slots + 1] - offsets[slots]
    out_offsets = np.zeros(slots.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_offsets[1:])
    out = np.empty((int(out_offsets[-1]), centroids.shape[1]), dtype=np.float32)
    decoder = _DECODERS[int(table.shape[2])]
    decoder(tok_codes, packed, table, centroids, offsets, slots, out, out_offsets)
    return out, out_offsets


#: Candidates decoded per block before the exact kernel scores them (~8 MB of float32 rows at 64
#: tokens x 128 dims: the block stays in the L3 cache between decoding and scoring).
DECODE_BLOCK = 256


def residual_maxsim(
    query: F32Array,
    tok_codes: np.ndarray,
    packed: np.ndarray,
    table: F32Array,
    centroids: F32Array,
    offsets: I64Array,
    slots: I64Array,
    *,
    parallel: bool = True,
) -> F32Array:
    """MaxSim of ``query`` ``[q, dim]`` against the decoded tokens of documents ``slots``.

    ``tok_codes`` ``[T]`` is every token row's centroid id, ``packed`` uint8 ``[T, bytes]`` its
    residual codes, ``table`` from :func:`byte_table`, ``offsets`` int64 the documents' rows.
    Blocks of ``DECODE_BLOCK`` documents are decoded to float32 (in parallel) and scored by the exact MaxSim
    kernel (measured ~3x faster than a fused decode-and-dot loop, which numba does not
    vectorise as well). Returns float32 ``[len(slots)]`` (-inf for a document without tokens).
    """
    out = np.empty(slots.shape[0], dtype=np.float32)
    ids = np.ascontiguousarray(slots, dtype=np.int64)
    for lo in range(0, ids.shape[0], DECODE_BLOCK):
        block = ids[lo : lo + DECODE_BLOCK]
        rows, block_offsets = decode_docs(tok_codes, packed, table, centroids, offsets, block)
        out[lo : lo + block.shape[0]] = maxsim_scores(query, rows, block_offsets, parallel=parallel)
    return out
