"""text2vec collections: the seed's Option 1 flow on the Jina stand-in server, custom embedders,
sync/async parity, failures and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

import multivector
from multivector.config import Configure, DataType, Property
from multivector.embeddings import JinaEmbeddings
from multivector.errors import AuthenticationError, ConfigError
from multivector.testing import JinaStandIn

DOCUMENTS = [
    {"id": "doc1", "text": "Weaviate is a vector database that is great for AI app builders."},
    {
        "id": "doc2",
        "text": "PyTorch is a deep learning framework that is great for AI model builders.",
    },
    {
        "id": "doc3",
        "text": "For people building AI driven products, Weaviate is a good database for their tech stack.",
    },
]


@pytest.fixture
def standin():
    with JinaStandIn() as server:
        yield server


def _seed_collection(client, base_url: str):
    client.collections.create(
        "DemoCollection",
        vector_config=[
            Configure.MultiVectors.text2vec_jinaai(
                name="multi_vector",
                source_properties=["text"],
                model="jina-colbert-v2",
                base_url=base_url,
            )
        ],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="docid", data_type=DataType.TEXT),
        ],
    )
    collection = client.collections.use("DemoCollection")
    with collection.batch.fixed_size(batch_size=10) as batch:
        for doc in DOCUMENTS:
            batch.add_object(
                properties={"text": doc["text"], "docid": doc["id"]},
                uuid=multivector.generate_uuid5(doc["id"]),
            )
    return collection


def test_seed_option1_flow(standin, capsys):
    client = multivector.connect(headers={"X-JinaAI-Api-Key": standin.api_key})
    collection = _seed_collection(client, standin.base_url)
    assert collection.batch.failed_objects == []
    assert len(collection) == 3
    response = collection.query.fetch_objects(limit=3, include_vector=True)
    assert isinstance(response.objects[0].vector["multi_vector"], list)
    assert isinstance(response.objects[0].vector["multi_vector"][0], list)
    shapes = [
        (len(o.vector["multi_vector"]), len(o.vector["multi_vector"][0])) for o in response.objects
    ]
    assert all(d == 128 for _, d in shapes)
    assert len({n for n, _ in shapes}) > 1  # token-count dependent
    near = collection.query.near_text(
        query="A good database for AI app builders", target_vector="multi_vector"
    )
    assert len(near.objects) == 3
    assert near.objects[0].properties["docid"] in {"doc1", "doc3"}
    hybrid = collection.query.hybrid(
        query="A good database for AI app builders", target_vector="multi_vector"
    )
    assert {o.properties["docid"] for o in hybrid.objects} == {"doc1", "doc2", "doc3"}
    assert all(o.metadata.explain_score is not None for o in hybrid.objects)
    with JinaEmbeddings(standin.api_key, base_url=standin.base_url) as jina:
        qmat = jina.embed_query("A good database for AI app builders")
    by_vector = collection.query.near_vector(near_vector=qmat, target_vector="multi_vector")
    assert [o.uuid for o in by_vector.objects] == [o.uuid for o in near.objects]
    assert [o.metadata.distance for o in by_vector.objects] == pytest.approx(
        [o.metadata.distance for o in near.objects], abs=1e-4
    )
    # Query embedding used input_type "query"; documents used "document".
    types = [r.body.get("input_type") for r in standin.requests if r.path.endswith("/multi-vector")]
    assert "query" in types and "document" in types
    assert standin.api_key not in repr(client)
    client.close()


def test_user_vector_wins_over_vectorizer(standin):
    client = multivector.connect(headers={"X-JinaAI-Api-Key": standin.api_key})
    collection = _seed_collection(client, standin.base_url)
    n_before = len(standin.requests)
    own = np.ones((2, 128), dtype=np.float32) / np.sqrt(128)
    collection.data.insert({"text": "my own vector", "docid": "doc4"}, uuid="own", vector=own)
    assert len(standin.requests) == n_before
    got = collection.query.fetch_object_by_id("own", include_vector=True)
    assert np.allclose(np.asarray(got.vector["multi_vector"]), own, atol=1e-3)


def test_missing_key_fails_objects_not_import(standin, monkeypatch):
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    monkeypatch.delenv("JINAAI_APIKEY", raising=False)
    client = multivector.connect()
    collection = _seed_collection(client, standin.base_url)
    assert len(collection) == 0
    failed = collection.batch.failed_objects
    assert len(failed) == 3 and all("AuthenticationError" in f.message for f in failed)
    assert "X-JinaAI-Api-Key" in failed[0].message or "JINA_API_KEY" in failed[0].message
    with pytest.raises(AuthenticationError):
        collection.query.near_text("database")


def test_wrong_key_never_leaks(standin):
    secret = "jina_wrong_key_1234567890"
    client = multivector.connect(headers={"X-JinaAI-Api-Key": secret})
    collection = _seed_collection(client, standin.base_url)
    failed = collection.batch.failed_objects
    assert len(failed) == 3
    assert all(secret not in f.message for f in failed)
    with pytest.raises(AuthenticationError) as info:
        collection.query.near_text("database")
    assert secret not in str(info.value) and secret not in repr(info.value)


class CountingEmbedder:
    """A deterministic local multi-vector embedder (hashed token vectors)."""

    def __init__(self, dim: int = 24, fail_on: str | None = None) -> None:
        self.dim = dim
        self.fail_on = fail_on
        self.calls = 0

    def _matrix(self, text: str) -> np.ndarray:
        rows = []
        for token in text.lower().split() or [""]:
            seed = sum(ord(c) * (i + 1) for i, c in enumerate(token)) % (2**32)
            v = np.random.default_rng(seed).normal(size=self.dim)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        self.calls += 1
        if self.fail_on is not None and any(self.fail_on in t for t in texts):
            raise RuntimeError("model crashed")
        return [self._matrix(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        return self._matrix(text)


def test_custom_embedder_import_and_query_and_update():
    emb = CountingEmbedder()
    client = multivector.connect()
    col = client.collections.create(
        "Custom",
        vector_config=Configure.MultiVectors.text2vec(
            name="tok", embedder=emb, source_properties=["text"]
        ),
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="n", data_type=DataType.INT),
        ],
    )
    out = col.data.insert_many([{"text": d["text"], "n": i} for i, d in enumerate(DOCUMENTS)])
    assert not out.has_errors and emb.calls == 1  # one embedding call for the whole batch
    top = col.query.near_text("deep learning framework", limit=1).objects[0]
    assert "PyTorch" in top.properties["text"]
    uid = top.uuid
    col.data.update(uid, {"n": 99})  # not a source property: no re-embedding
    assert emb.calls == 1
    col.data.update(uid, {"text": "a database of cats"})
    assert emb.calls == 2
    assert col.query.near_text("cats database", limit=1).objects[0].uuid == uid


def test_failed_embedding_lands_in_failed_objects_and_stores_nothing():
    emb = CountingEmbedder(fail_on="boom")
    client = multivector.connect()
    col = client.collections.create(
        "Fails", vector_config=Configure.MultiVectors.text2vec(name="tok", embedder=emb)
    )
    with col.batch.fixed_size(batch_size=2) as batch:
        batch.add_object({"text": "fine one"}, uuid="a")
        batch.add_object({"text": "fine two"}, uuid="b")
        batch.add_object({"text": "boom"}, uuid="c")
        batch.add_object({"text": "innocent neighbour"}, uuid="d")
    failed = {f.uuid: f.message for f in col.batch.failed_objects}
    assert set(failed) == {"c", "d"} and "model crashed" in failed["c"]
    assert sorted(o.uuid for o in col.query.fetch_objects().objects) == ["a", "b"]


def test_text2vec_requires_an_embedder_protocol():
    with pytest.raises(ConfigError, match="MultiVectorEmbedder"):
        Configure.MultiVectors.text2vec(name="x", embedder=object())  # type: ignore[arg-type]


async def test_sync_and_async_import_and_query_agree(standin):
    results = []
    for use_async in (False, True):
        client = multivector.connect(headers={"X-JinaAI-Api-Key": standin.api_key})
        col = client.collections.create(
            "Parity",
            vector_config=Configure.MultiVectors.text2vec_jinaai(
                name="mv", base_url=standin.base_url
            ),
            properties=[Property(name="text", data_type=DataType.TEXT)],
        )
        objs = [multivector.DataObject({"text": d["text"]}, uuid=d["id"]) for d in DOCUMENTS]
        if use_async:
            await col.data.ainsert_many(objs)
            near = await col.query.anear_text("database for builders")
            hyb = await col.query.ahybrid("database for builders", alpha=0.5)
        else:
            col.data.insert_many(objs)
            near = col.query.near_text("database for builders")
            hyb = col.query.hybrid("database for builders", alpha=0.5)
        results.append(
            (
                [(o.uuid, round(o.metadata.distance, 5)) for o in near.objects],
                [(o.uuid, round(o.metadata.score, 6)) for o in hyb.objects],
            )
        )
    assert results[0] == results[1]


async def test_cancelled_async_import_leaves_nothing(standin):
    client = multivector.connect(headers={"X-JinaAI-Api-Key": standin.api_key})
    col = client.collections.create(
        "Cancel",
        vector_config=Configure.MultiVectors.text2vec_jinaai(name="mv", base_url=standin.base_url),
    )
    from multivector.testing import Fault

    standin.inject(Fault.slow(2.0))
    task = asyncio.create_task(col.data.ainsert_many([{"text": d["text"]} for d in DOCUMENTS]))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(col) == 0
    assert col.query.fetch_objects().objects == []
