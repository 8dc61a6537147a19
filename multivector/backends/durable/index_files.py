"""The approximate indexes' files in a collection's cache folder (see :mod:`.folder_cache`).

Space ``i``'s trained index is one ``a<i>.<array>.npy`` file per array of its
:class:`~multivector.backends.embedded.ann_state.IndexState` (plain ``.npy``, no pickle, mapped
read-only on load), and one stamp entry ``{"space", "arrays", "meta"}`` naming them, with the
state's JSON scalars. The folder cache checksums, stamps and checks them like its other files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from multivector.backends.embedded.ann_state import IndexState

__all__ = ["load_index_files", "write_index_files"]


def write_index_files(
    folder: Path,
    indexes: Mapping[str, IndexState],
    write_npy: Callable[[Path, np.ndarray[Any, Any]], None],
) -> list[dict[str, Any]]:
    """Write every state's arrays with ``write_npy``; return the stamp entries."""
    entries = []
    for i, (name, state) in enumerate(indexes.items()):
        for key, array in state.arrays.items():
            write_npy(folder / f"a{i}.{key}.npy", array)
        entries.append({"space": name, "arrays": sorted(state.arrays), "meta": state.meta})
    return entries


def load_index_files(folder: Path, entries: list[dict[str, Any]]) -> dict[str, IndexState]:
    """The states the stamp ``entries`` name, their arrays memory-mapped read-only (raises
    OSError / ValueError / KeyError for a missing or malformed file: the caller rebuilds).
    """
    out = {}
    for i, entry in enumerate(entries):
        arrays = {
            key: np.load(folder / f"a{i}.{key}.npy", mmap_mode="r", allow_pickle=False)
            for key in entry["arrays"]
        }
        out[str(entry["space"])] = IndexState(arrays, dict(entry["meta"]))
    return out
