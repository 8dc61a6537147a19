"""Each document's distinct centroid ids and the inverted lists over them (part of a PLAID index).

Slot ``s`` owns ``codes[offsets[s]:offsets[s + 1]]`` (sorted distinct int32 centroid ids); the
inverted lists name, per centroid, the slots using it. Appends land in an unlisted tail that is
scanned directly until it is large enough to rebuild the lists (amortised O(1) per append).
Arrays may be read-only memory maps (a reopened index): the first change copies them.
"""

from __future__ import annotations

import numpy as np

from multivector._types import I64Array
from multivector.backends.embedded.arena import slot_rows
from multivector.kernels.ann_probe import inverted_lists

__all__ = ["DocCodes"]

_INITIAL = 1024


class DocCodes:
    """Distinct centroid ids per slot, with inverted lists over slots ``[0, listed)``."""

    def __init__(self, n_centroids: int) -> None:
        self.n_centroids = n_centroids
        self._codes = np.zeros(_INITIAL, dtype=np.int32)
        self._offsets: I64Array = np.zeros(_INITIAL, dtype=np.int64)
        self._n_slots = 0
        self.lists: tuple[np.ndarray, I64Array] | None = None
        self.listed = 0  # slots [0, listed) are in the inverted lists

    @classmethod
    def from_arrays(
        cls,
        n_centroids: int,
        codes: np.ndarray,
        offsets: I64Array,
        lists: tuple[np.ndarray, I64Array],
    ) -> DocCodes:
        """Codes, offsets and inverted lists covering every slot (used in place)."""
        out = cls(n_centroids)
        out._codes, out._offsets = codes, offsets
        out._n_slots = int(offsets.shape[0]) - 1
        out.lists, out.listed = lists, out._n_slots
        return out

    @property
    def n_slots(self) -> int:
        """Slots held."""
        return self._n_slots

    def view(self) -> tuple[np.ndarray, I64Array]:
        """The used codes and offsets ``[n_slots + 1]``."""
        offsets = self._offsets[: self._n_slots + 1]
        return self._codes[: int(offsets[-1])], offsets

    def nbytes(self) -> dict[str, int]:
        """Bytes by part."""
        lists = 0 if self.lists is None else self.lists[0].nbytes + self.lists[1].nbytes
        n_codes = int(self._offsets[self._n_slots])
        return {
            "doc_codes": n_codes * 4,
            "doc_code_offsets": (self._n_slots + 1) * 8,
            "inverted_lists": lists,
        }

    def append(self, codes: np.ndarray, rel_offsets: I64Array) -> None:
        """Append ``len(rel_offsets) - 1`` slots whose codes ``codes`` start at ``rel_offsets``."""
        n_new = rel_offsets.shape[0] - 1
        base = int(self._offsets[self._n_slots])
        need = base + codes.shape[0]
        if need > self._codes.shape[0] or not self._codes.flags.writeable:
            grown = np.zeros(max(need, int(self._codes.shape[0] * 1.5)), dtype=np.int32)
            grown[:base] = self._codes[:base]
            self._codes = grown
        slots = self._n_slots + n_new + 1
        if slots > self._offsets.shape[0] or not self._offsets.flags.writeable:
            size = max(slots, int(self._offsets.shape[0] * 1.5))
            grown_off = np.zeros(size, dtype=np.int64)
            grown_off[: self._n_slots + 1] = self._offsets[: self._n_slots + 1]
            self._offsets = grown_off
        self._codes[base:need] = codes
        self._offsets[self._n_slots + 1 : slots] = base + rel_offsets[1:]
        self._n_slots += n_new

    def compacted(self, keep: I64Array) -> DocCodes:
        """Only slots ``keep`` (in that order), renumbered, with fresh lists."""
        codes, offsets = self.view()
        rows, new_offsets = slot_rows(offsets, keep)
        out = DocCodes(self.n_centroids)
        out.append(codes[rows], new_offsets)
        out.refresh()
        return out

    def refresh(self, *, force: bool = False) -> None:
        """Rebuild the lists when the unlisted tail is large, or (``force``) non-empty."""
        tail = self._n_slots - self.listed
        if self.lists is not None and (
            tail == 0 or (not force and tail <= max(2048, self.listed // 16))
        ):
            return
        codes, offsets = self.view()
        self.lists = inverted_lists(codes, offsets, self.n_centroids)
        self.listed = self._n_slots
