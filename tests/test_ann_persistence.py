"""The persisted PLAID index: written with the store's cache, mapped back on reopen, and never
served when it disagrees with the objects in SQLite, whatever write step a SIGKILL interrupts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import multivector
from multivector.config import Configure
from multivector.kernels import maxsim_scores

INDEX = Configure.VectorIndex.plaid(
    n_centroids=16,
    n_candidates=120,
    n_decode=60,
    n_rerank=20,
    flat_search_cutoff=0,
    min_train_docs=50,
    n_iter=4,
)
DIM = 16


def docs(seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        m = rng.standard_normal((int(rng.integers(3, 12)), DIM)).astype(np.float32)
        out.append(m / np.linalg.norm(m, axis=1, keepdims=True))
    return out


def insert(col: multivector.Collection, matrices: list[np.ndarray], start: int) -> None:
    objects = [
        multivector.DataObject({"i": start + j}, multivector.generate_uuid5(start + j), {"mv": m})
        for j, m in enumerate(matrices)
    ]
    assert not col.data.insert_many(objects).has_errors


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 300 objects whose trained index was persisted (retrain_index checkpoints)."""
    path = tmp_path_factory.mktemp("base")
    with multivector.connect(path=path) as client:
        col = client.collections.create(
            "Docs", vector_config=[Configure.MultiVectors.self_provided(name="mv", index=INDEX)]
        )
        insert(col, docs(1, 300), 0)
        col.retrain_index()
    stamp = next((path / "cache").glob("c*/stamp.json"))
    assert '"indexes": [{' in stamp.read_text()
    return path


CHILD = r"""
import os, signal, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
import multivector
from multivector.backends.durable import folder_cache
from test_ann_persistence import docs, insert
path, kill_at = sys.argv[1], int(sys.argv[2])
state = {"armed": False, "writes": 0}
real_write, real_crc = folder_cache._write_npy, folder_cache._stamp_crc

def step():
    if state["armed"]:
        if state["writes"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        state["writes"] += 1

def write(p, a):
    step()
    real_write(p, a)

def crc(stamp):
    if "files" in stamp and "crc" not in stamp:  # the save's last step before the stamp
        step()
    return real_crc(stamp)

folder_cache._write_npy, folder_cache._stamp_crc = write, crc
client = multivector.connect(path=path)
col = client.collections.use("Docs")
insert(col, docs(2, 150), 300)
col.data.delete_many(where=multivector.Filter.by_property("i").less_than(40))
print("ACKED", flush=True)
if kill_at < 0:  # a crash before the index is saved: the cache on disk is the last close's
    os.kill(os.getpid(), signal.SIGKILL)
state["armed"] = True
col.retrain_index()  # trains, then checkpoints: the cache with the new index is written now
client.close()
print("CLOSED", state["writes"], flush=True)
"""


def run_child(path: Path, kill_at: int) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(kill_at), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.split()
    assert "ACKED" in lines, done.stderr[-3000:]
    return lines


def check_store(path: Path) -> bool:
    """Every acknowledged write is there and what is served agrees with the stored objects;
    returns whether the persisted index was used (trained at once, without training)."""
    with multivector.connect(path=path) as client:
        col = client.collections.use("Docs")
        assert len(col) == 410  # 300 + 150 - 40: acknowledged before the kill
        index = col.backend._ann.index(col.backend.config, "mv", col.backend._arenas["mv"])
        restored = index is not None and index.trained
        if restored:  # a mapped index must index exactly these objects
            assert index.n_slots == col.backend._arenas["mv"].n_slots
            assert index.residuals is not None
            np.testing.assert_array_equal(
                index.residuals.offsets(), col.backend._arenas["mv"].offsets()
            )
        arena = col.backend._arenas["mv"]
        for d in (0, 45, 320, 449):
            q = docs(1 if d < 300 else 2, 300 if d < 300 else 150)[d % 300 if d < 300 else d - 300]
            got = col.query.near_vector(
                q, limit=5, return_metadata=multivector.MetadataQuery(distance=True)
            )
            exact = maxsim_scores(q, arena.tokens(), arena.offsets(), col.backend.alive())
            # every returned score is the object's exact MaxSim; deleted objects never come back
            for obj in got.objects:
                assert obj.properties["i"] >= 40
                slot = col.backend._slot_of[str(obj.uuid)]
                assert -obj.metadata.distance == pytest.approx(float(exact[slot]), abs=1e-3)
            if d >= 40:
                assert str(got.objects[0].uuid) == str(multivector.generate_uuid5(d))
    return restored


