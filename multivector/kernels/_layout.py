"""Query layouts of the low-precision kernels, built once per call from the float32 layout.

The float32 layout (:func:`.maxsim._stack_queries`) is ``qt`` ``[n_chunks, dim, 16]``: query rows
transposed in zero-padded groups of 16 lanes. From it:

- :func:`bf16_queries`: uint16 ``[n_chunks, ceil(dim / 2), 16, 2]`` bf16 bits (round to nearest
  even), element ``[c, s, l, e]`` = lane ``l``, dimension ``2s + e`` (pairs, as ``vdpbf16ps``
  multiplies them);
- :func:`int8_queries`: int8 ``[n_chunks, ceil(dim / 4), 16, 4]``, each query row quantised
  symmetrically with its own scale (``max|q| / 127``, like :mod:`.quantize`), the scales, and
  ``corr`` = 128 x each row's byte sum (the kernels offset document bytes by 128).

Padding (lanes past a query's rows, dimensions past ``dim``) is zero, so it adds nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from multivector._types import F32Array

__all__ = ["Int8Queries", "bf16_bits", "bf16_queries", "int8_queries"]


class Int8Queries(NamedTuple):
    """The int8 query layout: ``values`` ``[n_chunks, n_steps, 16, 4]``, per lane ``corr``, ``scales``."""

    values: npt.NDArray[np.int8]
    corr: npt.NDArray[np.int32]
    scales: F32Array


def bf16_bits(values: np.ndarray) -> npt.NDArray[np.uint16]:
    """float32 values rounded to bfloat16 (nearest, ties to even), as their 16-bit patterns."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    out: npt.NDArray[np.uint16] = rounded.astype(np.uint16)
    return out


def _pad_dims(qt: F32Array, multiple: int) -> F32Array:
    """``qt`` ``[n_chunks, dim, 16]`` zero-padded along ``dim`` to a multiple of ``multiple``."""
    dim = qt.shape[1]
    padded = -(-dim // multiple) * multiple
    if padded == dim:
        return qt
    out = np.zeros((qt.shape[0], padded, qt.shape[2]), dtype=np.float32)
    out[:, :dim] = qt
    return out


def bf16_queries(qt: F32Array) -> npt.NDArray[np.uint16]:
    """The bf16 layout of ``qt`` (module docstring)."""
    padded = _pad_dims(qt, 2)
    n_chunks, dim, lanes = padded.shape
    pairs = padded.reshape(n_chunks, dim // 2, 2, lanes).transpose(0, 1, 3, 2)
    return np.ascontiguousarray(bf16_bits(pairs))


def int8_queries(qt: F32Array) -> Int8Queries:
    """The int8 layout of ``qt`` (module docstring)."""
    padded = _pad_dims(qt, 4)
    n_chunks, dim, lanes = padded.shape
    peak = np.abs(padded).max(axis=1)  # [n_chunks, 16]
    scales = (peak / np.float32(127.0)).astype(np.float32)
    safe = np.where(scales > 0, scales, np.float32(1.0))
    q = np.clip(np.rint(padded / safe[:, None, :]), -127, 127).astype(np.int8)
    corr = (128 * q.astype(np.int32).sum(axis=1)).astype(np.int32).reshape(-1)
    quads = q.reshape(n_chunks, dim // 4, 4, lanes).transpose(0, 1, 3, 2)
    return Int8Queries(np.ascontiguousarray(quads), corr, scales.reshape(-1))
