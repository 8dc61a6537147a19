"""Pure numeric kernels over packed arrays: exact MaxSim, top-k selection, fusion maths.

Kernels know arrays, not ids or text. The MaxSim kernels are compiled with numba on first use
(``cache=True`` keeps the machine code between runs), so importing this package is cheap.
"""

from __future__ import annotations

from multivector.kernels.maxsim import (
    maxsim_scores,
    maxsim_scores_batch,
    maxsim_search,
    maxsim_search_batch,
)
from multivector.kernels.topk import SearchResult, topk

__all__ = [
    "SearchResult",
    "maxsim_scores",
    "maxsim_scores_batch",
    "maxsim_search",
    "maxsim_search_batch",
    "topk",
]
