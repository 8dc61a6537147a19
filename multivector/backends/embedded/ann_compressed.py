"""The compressed token store of a PLAID index: per token a centroid id and packed residual codes.

Rows mirror the arena's token rows slot by slot (``offsets`` are the store's own, equal to the
arena's while the index is in step), so a document's compressed tokens are rows
``offsets[s]:offsets[s + 1]``. Appends encode new tokens against the trained centroids and codec
(:mod:`multivector.kernels.ann_residual`); compaction gathers the surviving rows. Arrays may be
read-only memory maps (a reopened index): the first append copies them into memory.

It also measures drift: the mean squared residual norm of the tokens seen at training and of
every token appended since. New data that the centroids fit worse (a larger residual energy)
means the index should be retrained (:class:`~.ann_index.CentroidIndex` decides).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from multivector._types import F32Array, I64Array
from multivector.backends.embedded.arena import slot_rows
from multivector.kernels.ann_residual import (
    ResidualCodec,
    byte_table,
    encode_residuals,
    residual_maxsim,
)

__all__ = ["ResidualStore"]

_MIN_ROWS = 1024


class ResidualStore:
    """Centroid id (uint16, or int32 past 65,536 centroids) and residual bytes of every row."""

    def __init__(
        self,
        codec: ResidualCodec,
        n_centroids: int,
        *,
        train_energy: float,
        tok_codes: np.ndarray | None = None,
        packed: np.ndarray | None = None,
        offsets: I64Array | None = None,
        added_energy: float = 0.0,
        added_rows: int = 0,
    ) -> None:
        self.codec = codec
        self._table = byte_table(codec)
        self._n_centroids = n_centroids
        self._code_dtype = np.uint16 if n_centroids <= 1 << 16 else np.int32
        bpt = codec.bytes_per_token
        self._tok_codes = (
            tok_codes if tok_codes is not None else np.zeros(_MIN_ROWS, dtype=self._code_dtype)
        )
        self._packed = packed if packed is not None else np.zeros((_MIN_ROWS, bpt), dtype=np.uint8)
        self._offsets: I64Array = (
            offsets if offsets is not None else np.zeros(_MIN_ROWS, dtype=np.int64)
        )
        self._n_slots = 0 if offsets is None else int(offsets.shape[0]) - 1
        #: Mean squared residual norm of the training sample, and the sum / count since.
        self.train_energy = float(train_energy)
        self.added_energy = float(added_energy)
        self.added_rows = int(added_rows)

    # ------------------------------------------------------------------ state
    @property
    def n_slots(self) -> int:
        """Slots held."""
        return self._n_slots

    @property
    def n_rows(self) -> int:
        """Token rows held (dead slots' rows included until compaction)."""
        return int(self._offsets[self._n_slots])

    def offsets(self) -> I64Array:
        """Row offsets ``[n_slots + 1]``."""
        return self._offsets[: self._n_slots + 1]

    def drift(self) -> float:
        """Residual energy of the tokens appended since training over that of the training
        sample (1.0: they fit the centroids as well; 0.0 when nothing was appended).
        """
        if self.added_rows == 0 or self.train_energy <= 0:
            return 0.0
        return (self.added_energy / self.added_rows) / self.train_energy

    def parts(self) -> dict[str, int]:
        """Resident bytes by part."""
        rows = self.n_rows
        return {
            "token_codes": rows * self._tok_codes.itemsize,
            "residuals": rows * self.codec.bytes_per_token,
            "row_offsets": (self._n_slots + 1) * 8,
            "codec": self.codec.cutoffs.nbytes + self.codec.weights.nbytes + self._table.nbytes,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """The used arrays (views), for persisting."""
        rows = self.n_rows
        return {
            "tok_codes": self._tok_codes[:rows],
            "residuals": self._packed[:rows],
            "row_offsets": self.offsets(),
            "cutoffs": self.codec.cutoffs,
            "weights": self.codec.weights,
        }

    def meta(self) -> dict[str, Any]:
        """Scalars that go with :meth:`arrays`."""
        return {
            "nbits": self.codec.nbits,
            "train_energy": self.train_energy,
            "added_energy": self.added_energy,
            "added_rows": self.added_rows,
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], n_centroids: int
    ) -> ResidualStore:
        """Inverse of :meth:`arrays` / :meth:`meta` (arrays used in place, memory maps too)."""
        codec = ResidualCodec(
            int(meta["nbits"]),
            np.ascontiguousarray(arrays["cutoffs"], dtype=np.float32),
            np.ascontiguousarray(arrays["weights"], dtype=np.float32),
        )
        return cls(
            codec,
            n_centroids,
            train_energy=float(meta["train_energy"]),
            tok_codes=arrays["tok_codes"],
            packed=arrays["residuals"],
            offsets=np.ascontiguousarray(arrays["row_offsets"], dtype=np.int64),
            added_energy=float(meta["added_energy"]),
            added_rows=int(meta["added_rows"]),
        )

    # ----------------------------------------------------------------- writes
    def append(
        self,
        codes: np.ndarray,
        vectors: np.ndarray,
        centroids: F32Array,
        lengths: I64Array,
        *,
        track_drift: bool = True,
    ) -> None:
        """Append one slot per entry of ``lengths`` whose ``sum(lengths)`` rows are ``vectors``
        (float) with centroid ids ``codes``.
        """
        n_new = int(lengths.shape[0])
        rows = int(codes.shape[0])
        base = self.n_rows
        self.reserve(base + rows, self._n_slots + n_new)
        if rows:
            self._tok_codes[base : base + rows] = codes
            self._packed[base : base + rows] = encode_residuals(
                vectors, codes, centroids, self.codec
            )
            if track_drift:
                diff = np.asarray(vectors, dtype=np.float32) - centroids[codes]
                self.added_energy += float(np.einsum("ij,ij->", diff, diff))
                self.added_rows += rows
        np.cumsum(lengths, out=self._offsets[self._n_slots + 1 : self._n_slots + n_new + 1])
        self._offsets[self._n_slots + 1 : self._n_slots + n_new + 1] += base
        self._n_slots += n_new

    def encode_rows(
        self, lo: int, codes: np.ndarray, vectors: np.ndarray, centroids: F32Array
    ) -> None:
        """Write rows ``lo .. lo + len(codes)`` (reserved first; training fills the store in
        blocks this way, then sets the offsets with :meth:`set_offsets`).
        """
        hi = lo + int(codes.shape[0])
        self._tok_codes[lo:hi] = codes
        self._packed[lo:hi] = encode_residuals(vectors, codes, centroids, self.codec)

    def set_offsets(self, offsets: I64Array) -> None:
        """Declare the slots: row offsets ``[n + 1]`` over the rows written so far."""
        self.reserve(int(offsets[-1]), int(offsets.shape[0]) - 1)
        self._offsets[: offsets.shape[0]] = offsets
        self._n_slots = int(offsets.shape[0]) - 1

    def reserve(self, rows: int, slots: int) -> None:
        """Room for ``rows`` token rows and ``slots`` slots (copying read-only arrays)."""
        writeable = (
            self._tok_codes.flags.writeable
            and self._packed.flags.writeable
            and self._offsets.flags.writeable
        )
        if rows > self._tok_codes.shape[0] or not writeable:
            size = max(rows, int(self._tok_codes.shape[0] * 1.5) + 1, _MIN_ROWS)
            used = min(self.n_rows, self._tok_codes.shape[0])
            codes = np.zeros(size, dtype=self._code_dtype)
            codes[:used] = self._tok_codes[:used]
            packed = np.zeros((size, self._packed.shape[1]), dtype=np.uint8)
            packed[:used] = self._packed[:used]
            self._tok_codes, self._packed = codes, packed
        if slots + 1 > self._offsets.shape[0] or not self._offsets.flags.writeable:
            grown = np.zeros(max(slots + 1, int(self._offsets.shape[0] * 1.5) + 1), np.int64)
            grown[: self._n_slots + 1] = self._offsets[: self._n_slots + 1]
            self._offsets = grown

    def compacted(self, keep: I64Array) -> ResidualStore:
        """A store of only slots ``keep`` (in that order), renumbered ``0..len(keep)-1``."""
        rows, new_offsets = slot_rows(self.offsets(), keep)
        return ResidualStore(
            self.codec,
            self._n_centroids,
            train_energy=self.train_energy,
            tok_codes=self._tok_codes[rows],
            packed=self._packed[rows],
            offsets=new_offsets,
            added_energy=self.added_energy,
            added_rows=self.added_rows,
        )

    # ----------------------------------------------------------------- search
    def score(
        self, query: F32Array, centroids: F32Array, slots: I64Array, *, parallel: bool
    ) -> F32Array:
        """MaxSim of ``query`` against the decoded tokens of ``slots`` (float32 ``[len]``)."""
        return residual_maxsim(
            query,
            self._tok_codes,
            self._packed,
            self._table,
            centroids,
            self.offsets(),
            np.ascontiguousarray(slots, dtype=np.int64),
            parallel=parallel,
        )
