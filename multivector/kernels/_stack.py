"""Fixed-size float32 scratch arrays on the stack, for numba kernels.

:func:`stack_array` gives a kernel a small array that LLVM can keep entirely in registers: it
is an ``alloca`` that never escapes, so once every index is a compile-time constant the optimiser
promotes it to SIMD registers (a micro-kernel's accumulators). A heap array (``np.empty``) would
stay in memory. Interpreted (``NUMBA_DISABLE_JIT=1``) it is an ordinary zeroed NumPy array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba import carray, types  # type: ignore[attr-defined]
from numba.core.extending import intrinsic, overload

__all__ = ["stack_array"]


def stack_array(size: int) -> np.ndarray:
    """Return an uninitialised float32 array of ``size`` (a literal int) elements on the stack."""
    return np.zeros(size, dtype=np.float32)


@intrinsic
def _alloca_f32(typingctx: Any, size: Any) -> Any:
    """``alloca [size x float]`` in the function's entry block; returns a ``float*``."""
    if not isinstance(size, types.IntegerLiteral):
        return None
    n = size.literal_value

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        with builder.goto_entry_block():
            slot = builder.alloca(ir.ArrayType(ir.FloatType(), n))
        return builder.bitcast(slot, ir.PointerType(ir.FloatType()))

    return types.CPointer(types.float32)(size), codegen  # type: ignore[no-untyped-call]


@overload(stack_array, prefer_literal=True, inline="always")
def _stack_array_jit(size: Any) -> Callable[[Any], Any] | None:
    if not isinstance(size, types.IntegerLiteral):
        return None

    def build(size: Any) -> np.ndarray:
        return carray(_alloca_f32(size), size)  # type: ignore[call-arg, no-any-return]

    return build
