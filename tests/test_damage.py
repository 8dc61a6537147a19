"""Damage is detected, never served: a store with a flipped byte, a truncated or foreign file,
or a damaged cache file either reads back exactly the data it was given, or raises an error of
our tree naming the file. Never a foreign exception, never silently different data.
"""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import MultiVectorError, StorageFormatError, StorageWarning

N = 60
DB = "multivector.sqlite3"


def _build(folder: Path, *, mmap_cache: bool) -> None:
    rng = np.random.default_rng(5)
    with multivector.connect(folder, mmap_cache=mmap_cache) as client:
        col = client.collections.create(
            "Docs",
            vector_config=[Configure.MultiVectors.self_provided(name="mv")],
            properties=[
                Property(name="text", data_type=DataType.TEXT),
                Property(name="n", data_type=DataType.INT),
            ],
        )
        col.data.insert_many(
            [
                multivector.DataObject(
                    {"text": f"object {i} word{i % 7} alpha", "n": i},
                    str(multivector.generate_uuid5(f"d{i}")),
                    {"mv": rng.normal(size=(1 + i % 5, 8)).astype(np.float32)},
                )
                for i in range(N)
            ]
        )
        col.data.delete_by_id(str(multivector.generate_uuid5("d3")))


def _read(folder: Path, *, mmap_cache: bool) -> Any:
    """Everything a user can read back: objects with vectors, a vector and a keyword search."""
    q = np.random.default_rng(9).normal(size=(3, 8)).astype(np.float32)
    with multivector.connect(folder, mmap_cache=mmap_cache, read_only=True) as client:
        col = client.collections.use("Docs")
        objects = sorted(
            (o.uuid, sorted(o.properties.items()), np.asarray(o.vector["mv"]).tobytes())
            for o in col.query.fetch_objects(include_vector=True).objects
        )
        vec = [(o.uuid, o.metadata.score) for o in col.query.near_vector(q, limit=10).objects]
        kw = [(o.uuid, o.metadata.score) for o in col.query.bm25("word3 alpha", limit=10).objects]
        return objects, vec, kw


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[Path, Any]]:
    out = {}
    for mmap_cache in (False, True):
        folder = tmp_path_factory.mktemp(f"pristine-{mmap_cache}") / "store"
        _build(folder, mmap_cache=mmap_cache)
        out[mmap_cache] = (folder, _read(folder, mmap_cache=mmap_cache))
    return out


def _outcome(folder: Path, expected: Any, *, mmap_cache: bool, names: str) -> str:
    """'same', or 'error' (a library error naming the damaged file); fails on anything else."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            got = _read(folder, mmap_cache=mmap_cache)
        except MultiVectorError as exc:
            assert names in str(exc), f"error does not name {names}: {exc!r}"
            return "error"
    assert all(issubclass(w.category, StorageWarning) for w in caught), [str(w) for w in caught]
    assert got == expected, "damaged store served different data"
    return "warned" if caught else "same"


def _flip(path: Path, rng: np.random.Generator, width: int) -> None:
    data = bytearray(path.read_bytes())
    at = int(rng.integers(0, len(data) - width + 1))
    for i in range(width):
        data[at + i] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("width", [1, 16])
def test_byte_flips_in_the_store_file(
    pristine: dict[bool, tuple[Path, Any]], tmp_path: Path, width: int
) -> None:
    source, expected = pristine[False]
    rng = np.random.default_rng(width)
    outcomes: dict[str, int] = {}
    for trial in range(120):
        folder = tmp_path / f"t{trial}"
        shutil.copytree(source, folder)
        _flip(folder / DB, rng, width)
        kind = _outcome(folder, expected, mmap_cache=False, names=DB)
        outcomes[kind] = outcomes.get(kind, 0) + 1
        shutil.rmtree(folder)
    assert outcomes.get("error", 0) > 0, outcomes  # some flips hit data and were caught


CACHE_FILES = [
    "uuids.npy",
    "s0.tokens.npy",
    "s0.offsets.npy",
    "k0.npz",
    "k0.vocab.json",
    "stamp.json",
]


@pytest.mark.parametrize("name", CACHE_FILES)
def test_byte_flips_in_each_cache_file(
    pristine: dict[bool, tuple[Path, Any]], tmp_path: Path, name: str
) -> None:
    source, expected = pristine[True]
    rng = np.random.default_rng(len(name))
    outcomes: dict[str, int] = {}
    for trial in range(12):
        folder = tmp_path / f"t{trial}"
        shutil.copytree(source, folder)
        cache = next((folder / "cache").iterdir())
        _flip(cache / name, rng, 1)
        kind = _outcome(folder, expected, mmap_cache=True, names=name)
        outcomes[kind] = outcomes.get(kind, 0) + 1
        shutil.rmtree(folder)
    # A damaged cache file is never an error: it is rebuilt from SQLite, with a warning.
    assert outcomes.get("warned", 0) == 12, outcomes


@pytest.mark.parametrize("keep", [0, 100, 4096, 0.5])
def test_truncated_store_file_is_refused(
    pristine: dict[bool, tuple[Path, Any]], tmp_path: Path, keep: float
) -> None:
    source, _ = pristine[False]
    folder = tmp_path / "store"
    shutil.copytree(source, folder)
    data = (folder / DB).read_bytes()
    (folder / DB).write_bytes(data[: int(keep * len(data)) if keep < 1 else int(keep)])
    for read_only in (True, False):
        with pytest.raises(StorageFormatError, match=DB):
            with multivector.connect(folder, read_only=read_only) as client:
                client.collections.use("Docs").query.fetch_objects()
    assert (folder / DB).stat().st_size == (int(keep * len(data)) if keep < 1 else int(keep))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_text("these are not the droids you are looking for\n" * 100),
        lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.commit(),
    ],
    ids=["text", "other-sqlite"],
)
def test_a_foreign_file_is_refused_not_re_created(
    tmp_path: Path, make: Callable[[Path], Any]
) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    make(folder / DB)
    before = (folder / DB).read_bytes()
    with pytest.raises(StorageFormatError, match=DB):
        multivector.connect(folder)
    assert (folder / DB).read_bytes() == before


def test_verify_reports_damage_and_passes_a_sound_store(
    pristine: dict[bool, tuple[Path, Any]], tmp_path: Path
) -> None:
    source, _ = pristine[True]
    with multivector.connect(source, read_only=True) as client:
        report = client.verify()
    assert report.ok, str(report)
    assert report.objects == {"Docs": N - 1}
    folder = tmp_path / "store"
    shutil.copytree(source, folder)
    con = sqlite3.connect(folder / DB)
    con.execute("UPDATE objects SET properties = replace(properties, 'alpha', 'omega')")
    con.commit()
    con.close()
    cache = next((folder / "cache").iterdir())
    _flip(cache / "s0.tokens.npy", np.random.default_rng(1), 1)
    from multivector.__main__ import main

    assert main(["verify", str(source)]) == 0
    assert main(["verify", str(folder)]) == 1
    with multivector.connect(folder, read_only=True) as client:
        report = client.verify()
    assert not report.ok
    text = "\n".join(report.problems)
    assert "checksum mismatch" in text and "s0.tokens.npy" in text
