"""The token arena: every token vector of one vector space in one packed array.

Rows ``offsets[i]:offsets[i+1]`` of ``tokens`` belong to slot ``i`` (an object's row id in the
embedded store). Slots are append-only; deleting is the store's tombstone mask, and
:meth:`TokenArena.compacted` rebuilds the arena without dead slots. Storage is float16 by default
(float32 optional); queries are float32 and kernels accumulate in float32.

An ``int8`` arena keeps ``tokens`` int8 plus ``scales`` float32 ``[capacity]`` (symmetric
per-token quantisation, :mod:`multivector.kernels.quantize`): ``dim + 4`` bytes per token. It
quantises each matrix after rounding it to float16, the form the store file keeps for int8
spaces, so an arena rebuilt from the file holds exactly the bytes the writer's arena held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from multivector._types import BoolArray, F32Array, I64Array
from multivector.backends.embedded.storage import PackedArena
from multivector.kernels import SearchResult, maxsim_scores, maxsim_search, maxsim_search_batch
from multivector.kernels.quantize import dequantize_int8, quantize_int8
from multivector.schema.config import CollectionConfig

__all__ = ["TokenArena", "arenas_from_packed", "slot_rows"]

_MIN_CAPACITY = 1024


class TokenArena:
    """Packed ``[T, dim]`` token storage plus ``int64`` offsets, one entry per slot."""

    def __init__(self, *, dtype: str = "float16", dimension: int | None = None) -> None:
        self._dtype = np.dtype(dtype)
        self._int8 = self._dtype == np.int8
        self._dimension = dimension
        self._tokens: npt.NDArray[Any] | None = None
        #: int8 arenas only: one float32 scale per token row (same capacity as ``_tokens``).
        self._scales: F32Array | None = None
        self._offsets: I64Array = np.zeros(_MIN_CAPACITY, dtype=np.int64)
        self._n_slots = 0

    @property
    def dimension(self) -> int | None:
        """Width of every token vector, once known."""
        return self._dimension

    @property
    def dtype(self) -> np.dtype[Any]:
        """Storage dtype (float16, float32 or int8)."""
        return self._dtype

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
        """Bytes of used token storage (int8: values plus one float32 scale per token) plus offsets."""
        dim = self._dimension or 0
        per_token = dim * self._dtype.itemsize + (4 if self._int8 else 0)
        return self.n_tokens * per_token + (self._n_slots + 1) * 8

    def offsets(self) -> I64Array:
        """A view of the valid offsets, length ``n_slots + 1``."""
        return self._offsets[: self._n_slots + 1]

    def tokens(self) -> npt.NDArray[Any]:
        """The token array (may hold spare capacity rows past ``n_tokens``)."""
        if self._tokens is None:
            return np.zeros((0, self._dimension or 1), dtype=self._dtype)
        return self._tokens

    def scales(self) -> F32Array | None:
        """int8 arenas: the per-row scales, as long as :meth:`tokens`; None for float arenas."""
        if not self._int8:
            return None
        if self._scales is None:
            return np.zeros(0, dtype=np.float32)
        return self._scales

    def _reserve_tokens(self, needed: int, dim: int) -> None:
        if self._tokens is None:
            capacity = max(_MIN_CAPACITY, needed)
            self._tokens = np.empty((capacity, dim), dtype=self._dtype)
            if self._int8:
                self._scales = np.empty(capacity, dtype=np.float32)
            return
        writeable = self._tokens.flags.writeable and (
            self._scales is None or self._scales.flags.writeable
        )
        if needed > self._tokens.shape[0] or not writeable:
            # A read-only (memory-mapped) arena is copied into memory on its first append.
            capacity = max(needed, self._tokens.shape[0] * 2)  # untouched rows stay unpaged
            grown = np.empty((capacity, dim), dtype=self._dtype)
            used = self.n_tokens
            grown[:used] = self._tokens[:used]
            if self._scales is not None:
                scales = np.empty(capacity, dtype=np.float32)
                scales[:used] = self._scales[:used]
                self._scales = scales
            self._tokens = grown  # readers holding the old array keep a valid snapshot

    def _reserve_slots(self, needed: int) -> None:
        if needed + 1 > self._offsets.shape[0]:
            grown = np.zeros(max(needed + 1, int(self._offsets.shape[0] * 1.5)), dtype=np.int64)
            grown[: self._n_slots + 1] = self._offsets[: self._n_slots + 1]
            self._offsets = grown

    @classmethod
    def from_packed(
        cls,
        tokens: npt.NDArray[Any],
        offsets: I64Array,
        *,
        dtype: str,
        dimension: int | None,
        scales: F32Array | None = None,
    ) -> TokenArena:
        """An arena over ready packed arrays; ``tokens`` may be a read-only memory map (it is
        used in place and copied only when something is appended).

        For an int8 arena, int8 ``tokens`` come with their ``scales``; float ``tokens`` (the
        store file's float16 rows) are quantised here.
        """
        out = cls(dtype=dtype, dimension=dimension)
        n_slots = int(offsets.shape[0]) - 1
        out._reserve_slots(n_slots)
        out._offsets[: n_slots + 1] = offsets
        out._n_slots = n_slots
        if int(offsets[-1]) == 0:
            return out
        if out._int8 and tokens.dtype == np.int8 and scales is not None:
            out._tokens, out._scales = tokens, scales
        elif out._int8:
            out._tokens, out._scales = quantize_int8(tokens[: int(offsets[-1])])
        elif scales is not None:  # int8 rows for a float arena: widen them
            out._tokens = dequantize_int8(tokens, scales).astype(out._dtype)
        else:
            out._tokens = tokens if tokens.dtype == out._dtype else tokens.astype(out._dtype)
        return out

    def packed(self) -> PackedArena:
        """The used token rows, their scales (int8) and the offsets (views, not copies)."""
        scales = self.scales()
        return PackedArena(
            self.tokens()[: self.n_tokens],
            self.offsets(),
            self._dimension,
            scales=None if scales is None else scales[: self.n_tokens],
        )

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
                if self._scales is not None:
                    rows = quantize_int8(np.asarray(m, dtype=np.float16))
                    tokens[pos : pos + m.shape[0]] = rows.values
                    self._scales[pos : pos + m.shape[0]] = rows.scales
                else:
                    tokens[pos : pos + m.shape[0]] = m
                pos += m.shape[0]
            self._n_slots += 1
            self._offsets[self._n_slots] = pos

    def matrix(self, slot: int) -> F32Array:
        """The float32 matrix of ``slot`` (empty ``[0, dim]`` when it has none)."""
        start, end = int(self._offsets[slot]), int(self._offsets[slot + 1])
        if self._int8 and self._scales is not None:
            return dequantize_int8(self.tokens()[start:end], self._scales[start:end])
        return np.asarray(self.tokens()[start:end], dtype=np.float32)

    def has_vector(self, slot: int) -> bool:
        """Whether ``slot`` holds at least one token vector."""
        return bool(self._offsets[slot + 1] > self._offsets[slot])

    def search(self, query: F32Array, *, k: int, mask: BoolArray | None) -> SearchResult:
        """Exact MaxSim top-``k`` among slots where ``mask`` is True (all slots when None)."""
        return maxsim_search(query, self.tokens(), self.offsets(), k, mask, scales=self.scales())

    def scores(self, query: F32Array, *, mask: BoolArray | None) -> F32Array:
        """MaxSim of ``query`` against every slot (-inf where masked out or empty)."""
        result: F32Array = maxsim_scores(
            query, self.tokens(), self.offsets(), mask, scales=self.scales()
        )
        return result

    def search_batch(
        self, queries: Sequence[F32Array], *, k: int, mask: BoolArray | None
    ) -> list[SearchResult]:
        """Exact MaxSim top-``k`` for several queries in one pass over the arena."""
        return maxsim_search_batch(
            list(queries), self.tokens(), self.offsets(), k, mask, scales=self.scales()
        )

    def compacted(self, keep: I64Array) -> TokenArena:
        """A new arena holding only the slots in ``keep`` (in that order), renumbered 0..len-1."""
        out = TokenArena(dtype=str(self._dtype), dimension=self._dimension)
        if len(keep) == 0:
            return out
        rows, new_offsets = slot_rows(self.offsets(), keep)
        total = int(new_offsets[-1])
        out._reserve_slots(len(keep))
        out._offsets[: len(keep) + 1] = new_offsets
        out._n_slots = len(keep)
        if total and self._dimension is not None and self._tokens is not None:
            out._reserve_tokens(total, self._dimension)
            out.tokens()[:total] = self._tokens[rows]
            if self._scales is not None and out._scales is not None:
                out._scales[:total] = self._scales[rows]
        return out


def slot_rows(offsets: I64Array, slots: I64Array) -> tuple[I64Array, I64Array]:
    """The rows of ``slots`` (in that order) in a packed array delimited by ``offsets``, and the
    offsets ``[len(slots) + 1]`` of those slots once gathered: ``array[rows]`` is the compacted
    array (for token arenas and the index's per-token and per-document codes alike).
    """
    starts = offsets[slots]
    lengths = offsets[slots + 1] - starts
    new_offsets = np.zeros(len(slots) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    rows = np.repeat(starts - new_offsets[:-1], lengths) + np.arange(
        int(new_offsets[-1]), dtype=np.int64
    )
    return rows, new_offsets


def arenas_from_packed(
    config: CollectionConfig, packed: Mapping[str, PackedArena]
) -> dict[str, TokenArena]:
    """An arena per vector space of ``config`` that ``packed`` holds (used in place)."""
    out = {}
    for vec in config.vectors:
        space = packed.get(vec.name)
        if space is not None:
            out[vec.name] = TokenArena.from_packed(
                space.tokens,
                space.offsets,
                dtype=vec.dtype,
                dimension=space.dimension,
                scales=space.scales,
            )
    return out
