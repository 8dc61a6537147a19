"""A handle to a deleted (or deleted and re-created) collection raises on every call, whichever
client deleted it, and ``collections.use`` then hands out a handle to the new collection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import multivector
from multivector.config import Configure, DataType, Property
from multivector.errors import CollectionNotFoundError
from tests.conftest import make_client

VEC = np.eye(2, 4, dtype=np.float32)


def _create(client: multivector.Client, text: str) -> multivector.Collection:
    docs = client.collections.create(
        "Docs",
        vector_config=[Configure.MultiVectors.self_provided(name="mv")],
        properties=[Property(name="text", data_type=DataType.TEXT)],
    )
    docs.data.insert({"text": text}, vector={"mv": VEC})
    return docs


def _texts(docs: multivector.Collection) -> list[str]:
    return [o.properties["text"] for o in docs.query.fetch_objects().objects]


def _every_call_raises(docs: multivector.Collection) -> None:
    calls = [
        lambda: docs.query.fetch_objects(),
        lambda: docs.query.near_vector(VEC),
        lambda: docs.query.bm25("old"),
        lambda: docs.query.hybrid("old", vector=VEC),
        lambda: len(docs),
        lambda: docs.data.insert({"text": "x"}, vector={"mv": VEC}),
    ]
    for _ in range(2):  # and again: the handle never goes back to serving the old data
        for call in calls:
            with pytest.raises(CollectionNotFoundError, match="Docs"):
                call()


def test_a_reader_sees_another_clients_delete_and_re_create(tmp_path: Path) -> None:
    writer = multivector.connect(tmp_path / "store")
    reader = multivector.connect(tmp_path / "store", read_only=True)
    try:
        _create(writer, "old")
        old = reader.collections.use("Docs")
        assert _texts(old) == ["old"]
        writer.collections.delete("Docs")
        for _ in range(3):
            with pytest.raises(CollectionNotFoundError):
                old.query.fetch_objects()
        _create(writer, "new")
        with pytest.raises(CollectionNotFoundError):
            old.query.fetch_objects()
        fresh = reader.collections.use("Docs")
        assert fresh is not old
        assert _texts(fresh) == ["new"]
        with pytest.raises(CollectionNotFoundError):
            _texts(old)
    finally:
        reader.close()
        writer.close()


@pytest.mark.parametrize("backend", ["embedded", "qdrant"])
def test_the_deleting_clients_own_handles_raise(backend: str) -> None:
    client = make_client(backend)
    try:
        old = _create(client, "old")
        client.collections.delete("Docs")
        _every_call_raises(old)
        fresh = _create(client, "new")
        _every_call_raises(old)
        assert _texts(fresh) == ["new"]
        assert _texts(client.collections.use("Docs")) == ["new"]
    finally:
        client.close()


def test_a_durable_writer_handle_raises_after_delete(tmp_path: Path) -> None:
    client = multivector.connect(tmp_path / "store")
    try:
        old = _create(client, "old")
        client.collections.delete("Docs")
        _every_call_raises(old)
        _create(client, "new")
        _every_call_raises(old)
    finally:
        client.close()
