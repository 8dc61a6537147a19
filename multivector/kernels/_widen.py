"""Copy one stored arena row into a float32 scratch buffer, inside numba kernels.

The arena is float32, float16 (as ``uint16`` bits, see :mod:`._f16`) or int8 with one float32
scale per row (symmetric per-token quantisation: the value is ``q * scale``). :func:`widen_row`
is one source for the three: compiled, the implementation is chosen by the arena's element type,
so the float paths never touch ``scales`` (the float kernels pass an empty array there) and the
int8 path multiplies each widened byte by its row's scale. Interpreted (``NUMBA_DISABLE_JIT=1``)
it is plain NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import types
from numba.core.extending import overload

from multivector.kernels._f16 import as_f32

__all__ = ["widen_row"]


def widen_row(tokens: np.ndarray, scales: np.ndarray, row: int, out: np.ndarray, at: int) -> None:
    """Write arena row ``row`` as float32 into ``out[at, :dim]`` (int8 rows times their scale).

    ``out`` is 2-D: indices from ``range`` are known non-negative, so the compiled copy loop
    vectorises (a computed flat index would need numba's negative-index wraparound per element).
    """
    dim = tokens.shape[1]
    values = tokens[row]
    if values.dtype == np.int8:
        out[at, :dim] = values.astype(np.float32) * np.float32(scales[row])
    elif values.dtype == np.uint16:
        out[at, :dim] = values.view(np.float16).astype(np.float32)
    else:
        out[at, :dim] = values


@overload(widen_row, inline="always")
def _widen_row_jit(
    tokens: Any, scales: Any, row: Any, out: Any, at: Any
) -> Callable[..., None] | None:
    # the implementations repeat this function's parameters exactly (numba compares them)
    if not isinstance(tokens, types.Array):
        return None
    if tokens.dtype == types.int8:

        def widen_int8(tokens: Any, scales: Any, row: Any, out: Any, at: Any) -> None:
            scale = scales[row]
            for k in range(tokens.shape[1]):
                out[at, k] = np.float32(tokens[row, k]) * scale

        return widen_int8

    def widen_float(tokens: Any, scales: Any, row: Any, out: Any, at: Any) -> None:
        for k in range(tokens.shape[1]):
            out[at, k] = as_f32(tokens[row, k])

    return widen_float
