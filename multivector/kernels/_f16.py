"""Read IEEE half-precision values inside numba kernels.

numba has no ``float16`` arithmetic and cannot even type a ``float16`` array, so the store's
``float16`` arena reaches the kernels as a ``uint16`` view of the same memory (no copy) and each
element is widened to ``float32`` where it is read, with :func:`as_f32`.

Compiled, ``as_f32`` of a ``uint16`` is the LLVM instruction ``fpext half -> float``, which x86 CPUs
with F16C run as ``vcvtph2ps`` (vectorised with the surrounding loop); of a ``float32`` it is the
identity, so one kernel source serves both storage types. Interpreted (``NUMBA_DISABLE_JIT=1``) the
same function runs as plain NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic, overload

__all__ = ["as_f32"]


def as_f32(value: Any) -> np.float32:
    """Widen one stored arena element (``float32``, or ``float16`` bits as ``uint16``) to float32."""
    widened: np.float32
    if isinstance(value, np.uint16):
        widened = np.float32(value.view(np.float16))
    else:
        widened = np.float32(value)
    return widened


@intrinsic
def _half_bits_to_f32(typingctx: Any, bits: Any) -> Any:
    """LLVM ``bitcast i16 -> half`` then ``fpext half -> float`` (exact: every half is a float)."""
    if bits != types.uint16:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        half = builder.bitcast(args[0], ir.HalfType())
        return builder.fpext(half, ir.FloatType())

    return types.float32(types.uint16), codegen


@overload(as_f32, inline="always")
def _as_f32_jit(value: Any) -> Callable[[Any], Any] | None:
    # the implementations repeat this function's parameters exactly (numba compares them, annotations too)
    if value == types.uint16:

        def widen(value: Any) -> np.float32:
            return _half_bits_to_f32(value)  # type: ignore[call-arg, no-any-return]

        return widen
    if value == types.float32:

        def identity(value: Any) -> np.float32:
            return value  # type: ignore[no-any-return]

        return identity
    return None
