"""Hostile names and values never reach SQL or paths; damaged and future files give clear errors."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import multivector
from multivector.config import Configure
from multivector.errors import ConfigError, StorageFormatError

HOSTILE = [
    "x'); DROP TABLE objects; --",
    "quote\" and ' both",
    "../../etc/passwd",
    "a/b\\c",
    "semi;colon",
    "nul\x00byte",
    "..",
    "%s %d ? :name",
]


def _store(tmp_path):
    path = tmp_path / "store"
    client = multivector.connect(path, mmap_cache=True)
    col = client.collections.create(
        "Safe", vector_config=[Configure.MultiVectors.self_provided(name="v")]
    )
    return path, client, col


def test_hostile_names_and_values_round_trip_verbatim(tmp_path):
    path, client, col = _store(tmp_path)
    values = {}
    for i, text in enumerate(HOSTILE):
        uuid = text.replace("\x00", "") + f"#{i}"  # uuids may be any string without NUL
        col.data.insert(
            {"text": text, "obj": {text.replace("\x00", ""): [text]}, "tags": [text, "x"]},
            uuid=uuid,
            vector=np.full((2, 3), i, np.float32),
        )
        values[uuid] = text
    for name in [*HOSTILE, "Docs'; DROP TABLE collections; --", "A/../B", "A.B"]:
        with pytest.raises(ConfigError):
            client.collections.create(name)
    with pytest.raises(multivector.MultiVectorError):
        col.data.insert({"x": 1}, uuid="bad\x00uuid")
    client.close()
    with multivector.connect(path, mmap_cache=True) as client:  # cache folders: ids, not names
        col = client.collections.use("Safe")
        got = {o.uuid: o.properties for o in col.query.fetch_objects(limit=100).objects}
        assert {u: p["text"] for u, p in got.items()} == values
        for u, text in values.items():
            assert got[u]["tags"] == [text, "x"]
        assert col.query.bm25("DROP TABLE", limit=5).objects[0].properties["text"] == HOSTILE[0]
    names = {p.name for p in path.iterdir()}
    assert names <= {"multivector.sqlite3", "write.lock", "cache"}
    assert all(p.name.startswith("c") for p in (path / "cache").iterdir())
    conn = sqlite3.connect(path / "multivector.sqlite3")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"objects", "vectors", "collections", "meta", "deletions"} <= tables


def test_bad_paths_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="NUL"):
        multivector.connect(str(tmp_path / "a\x00b"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="folder"):
        multivector.connect(tmp_path / "file")
    with pytest.raises(TypeError):
        multivector.connect(tmp_path, no_such_option=1)


def _damage(path, sql, params=()):
    conn = sqlite3.connect(path / "multivector.sqlite3")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_future_format_version_is_refused_with_the_needed_version(tmp_path):
    path, client, _ = _store(tmp_path)
    client.close()
    _damage(path, "UPDATE meta SET value = '7' WHERE key = 'format_version'")
    _damage(path, "UPDATE meta SET value = '9.9.9' WHERE key = 'written_by'")
    with pytest.raises(
        StorageFormatError, match=r"format version 7.*upgrade multivector to 9\.9\.9"
    ):
        multivector.connect(path)


def test_garbage_file_names_the_file(tmp_path):
    path = tmp_path / "store"
    path.mkdir()
    (path / "multivector.sqlite3").write_bytes(b"this is not a database" * 200)
    with pytest.raises(StorageFormatError, match=r"multivector\.sqlite3") as info:
        multivector.connect(path)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "store"
    path.mkdir()
    conn = sqlite3.connect(path / "multivector.sqlite3")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageFormatError, match="not a multivector store"):
        multivector.connect(path)


def test_truncated_file_gives_storage_format_error(tmp_path):
    path, client, col = _store(tmp_path)
    col.data.insert_many(
        [{"properties": {"t": f"x{i}"}, "vector": np.ones((50, 64), np.float32)} for i in range(60)]
    )
    client.close()
    db = path / "multivector.sqlite3"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    with pytest.raises(StorageFormatError, match=r"multivector\.sqlite3"):
        with multivector.connect(path, mmap_cache=False) as client:
            client.collections.use("Safe").query.fetch_objects()


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("UPDATE vectors SET data = x'0001'", "matrix"),
        ("UPDATE vectors SET dtype = 'int8'", "matrix"),
        ("UPDATE vectors SET n_tokens = -1", "matrix"),
        ("UPDATE vectors SET dim = 4", "matrix"),
        ("UPDATE objects SET properties = '{broken'", "properties"),
        ("UPDATE collections SET config = 'nope'", "configuration"),
    ],
)
def test_damaged_rows_give_storage_format_error(tmp_path, sql, needle):
    path, client, col = _store(tmp_path)
    col.data.insert({"t": "x"}, vector=np.ones((2, 3), np.float32))
    client.close()
    _damage(path, sql)
    with pytest.raises(StorageFormatError, match=needle) as info:
        with multivector.connect(path, mmap_cache=False) as client:
            client.collections.use("Safe").query.fetch_objects()
    assert "multivector.sqlite3" in str(info.value)


def test_a_matrix_stored_in_another_dtype_is_converted_on_load(tmp_path):
    path, client, col = _store(tmp_path)
    col.data.insert({"t": "a"}, uuid="a", vector=np.full((2, 3), 0.5, np.float32))
    col.data.insert({"t": "b"}, uuid="b", vector=np.full((1, 3), -1.25, np.float32))
    client.close()
    blob = np.full((2, 3), 0.5, "<f4").tobytes()
    _damage(path, "UPDATE vectors SET dtype = 'float32', data = ? WHERE uuid = 'a'", (blob,))
    # As a format-1 store (no row checksums) would hold it: the next writable open upgrades
    # the file and checksums the rows as they are.
    _damage(path, "UPDATE meta SET value = '1' WHERE key = 'format_version'")
    with multivector.connect(path) as client:
        got = client.collections.use("Safe").query.fetch_objects_by_ids(
            ["a", "b"], include_vector=True
        )
        vectors = {o.uuid: np.asarray(o.vector["v"]) for o in got.objects}
    assert np.array_equal(vectors["a"], np.full((2, 3), 0.5))
    assert np.array_equal(vectors["b"], np.full((1, 3), -1.25))
