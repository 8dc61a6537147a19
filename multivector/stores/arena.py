"""The token arena: every token vector of one vector space in one packed array.

Rows ``offsets[i]:offsets[i+1]`` of ``tokens`` belong to slot ``i`` (an object's row id in the
embedded store). Slots are append-only; deleting is the store's tombstone mask, and
:meth:`TokenArena.compacted` rebuilds the arena without dead slots. Storage is float16 by default
(float32 optional); queries are float32 and kernels accumulate in float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from multivector._types import BoolArray, F32Array, I64Array
from multivector.kernels import SearchResult, maxsim_scores, maxsim_search, maxsim_search_batch
from multivector.stores.snapshot import PackedArena

__all__ = ["TokenArena"]

_MIN_CAPACITY = 1024


class TokenArena:
    """Packed ``[T, dim]`` token storage plus ``int64`` offsets, one entry per slot."""

    def __init__(self, *, dtype: str = "float16", dimension: int | None = None) -> None:
        self._dtype = np.dtype(dtype)
        self._dimension = dimension
        self._tokens: npt.NDArray[np.floating] | None = None
        self._offsets: I64Array = np.zeros(_MIN_CAPACITY, dtype=np.int64)
        self._n_slots = 0

    @property
    def dimension(self) -> int | None:
        """Width of every token vector, once known."""
        return self._dimension

    @property
    def dtype(self) -> np.dtype[np.floating]:
        """Storage dtype (float16 or float32)."""
        return self._dtype  # type: ignore[return-value]

    @property
    def n_slots(self) -> int:
        """Number of slots, live or dead."""
        return self._n_slots

    @property
    def n_tokens(self) -> int:
        """Token vectors stored (dead slots included until compaction)."""
        return int(self._offsets[self._n_slots])

    @property
    def nbytes(self) -> int:
        """Bytes of used token storage plus offsets."""
        dim = self._dimension or 0
        return self.n_tokens * dim * self._dtype.itemsize + (self._n_slots + 1) * 8

    def offsets(self) -> I64Array:
        """A view of the valid offsets, length ``n_slots + 1``."""
        return self._offsets[: self._n_slots + 1]

    def tokens(self) -> npt.NDArray[np.floating]:
        """The token array (may hold spare capacity rows past ``n_tokens``)."""
        if self._tokens is None:
            return np.zeros((0, self._dimension or 1), dtype=self._dtype)
        return self._tokens

    def _reserve_tokens(self, needed: int, dim: int) -> None:
        if self._tokens is None:
            self._tokens = np.empty((max(_MIN_CAPACITY, needed), dim), dtype=self._dtype)
            return
        if needed > self._tokens.shape[0] or not self._tokens.flags.writeable:
            # A read-only (memory-mapped) arena is copied into memory on its first append.
            capacity = max(needed, int(self._tokens.shape[0] * 1.5) + 1)
            grown = np.empty((capacity, dim), dtype=self._dtype)
            used = self.n_tokens
            grown[:used] = self._tokens[:used]
            self._tokens = grown  # readers holding the old array keep a valid snapshot

    def _reserve_slots(self, needed: int) -> None:
        if needed + 1 > self._offsets.shape[0]:
            grown = np.zeros(max(needed + 1, int(self._offsets.shape[0] * 1.5)), dtype=np.int64)
            grown[: self._n_slots + 1] = self._offsets[: self._n_slots + 1]
            self._offsets = grown

    @classmethod
    def from_packed(
        cls,
        tokens: npt.NDArray[np.floating],
        offsets: I64Array,
        *,
        dtype: str,
        dimension: int | None,
    ) -> TokenArena:
        """An arena over ready packed arrays; ``tokens`` may be a read-only memory map (it is
        used in place and copied only when something is appended).
        """
        out = cls(dtype=dtype, dimension=dimension)
        n_slots = int(offsets.shape[0]) - 1
        out._reserve_slots(n_slots)
        out._offsets[: n_slots + 1] = offsets
        out._n_slots = n_slots
        if int(offsets[-1]) > 0:
            out._tokens = tokens if tokens.dtype == out._dtype else tokens.astype(out._dtype)
        return out

    def packed(self) -> PackedArena:
        """The used token rows and the offsets (views, not copies)."""
        return PackedArena(self.tokens()[: self.n_tokens], self.offsets(), self._dimension)

    def append(self, matrices: Sequence[F32Array | None]) -> None:
        """Append one slot per matrix (None = no vector in this space: an empty slot)."""
        total = self.n_tokens + sum(m.shape[0] for m in matrices if m is not None)
        for m in matrices:
            if m is not None and self._dimension is None:
                self._dimension = int(m.shape[1])
        if self._dimension is not None and total > self.n_tokens:
            self._reserve_tokens(total, self._dimension)
        self._reserve_slots(self._n_slots + len(matrices))
        pos = self.n_tokens
        tokens = self._tokens
        for m in matrices:
            if m is not None and tokens is not None:
                tokens[pos : pos + m.shape[0]] = m
                pos += m.shape[0]
            self._n_slots += 1
            self._offsets[self._n_slots] = pos

    def matrix(self, slot: int) -> F32Array:
        """The float32 matrix of ``slot`` (empty ``[0, dim]`` when it has none)."""
        start, end = int(self._offsets[slot]), int(self._offsets[slot + 1])
        return np.asarray(self.tokens()[start:end], dtype=np.float32)

    def has_vector(self, slot: int) -> bool:
        """Whether ``slot`` holds at least one token vector."""
        return bool(self._offsets[slot + 1] > self._offsets[slot])

    def search(self, query: F32Array, *, k: int, mask: BoolArray | None) -> SearchResult:
        """Exact MaxSim top-``k`` among slots where ``mask`` is True (all slots when None)."""
        return maxsim_search(query, self.tokens(), self.offsets(), k, mask)

    def scores(self, query: F32Array, *, mask: BoolArray | None) -> F32Array:
        """MaxSim of ``query`` against every slot (-inf where masked out or empty)."""
        result: F32Array = maxsim_scores(query, self.tokens(), self.offsets(), mask)
        return result

    def search_batch(
        self, queries: Sequence[F32Array], *, k: int, mask: BoolArray | None
    ) -> list[SearchResult]:
        """Exact MaxSim top-``k`` for several queries in one pass over the arena."""
        return maxsim_search_batch(list(queries), self.tokens(), self.offsets(), k, mask)

    def compacted(self, keep: I64Array) -> TokenArena:
        """A new arena holding only the slots in ``keep`` (in that order), renumbered 0..len-1."""
        out = TokenArena(dtype=str(self._dtype), dimension=self._dimension)
        if len(keep) == 0:
            return out
        starts = self._offsets[keep]
        ends = self._offsets[keep + 1]
        lengths = ends - starts
        new_offsets = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_offsets[1:])
        total = int(new_offsets[-1])
        out._reserve_slots(len(keep))
        out._offsets[: len(keep) + 1] = new_offsets
        out._n_slots = len(keep)
        if total and self._dimension is not None and self._tokens is not None:
            out._reserve_tokens(total, self._dimension)
            rows = np.concatenate(
                [
                    np.arange(s, e, dtype=np.int64)
                    for s, e in zip(starts.tolist(), ends.tolist())
                    if e > s
                ]
            )
            out.tokens()[:total] = self._tokens[rows]
        return out
