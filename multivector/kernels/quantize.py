"""Symmetric per-token int8 quantisation of token vectors (the ``dtype="int8"`` arena).

Each row ``x`` gets ``scale = max|x| / 127`` (float32) and ``q = round(x / scale)`` clipped to
``[-127, 127]``; an all-zero row gets scale 0 and a row of zeros. The stored value is
``q * scale``: what the MaxSim kernels score with and what :func:`dequantize_int8` returns.
The error per element is at most ``scale / 2``, i.e. 1/254 of the row's largest magnitude.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from multivector._types import F32Array

__all__ = ["Int8Rows", "dequantize_int8", "quantize_int8"]

#: Rows quantised per step (bounds the float32 temporaries of a large conversion).
_CHUNK = 65_536


class Int8Rows(NamedTuple):
    """Quantised rows: ``values`` int8 ``[n, d]`` and ``scales`` float32 ``[n]``."""

    values: npt.NDArray[np.int8]
    scales: F32Array


def quantize_int8(matrix: npt.ArrayLike) -> Int8Rows:
    """Quantise every row of a ``[n, d]`` real matrix symmetrically to int8 with its own scale."""
    source = np.asarray(matrix)
    if source.ndim != 2:
        raise ValueError(f"quantize_int8 takes a 2-D matrix [n, d], got shape {source.shape}")
    n = source.shape[0]
    values = np.empty(source.shape, dtype=np.int8)
    scales = np.empty(n, dtype=np.float32)
    for lo in range(0, n, _CHUNK):
        rows = np.asarray(source[lo : lo + _CHUNK], dtype=np.float32)
        peak = np.abs(rows).max(axis=1) if rows.shape[1] else np.zeros(len(rows), np.float32)
        scale = (peak / np.float32(127.0)).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1.0))
        q = np.rint(rows / safe[:, None])
        np.clip(q, -127, 127, out=q)
        q[scale == 0] = 0
        values[lo : lo + len(rows)] = q
        scales[lo : lo + len(rows)] = scale
    return Int8Rows(values, scales)


def dequantize_int8(values: npt.NDArray[np.int8], scales: F32Array) -> F32Array:
    """The float32 rows ``values * scales[:, None]`` (what the kernels score with)."""
    out: F32Array = values.astype(np.float32) * scales.astype(np.float32)[:, None]
    return out