@pytest.mark.slow
def test_sigkill_at_every_write_step_of_the_index_never_serves_a_disagreeing_index(
    base: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run"
    shutil.copytree(base, path)
    lines = run_child(path, kill_at=10_000)  # a full run counts the steps
    steps = int(lines[lines.index("CLOSED") + 1])
    assert steps >= 12  # uuids, tokens, offsets, ten index arrays, the stamp
    assert check_store(path)  # a clean close: the index is mapped back, not retrained
    outcomes = []
    for kill_at in range(steps):
        path = tmp_path / f"kill{kill_at}"
        shutil.copytree(base, path)
        assert "CLOSED" not in run_child(path, kill_at)
        outcomes.append(check_store(path))
    assert not any(outcomes)  # a save cut short never leaves an index that is used


def test_reopen_serves_the_same_results_from_the_mapped_index(base: Path, tmp_path: Path) -> None:
    path = tmp_path / "copy"
    shutil.copytree(base, path)
    queries = docs(1, 300)[:20]
    with multivector.connect(path=path) as client:
        col = client.collections.use("Docs")
        first = [[str(o.uuid) for o in col.query.near_vector(q, limit=8).objects] for q in queries]
        assert col.index_stats()["mv"]["trained"]  # mapped: no training was needed
        arrays = col.backend._ann.get("mv").residuals.arrays()
        assert not arrays["residuals"].flags.writeable  # a read-only memory map
    with multivector.connect(path=path, read_only=True) as reader:
        col = reader.collections.use("Docs")
        again = [[str(o.uuid) for o in col.query.near_vector(q, limit=8).objects] for q in queries]
        assert col.index_stats()["mv"]["trained"]
    assert again == first


def test_a_damaged_index_file_is_detected_and_rebuilt(base: Path, tmp_path: Path) -> None:
    path = tmp_path / "damaged"
    shutil.copytree(base, path)
    target = next((path / "cache").glob("c*/a0.residuals.npy"))
    data = bytearray(target.read_bytes())
    data[-5] ^= 0xFF
    target.write_bytes(bytes(data))
    with multivector.connect(path=path) as client:
        with pytest.warns(multivector.errors.StorageWarning, match="CRC"):
            col = client.collections.use("Docs")
            len(col)
        assert not col.index_stats()["mv"]["trained"]  # not trusted: trained again
        col.query.near_vector(docs(1, 1)[0], limit=3)
        col.wait_for_index()
        assert col.index_stats()["mv"]["trained"]


def test_large_files_are_checked_after_the_load_and_a_damaged_one_reloads_from_sqlite(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    import warnings

    from multivector.backends.durable import folder_cache

    monkeypatch.setattr(folder_cache, "DEFER_CRC_BYTES", 1024)  # every index array is "large"
    path = tmp_path / "late"
    shutil.copytree(base, path)
    target = next((path / "cache").glob("c*/a0.residuals.npy"))
    data = bytearray(target.read_bytes())
    data[-5] ^= 0xFF  # any residual byte decodes to some bucket: served, never out of bounds
    target.write_bytes(bytes(data))
    with multivector.connect(path=path) as client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        col = client.collections.use("Docs")
        stamp = next((path / "cache").glob("c*")) / "stamp.json"
        deadline = time.monotonic() + 30
        while not any("CRC" in str(w.message) for w in caught) and time.monotonic() < deadline:
            assert len(col) == 300  # served meanwhile; a call after the check reloads
            time.sleep(0.02)
        assert any("CRC" in str(w.message) for w in caught)
        assert not stamp.exists()  # the cache is not trusted again
        assert not col.index_stats()["mv"]["trained"]  # reloaded from SQLite: trained anew


def test_a_crash_before_close_leaves_a_stale_index_that_is_caught_up_not_trusted(
    base: Path, tmp_path: Path
) -> None:
    path = tmp_path / "crashed"
    shutil.copytree(base, path)
    assert "CLOSED" not in run_child(path, kill_at=-1)
    assert check_store(path)  # caught up: the 300 old objects' codes kept, the new ones encoded
    with multivector.connect(path=path) as client:  # the caught-up index was saved at close
        col = client.collections.use("Docs")
        assert col.index_stats()["mv"]["trained"] and not col.backend.index_dirty


def test_retrain_index_checkpoints_the_cache_and_serves_from_the_mapped_files(tmp_path: Path):
    with multivector.connect(path=tmp_path) as client:
        col = client.collections.create(
            "Docs", vector_config=[Configure.MultiVectors.self_provided(name="mv", index=INDEX)]
        )
        insert(col, docs(1, 120), 0)
        assert col.backend._arenas["mv"].tokens().flags.writeable  # imported: in memory
        col.retrain_index()
        tokens = col.backend._arenas["mv"].tokens()
        assert isinstance(tokens, np.memmap) and not tokens.flags.writeable  # file-backed now
        assert not col.backend.index_dirty and col.index_stats()["mv"]["trained"]
        with multivector.connect(path=tmp_path, read_only=True) as reader:  # maps it at once
            assert reader.collections.use("Docs").index_stats()["mv"]["trained"]
        q = docs(1, 120)[7]
        before = [str(o.uuid) for o in col.query.near_vector(q, limit=5).objects]
        insert(col, docs(3, 10), 120)  # the mapped arena and index are copied on this write
        assert len(col) == 130 and col.backend._arenas["mv"].tokens().flags.writeable
        assert [str(o.uuid) for o in col.query.near_vector(q, limit=5).objects][:1] == before[:1]


def test_a_current_cache_serves_the_objects_without_scanning_the_rows(tmp_path: Path) -> None:
    import datetime as dt

    from multivector.backends.durable import sqlite_storage
    from multivector.config import DataType, Property

    when = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    with multivector.connect(path=tmp_path) as client:
        col = client.collections.create(
            "Docs",
            properties=[Property(name="at", data_type=DataType.DATE)],
            vector_config=[Configure.MultiVectors.self_provided(name="mv", index=INDEX)],
        )
        objects = [
            multivector.DataObject({"at": when, "i": i}, multivector.generate_uuid5(i), {"mv": m})
            for i, m in enumerate(docs(4, 80))
        ]
        assert not col.data.insert_many(objects).has_errors
        col.retrain_index()
        want = col.query.fetch_object_by_id(multivector.generate_uuid5(3))
    scans = []
    real = sqlite_storage.decode_properties

    def counting(*args, **kwargs):
        scans.append(1)
        return real(*args, **kwargs)

    sqlite_storage.decode_properties = counting
    try:
        with multivector.connect(path=tmp_path) as client:
            col = client.collections.use("Docs")
            got = col.query.fetch_object_by_id(multivector.generate_uuid5(3))
            assert got.properties == want.properties and got.properties["at"] == when
            assert got.metadata.creation_time == want.metadata.creation_time
            assert len(col) == 80 and not scans  # one file read, no row decoded
        objects_file = next((tmp_path / "cache").glob("c*/objects.json"))
        objects_file.write_text(objects_file.read_text().replace('"i":3', '"i":4'))
        with multivector.connect(path=tmp_path) as client:
            with pytest.warns(multivector.errors.StorageWarning, match="CRC"):
                col = client.collections.use("Docs")
                assert (
                    col.query.fetch_object_by_id(multivector.generate_uuid5(3)).properties["i"] == 3
                )
            assert len(scans) == 80  # damaged: the rows are the truth
    finally:
        sqlite_storage.decode_properties = real


def test_a_cache_rewritten_before_any_search_keeps_the_mapped_index(base: Path, tmp_path: Path):
    path = tmp_path / "rewrite"
    shutil.copytree(base, path)
    import json

    from multivector.backends.durable import folder_cache

    for stamp_file in (path / "cache").glob("c*/stamp.json"):  # a layout without objects.json
        stamp = json.loads(stamp_file.read_text())
        del stamp["files"]["objects.json"]
        stamp["crc"] = folder_cache._stamp_crc(stamp)
        stamp_file.write_text(json.dumps(stamp))
    with multivector.connect(path=path) as client:
        assert len(client.collections.use("Docs")) == 300  # rows scanned; no search claims it
    with multivector.connect(path=path) as client:
        col = client.collections.use("Docs")
        assert col.index_stats()["mv"]["trained"]  # the index was written again, not dropped
