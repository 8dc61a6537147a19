"""The BM25 postings' files in a collection's cache folder (see :mod:`.folder_cache`).

Property ``i``'s postings are ``k<i>.vocab.json`` (the vocabulary) and ``k<i>.npz`` (the bulk
arrays of :class:`~multivector.backends.embedded.bm25_postings.BulkPostings`, no pickle); a load
checks every array's dtype, shape and range before the postings are used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from multivector.backends.embedded.bm25_postings import BulkPostings

__all__ = ["load_bulk", "write_bulk"]

_BULK_ARRAYS = ("df", "term_ptr", "slots", "tfs", "doc_ptr", "doc_tids", "lengths")


def write_bulk(folder: Path, i: int, base: BulkPostings) -> None:
    tmp = folder / f"k{i}.vocab.json.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(base.vocabulary, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / f"k{i}.vocab.json")
    tmp = folder / f"k{i}.npz.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **{name: getattr(base, name) for name in _BULK_ARRAYS})
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / f"k{i}.npz")


def load_bulk(folder: Path, i: int, n: int) -> BulkPostings | None:
    """Bulk postings over slots ``0 .. n - 1`` (None when the files do not check out)."""
    vocabulary = json.loads((folder / f"k{i}.vocab.json").read_text("utf-8"))
    with np.load(folder / f"k{i}.npz", allow_pickle=False) as npz:
        arrays = {name: np.asarray(npz[name]) for name in _BULK_ARRAYS}
    if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
        return None
    v = len(vocabulary)
    df, term_ptr, slots = arrays["df"], arrays["term_ptr"], arrays["slots"]
    doc_ptr, doc_tids, lengths = arrays["doc_ptr"], arrays["doc_tids"], arrays["lengths"]
    if not (
        len(set(vocabulary)) == v
        and all(a.ndim == 1 and a.dtype.kind in "iu" for k, a in arrays.items() if k != "tfs")
        and arrays["tfs"].dtype == np.float64
        and df.shape == (v,)
        and term_ptr.shape == (v + 1,)
        and doc_ptr.shape == (n + 1,)
        and lengths.shape == (n,)
        and term_ptr[0] == 0
        and doc_ptr[0] == 0
        and bool(np.all(np.diff(term_ptr) == df))
        and bool(np.all(np.diff(doc_ptr) >= 0))
        and term_ptr[-1] == slots.shape[0] == arrays["tfs"].shape[0]
        and doc_ptr[-1] == doc_tids.shape[0]
        and (slots.size == 0 or (int(slots.min()) >= 0 and int(slots.max()) < n))
        and (doc_tids.size == 0 or (int(doc_tids.min()) >= 0 and int(doc_tids.max()) < v))
    ):
        return None
    return BulkPostings(
        vocabulary=vocabulary,
        df=df.astype(np.int64),
        term_ptr=term_ptr.astype(np.int64),
        slots=slots.astype(np.int64),
        tfs=arrays["tfs"],
        doc_slots=np.arange(n, dtype=np.int64),
        doc_ptr=doc_ptr.astype(np.int64),
        doc_tids=doc_tids.astype(np.int64),
        lengths=lengths.astype(np.int64),
    )
