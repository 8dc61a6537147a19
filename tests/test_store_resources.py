"""Resources and maintenance of the durable store: locks released by garbage collection,
compaction off the caller's write, read-only opens that never write, close() that always closes.
"""

from __future__ import annotations

import errno
import gc
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import multivector
from multivector.backends.durable import sqlite_schema
from multivector.backends.durable.sqlite_db import Database
from multivector.backends.embedded import collection as embedded_collection
from multivector.config import Configure, DataType, Property
from multivector.errors import StorageError

VEC = np.eye(2, 4, dtype=np.float32)


def _docs(client: multivector.Client) -> multivector.Collection:
    return client.collections.create(
        "Docs",
        vector_config=[Configure.MultiVectors.self_provided(name="mv")],
        properties=[Property(name="text", data_type=DataType.TEXT)],
    )


def test_an_unclosed_writer_releases_its_lock_when_collected(tmp_path: Path) -> None:
    client = multivector.connect(tmp_path / "s")
    _docs(client).data.insert({"text": "kept"}, vector={"mv": VEC})
    del client
    gc.collect()
    with multivector.connect(tmp_path / "s") as again:  # the same process reopens and writes
        docs = again.collections.use("Docs")
        docs.data.insert({"text": "more"}, vector={"mv": VEC})
        assert sorted(o.properties["text"] for o in docs.query.fetch_objects().objects) == [
            "kept",
            "more",
        ]


def test_an_unreferenced_writer_is_collected_even_inside_reference_cycles(tmp_path: Path) -> None:
    client = multivector.connect(tmp_path / "s")
    _docs(client).data.insert({"text": "x"}, vector={"mv": VEC})
    del client  # collections and their namespaces form cycles: only the cyclic GC frees them
    with multivector.connect(tmp_path / "s") as again:
        again.collections.use("Docs").data.insert({"text": "y"}, vector={"mv": VEC})


def test_compaction_runs_off_the_callers_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_collection, "_MIN_DEAD", 8)
    threads: list[str] = []
    compact = embedded_collection.EmbeddedCollection._compact_locked

    def recording(self: Any) -> None:
        threads.append(threading.current_thread().name)
        compact(self)

    monkeypatch.setattr(embedded_collection.EmbeddedCollection, "_compact_locked", recording)
    with multivector.connect(tmp_path / "s") as client:
        docs = _docs(client)
        ids = docs.data.insert_many(
            [multivector.DataObject({"text": f"t{i}"}, None, {"mv": VEC}) for i in range(40)]
        ).uuids
        for i in range(30):
            docs.data.delete_by_id(ids[i])
        backend: Any = docs.backend
        backend.wait_for_maintenance()
        assert threads and all(name.startswith("multivector-maintenance") for name in threads)
        assert not backend._wants_compaction()  # compacted whenever the dead slots piled up
        assert len(docs.query.fetch_objects().objects) == 10
        assert len(docs.query.near_vector(VEC, limit=20).objects) == 10


def test_read_only_never_writes_the_store_file(tmp_path: Path) -> None:
    with multivector.connect(tmp_path / "s") as client:
        _docs(client).data.insert({"text": "x"}, vector={"mv": VEC})
    db = tmp_path / "s" / "multivector.sqlite3"
    before = db.read_bytes()
    with multivector.connect(tmp_path / "s", read_only=True) as reader:
        assert len(reader.collections.use("Docs").query.fetch_objects().objects) == 1
    assert db.read_bytes() == before


def test_read_only_media_fall_back_to_an_immutable_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with multivector.connect(tmp_path / "s") as client:
        _docs(client).data.insert({"text": "x"}, vector={"mv": VEC})
    opened: list[str] = []
    connect_uri = sqlite_schema._connect_uri

    def media(uri: str, busy_timeout: float) -> sqlite3.Connection:
        opened.append(uri)
        if "immutable" not in uri:  # what SQLite says when it cannot create the -shm file
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return connect_uri(uri, busy_timeout)

    monkeypatch.setattr(sqlite_schema, "_connect_uri", media)
    with multivector.connect(tmp_path / "s", read_only=True) as reader:
        assert [
            o.properties["text"]
            for o in reader.collections.use("Docs").query.fetch_objects().objects
        ] == ["x"]
    assert [("immutable=1" in u) for u in opened] == [False, True]


def test_close_on_a_full_disk_raises_a_storage_error_and_releases_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = multivector.connect(tmp_path / "s")
    _docs(client).data.insert({"text": "x"}, vector={"mv": VEC})

    def full(self: Database) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Database, "vacuum", full)
    with pytest.raises(StorageError, match="No space left") as info:
        client.close()
    assert isinstance(info.value.__cause__, OSError)
    assert not client.is_ready()
    monkeypatch.undo()
    with multivector.connect(tmp_path / "s") as again:  # the lock was released
        again.collections.use("Docs").data.insert({"text": "y"}, vector={"mv": VEC})


def test_memory_never_lags_the_store_when_applying_a_commit_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with multivector.connect(tmp_path / "s") as client:
        docs = _docs(client)
        docs.data.insert({"text": "first"}, vector={"mv": VEC})
        apply = embedded_collection.EmbeddedCollection._apply
        calls = {"n": 0}

        def failing(self: Any, upserts: Any, deletes: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                raise MemoryError("simulated failure after the commit")
            apply(self, upserts, deletes)

        monkeypatch.setattr(embedded_collection.EmbeddedCollection, "_apply", failing)
        with pytest.raises(MemoryError):
            docs.data.insert({"text": "second"}, vector={"mv": VEC})  # committed, not applied
        monkeypatch.undo()
        # The next call reloads from the store file: the committed object is served.
        texts = sorted(o.properties["text"] for o in docs.query.fetch_objects().objects)
        assert texts == ["first", "second"]
        assert len(docs.query.near_vector(VEC, limit=5).objects) == 2


@pytest.mark.parametrize("where", ["memory", "durable", "qdrant"])
def test_handles_of_a_closed_client_raise(tmp_path: Path, where: str) -> None:
    if where == "memory":
        client = multivector.connect()
    elif where == "durable":
        client = multivector.connect(tmp_path / "s")
    else:
        client = multivector.connect_to_qdrant(location=":memory:")
    docs = _docs(client)
    docs.data.insert({"text": "x"}, vector={"mv": VEC})
    client.close()
    for call in (
        lambda: docs.query.near_vector(VEC),
        lambda: docs.query.fetch_objects(),
        lambda: docs.data.insert({"text": "y"}, vector={"mv": VEC}),
    ):
        with pytest.raises(multivector.errors.ConfigError, match="closed"):
            call()


def test_a_format_1_store_with_capital_uuids_is_upgraded_to_lowercase_ids(tmp_path: Path) -> None:
    upper = "0B0CA3CB-75A1-4F0E-9C2B-3D4E5F607182"
    with multivector.connect(tmp_path / "s") as client:
        _docs(client).data.insert({"text": "x"}, uuid="placeholder", vector={"mv": VEC})
    con = sqlite3.connect(tmp_path / "s" / "multivector.sqlite3")
    for table in ("objects", "vectors"):  # as format 1 stored an id given with capitals
        con.execute(f"UPDATE {table} SET uuid = ?", (upper,))
    con.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    con.commit()
    con.close()
    with multivector.connect(tmp_path / "s") as client:
        docs = client.collections.use("Docs")
        assert docs.data.exists(upper) and docs.data.exists(upper.lower())
        assert [o.uuid for o in docs.query.fetch_objects().objects] == [upper.lower()]
        assert client.verify().ok
