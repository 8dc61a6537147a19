"""Pure numeric kernels over packed arrays: exact MaxSim, top-k selection, fusion maths.

Kernels know arrays, not ids or text. The MaxSim kernels are compiled with numba on first use
(``cache=True`` keeps the machine code between runs). Names are loaded on first access, so that
importing this package (or its numpy-only ``fusion`` and ``topk`` modules) does not import numba.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from multivector.kernels.topk import SearchResult, topk

if TYPE_CHECKING:
    from multivector.kernels.maxsim import (
        maxsim_scores,
        maxsim_scores_batch,
        maxsim_search,
        maxsim_search_batch,
    )

__all__ = [
    "SearchResult",
    "maxsim_scores",
    "maxsim_scores_batch",
    "maxsim_search",
    "maxsim_search_batch",
    "topk",
]

_HOMES = {
    "maxsim_scores": "multivector.kernels.maxsim",
    "maxsim_scores_batch": "multivector.kernels.maxsim",
    "maxsim_search": "multivector.kernels.maxsim",
    "maxsim_search_batch": "multivector.kernels.maxsim",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
