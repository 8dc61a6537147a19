"""Token pooling at insert: the kernel against SciPy's Ward + maxclust, the per-space config, and
every write path on both backends storing pooled matrices while queries stay unpooled.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_client, unit_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import multivector
from multivector import DataObject
from multivector.config import CollectionConfig, Configure, DataType, Property, VectorConfig
from multivector.errors import ConfigError
from multivector.kernels.token_pooling import (
    cosine_distances,
    pool_tokens,
    pooled_labels,
    ward_linkage,
)

DIM = 16


# ------------------------------------------------------------------ references
def reference_labels(rows: np.ndarray, n_clusters: int) -> list[int]:
    """SciPy's flat clusters of Ward linkage on the cosine distances, renumbered 0, 1, ... in
    order of first member (the kernel's numbering).
    """
    hierarchy = pytest.importorskip("scipy.cluster.hierarchy")  # a dev extra
    n = rows.shape[0]
    if n_clusters >= n:
        return list(range(n))
    dist = cosine_distances(rows)
    z = hierarchy.linkage(dist[np.triu_indices(n, 1)], method="ward")
    flat = hierarchy.fcluster(z, t=n_clusters, criterion="maxclust")
    seen: dict[int, int] = {}
    return [seen.setdefault(int(c), len(seen)) for c in flat]


def reference_pool(matrix: np.ndarray, pool_factor: int, protected: int = 1) -> np.ndarray:
    """The first ``protected`` rows, then each SciPy cluster's mean rescaled to its rows' mean
    length (a single row as it is).
    """
    head, rest = matrix[:protected], matrix[protected:]
    k = max(1, rest.shape[0] // pool_factor)
    if pool_factor == 1 or k >= rest.shape[0]:
        return matrix
    labels = np.asarray(reference_labels(rest, k))
    out = []
    for c in range(labels.max() + 1):
        members = rest[labels == c].astype(np.float64)
        if len(members) == 1:
            out.append(members[0])
            continue
        mean = members.mean(axis=0)
        norm = np.linalg.norm(mean)
        length = np.linalg.norm(members, axis=1).mean()
        out.append(mean * (length / norm) if norm > 0 else np.zeros_like(mean))
    return np.concatenate([head, np.asarray(out, dtype=np.float32)])


@st.composite
def token_matrices(draw: st.DrawFn) -> np.ndarray:
    """Matrices of 1..200 rows and 8..128 columns: normal or all-negative values, unit or free
    row norms, optionally many duplicate rows and some all-zero rows.
    """
    n = draw(st.integers(1, 200))
    dim = draw(st.integers(8, 128))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    if draw(st.booleans()):
        rows = -np.abs(rows)
    if draw(st.booleans()):
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    else:
        rows *= rng.uniform(0.1, 10.0, size=(n, 1)).astype(np.float32)
    distinct = draw(st.integers(1, n))
    if distinct < n:  # duplicates: every row copied from the first `distinct`
        rows = rows[rng.integers(0, distinct, size=n)]
    if draw(st.booleans()) and n > 2:
        rows[rng.integers(0, n, size=max(1, n // 10))] = 0.0
    return np.ascontiguousarray(rows)


# ------------------------------------------------------------------ the kernel
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_matrices(), st.integers(1, 6))
def test_clusters_match_scipy_ward_maxclust(rows, pool_factor):
    k = max(1, rows.shape[0] // pool_factor)
    assert pooled_labels(rows, k).tolist() == reference_labels(rows, k)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_matrices(), st.integers(1, 6))
def test_pooled_matrix_matches_the_reference(rows, pool_factor):
    got = pool_tokens(rows, pool_factor)
    want = reference_pool(rows, pool_factor)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[:1], rows[:1])  # the protected first token, untouched


@settings(max_examples=40, deadline=None)
@given(token_matrices())
def test_merge_heights_match_scipy(rows):
    hierarchy = pytest.importorskip("scipy.cluster.hierarchy")
    n = rows.shape[0]
    if n < 2:
        return
    dist = cosine_distances(rows)
    z = hierarchy.linkage(dist[np.triu_indices(n, 1)], method="ward")
    xs, ys, heights = ward_linkage(dist)
    np.testing.assert_allclose(heights, z[:, 2], rtol=1e-12, atol=1e-12)
    assert (xs < ys).all()


def test_cosine_distances_agree_with_numpy(rng):
    rows = rng.normal(size=(30, 24)).astype(np.float32)
    rows[3] = 0.0
    unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-30)
    want = np.maximum(1.0 - unit.astype(np.float64) @ unit.T.astype(np.float64), 0.0)
    np.fill_diagonal(want, 0.0)
    want[3, :] = want[:, 3] = 1.0
    want[3, 3] = 0.0
    np.testing.assert_allclose(cosine_distances(rows), want, atol=1e-6)


@pytest.mark.parametrize("n", [3, 4, 17, 64, 199, 200])
@pytest.mark.parametrize("pool_factor", [2, 3, 5])
def test_row_count_and_unit_norms(rng, n, pool_factor):
    rows = unit_rows(rng, n, 32)
    out = pool_tokens(rows, pool_factor)
    assert out.shape == (1 + max(1, (n - 1) // pool_factor), 32)  # distinct rows: no ties
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_identity_cases(rng):
    rows = rng.normal(size=(40, 8)).astype(np.float32)
    assert np.array_equal(pool_tokens(rows, 1), rows)
    for n in (0, 1, 2):  # nothing to pool: at most one row after the protected one
        part = rows[:n]
        assert np.array_equal(pool_tokens(part, 4), part)
    assert np.array_equal(pool_tokens(rows[:1], 2, protected_tokens=0), rows[:1])


def test_duplicates_collapse_and_order_follows_first_member():
    a, b = np.eye(4, dtype=np.float32)[:2]
    cls = np.full(4, 0.5, dtype=np.float32)
    rows = np.stack([cls, b, a, b, a, b, a, b])
    out = pool_tokens(rows, 2)  # 7 rows to pool, k = 3, but only two distinct tokens
    np.testing.assert_array_equal(out, np.stack([cls, b, a]))
    same = np.tile(a, (9, 1))
    np.testing.assert_array_equal(pool_tokens(same, 3), same[:2])


def test_long_document_pools_quickly(rng):
    import time

    rows = unit_rows(rng, 1100, 128)
    pool_tokens(rows[:10], 2)  # compiled (or loaded from the cache) outside the timing
    start = time.perf_counter()
    out = pool_tokens(rows, 2)
    assert out.shape == (1 + 1099 // 2, 128)
    assert time.perf_counter() - start < 5.0  # ~0.05 s here; bounded for a loaded CI machine
    assert np.array_equal(pool_tokens(rows, 2), out)  # deterministic


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_kernel_refuses_a_bad_pool_factor(bad):
    with pytest.raises(ConfigError, match="pool_factor"):
        pool_tokens(np.ones((4, 2), np.float32), bad)


# ------------------------------------------------------------------ configuration
FACTORIES = {
    "self_provided": lambda **kw: Configure.MultiVectors.self_provided(name="mv", **kw),
    "text2vec": lambda **kw: Configure.MultiVectors.text2vec(
        name="mv", embedder=WordEmbedder(), **kw
    ),
    "text2vec_jinaai": lambda **kw: Configure.MultiVectors.text2vec_jinaai(name="mv", **kw),
    "text2vec_minilm": lambda **kw: Configure.MultiVectors.text2vec_minilm(name="mv", **kw),
}


@pytest.mark.parametrize("factory", sorted(FACTORIES))
def test_every_factory_takes_pool_factor(factory):
    assert FACTORIES[factory]().pool_factor == 1
    vec = FACTORIES[factory](pool_factor=3)
    assert vec.pool_factor == 3
    assert VectorConfig.from_dict(vec.to_dict()).pool_factor == 3


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_bad_pool_factor_is_a_config_error_naming_value_and_fix(bad):
    with pytest.raises(ConfigError) as err:
        Configure.MultiVectors.self_provided(name="mv", pool_factor=bad)
    assert "'mv'" in str(err.value) and "pool_factor must be an int >= 1" in str(err.value)
    assert f"got {bad!r}" in str(err.value)
    with pytest.raises(ConfigError, match="pool_factor"):
        VectorConfig(name="mv", pool_factor=bad)


def test_old_stored_config_without_pool_factor_loads_as_one():
    stored = VectorConfig(name="mv").to_dict()
    del stored["pool_factor"]
    assert VectorConfig.from_dict(stored).pool_factor == 1


def test_pool_factor_survives_a_durable_reopen(tmp_path, rng):
    with multivector.connect(path=tmp_path) as client:
        client.collections.create(
            "Docs", vector_config=[Configure.MultiVectors.self_provided(name="mv", pool_factor=3)]
        )
    with multivector.connect(path=tmp_path) as client:
        col = client.collections.use("Docs")
        assert col.config.vector("mv").pool_factor == 3
        uid = col.data.insert({"text": "after reopen"}, vector={"mv": unit_rows(rng, 13, DIM)})
        stored = col.query.fetch_object_by_id(uid, include_vector=True).vector["mv"]
        assert np.asarray(stored).shape == (1 + 12 // 3, DIM)
        assert client.collections.get("Docs").config == col.config


# ------------------------------------------------------------------ at insert, both backends
class WordEmbedder:
    """One fixed unit vector per word (seeded by the word), so a text's rows are known."""

    def _vec(self, word: str) -> np.ndarray:
        seed = sum(ord(ch) * 31**i for i, ch in enumerate(word)) % 2**32
        v = np.random.default_rng(seed).normal(size=DIM)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def matrix(self, text: str) -> np.ndarray:
        return np.stack([self._vec(w) for w in text.lower().split()] or [self._vec("<e>")])

    def embed_documents(self, texts):
        return [self.matrix(t) for t in texts]

    def embed_query(self, text):
        return self.matrix(text)


def maxsim(query: np.ndarray, doc: np.ndarray) -> float:
    return float((query.astype(np.float64) @ doc.astype(np.float64).T).max(axis=1).sum())


def _pooled_collection(client: multivector.Client, factor: int = 2):
    return client.collections.create(
        "Docs",
        properties=[Property(name="text", data_type=DataType.TEXT)],
        vector_config=[Configure.MultiVectors.self_provided(name="mv", pool_factor=factor)],
    )


def _stored(col, uid) -> np.ndarray:
    return np.asarray(col.query.fetch_object_by_id(uid, include_vector=True).vector["mv"])


def test_insert_stores_the_pooled_matrix_and_near_vector_scores_it(any_client, rng):
    col = _pooled_collection(any_client)
    docs = [unit_rows(rng, n, DIM) for n in (1, 2, 9, 30)]
    uids = [col.data.insert({"text": f"d{i}"}, vector={"mv": m}) for i, m in enumerate(docs)]
    for uid, m in zip(uids, docs):
        stored = _stored(col, uid)
        want = reference_pool(m, 2)
        assert stored.shape == want.shape
        np.testing.assert_allclose(stored, want, atol=2e-3)  # float16 storage
    query = docs[3][:5]  # five of the last document's own (unpooled) rows
    res = col.query.near_vector(query, limit=4, include_vector=True)
    assert res.objects[0].uuid == uids[3]
    assert np.asarray(res.objects[0].vector["mv"]).shape == (1 + 29 // 2, DIM)
    by_uid = {o.uuid: o.metadata.score for o in res.objects}
    for uid, m in zip(uids, docs):
        assert by_uid[uid] == pytest.approx(maxsim(query, reference_pool(m, 2)), abs=2e-2)


def test_every_write_verb_pools(any_client, rng):
    col = _pooled_collection(any_client, factor=3)
    many = col.data.insert_many([DataObject({"text": "a"}, vector=unit_rows(rng, 10, DIM))])
    (uid_many,) = many.uuids.values()
    with col.batch.fixed_size(batch_size=2) as batch:
        uid_batch = batch.add_object(properties={"text": "b"}, vector=unit_rows(rng, 16, DIM))
    assert col.batch.failed_objects == []
    uid = col.data.insert({"text": "c"}, vector=unit_rows(rng, 4, DIM))
    assert _stored(col, uid_many).shape[0] == 1 + 9 // 3
    assert _stored(col, uid_batch).shape[0] == 1 + 15 // 3
    col.data.replace(uid, {"text": "c2"}, vector=unit_rows(rng, 22, DIM))
    assert _stored(col, uid).shape[0] == 1 + 21 // 3
    col.data.update(uid, vector={"mv": unit_rows(rng, 7, DIM)})
    assert _stored(col, uid).shape[0] == 1 + 6 // 3
    before = _stored(col, uid)
    col.data.update(uid, {"text": "properties only"})  # the stored matrix is kept, not re-pooled
    np.testing.assert_array_equal(_stored(col, uid), before)


def test_an_embedded_space_pools_documents_but_never_queries(any_client):
    embedder = WordEmbedder()
    col = any_client.collections.create(
        "Docs",
        properties=[Property(name="text", data_type=DataType.TEXT)],
        vector_config=[
            Configure.MultiVectors.text2vec(
                name="mv", embedder=embedder, source_properties=["text"], pool_factor=2
            )
        ],
    )
    text = "late interaction keeps one vector per token and pools them at insert time"
    uid = col.data.insert({"text": text})
    full = embedder.matrix(text)
    stored = _stored(col, uid)
    assert stored.shape == (1 + (full.shape[0] - 1) // 2, DIM)
    query = "one vector per token pooled at insert"
    res = col.query.near_text(query, limit=1)
    want = maxsim(embedder.matrix(query), reference_pool(full, 2))  # the query's every row
    assert res.objects[0].metadata.score == pytest.approx(want, abs=2e-2)


def test_an_integration_import_pools(backend_name):
    from multivector.integrations.langchain import MultiVectorStore

    client = make_client(backend_name)
    try:
        embedder = WordEmbedder()
        col = client.collections.create(
            "Docs",
            properties=[Property(name="text", data_type=DataType.TEXT)],
            vector_config=[
                Configure.MultiVectors.text2vec(
                    name="mv", embedder=embedder, source_properties=["text"], pool_factor=4
                )
            ],
        )
        store = MultiVectorStore(col, embedder)
        text = "a b c d e f g h i j k l m n o p q"
        assert store.add_texts([text], ids=["doc-1"]) == ["doc-1"]
        obj = next(iter(col.iterator(include_vector=True)))
        assert np.asarray(obj.vector["mv"]).shape[0] == 1 + 16 // 4
        assert store.similarity_search("a b c", k=1)[0].page_content == text
    finally:
        client.close()


def test_unpooled_space_stores_rows_as_given(client, rng):
    col = client.collections.create(
        "Docs", vector_config=[Configure.MultiVectors.self_provided(name="mv", dtype="float32")]
    )
    m = unit_rows(rng, 12, DIM)
    uid = col.data.insert({"text": "x"}, vector={"mv": m})
    np.testing.assert_array_equal(_stored(col, uid), m)
    assert isinstance(col.config, CollectionConfig)
