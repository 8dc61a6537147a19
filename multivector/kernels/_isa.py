"""Which instruction set the low-precision kernels use, chosen once at import by CPU feature.

The bf16 kernels use ``vdpbf16ps`` when the compile target has AVX512_BF16, the int8 kernels
``vpdpbusd`` when it has AVX512_VNNI (and AVX512_BW); otherwise both use portable code with the
same arithmetic (see :mod:`._simd`). The target is the host CPU unless numba is told otherwise
(``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``, e.g. for a portable cache): then only features
listed in ``NUMBA_CPU_FEATURES`` count. ``MULTIVECTOR_PORTABLE_KERNELS=1`` forces the portable
code (tests use it to cover the fallback on a machine that has the instructions).
"""

from __future__ import annotations

import os

import numpy as np
from llvmlite import binding
from numba.core import config

from multivector.kernels._simd import NATIVE, PORTABLE

__all__ = ["BF16_ISA", "FORCED_PORTABLE", "INT8_ISA", "target_has"]

#: Set to ``1`` to force the portable kernels whatever the CPU.
FORCED_PORTABLE = os.environ.get("MULTIVECTOR_PORTABLE_KERNELS", "") == "1"


def target_has(*features: str) -> bool:
    """Whether numba's compile target has every one of ``features`` (LLVM names, no ``+``)."""
    listed = getattr(config, "CPU_FEATURES", None)
    if listed:
        enabled = {f[1:] for f in listed.split(",") if f.startswith("+")}
        return all(f in enabled for f in features)
    if getattr(config, "CPU_NAME", None) not in (None, "", "host"):
        return False  # a named generic target without a feature list: assume none
    host = binding.get_host_cpu_features()
    return all(bool(host.get(f, False)) for f in features)


def _choose(*features: str) -> np.ndarray:
    return PORTABLE if FORCED_PORTABLE or not target_has(*features) else NATIVE


#: The ``isa`` token of the bf16 and of the int8 kernels (:data:`._simd.NATIVE` or ``PORTABLE``).
BF16_ISA = _choose("avx512f", "avx512bf16")
INT8_ISA = _choose("avx512f", "avx512bw", "avx512vnni")
