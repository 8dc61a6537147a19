"""Multi-tenancy: each tenant its own internal collection, on both backends and on disk.

Random interleaved writes for 3 tenants never leak across tenants; BM25 scores of a tenant equal
those of a plain collection holding the same objects (IDF within the tenant); removing a tenant
survives SIGKILL right after it returned.
"""

from __future__ import annotations

import pytest

import multivector
from multivector.config import Configure, DataType, Property, Tenant
from multivector.errors import CollectionNotFoundError, ConfigError, NotFoundError
from multivector.query import Filter
from multivector.schema.config import CollectionConfig
from tests.conftest import unit_rows
from tests.sigkill import run_and_kill

WORDS = ["solar", "wind", "panel", "battery", "grid", "storage", "turbine", "hydro", "roof"]
TENANTS = ["alice", "bob-2", "c_3"]


def _mt(client: multivector.Client, name: str = "Notes"):
    return client.collections.create(
        name,
        vector_config=[Configure.MultiVectors.self_provided(name="mv")],
        properties=[
            Property(name="text", data_type=DataType.TEXT),
            Property(name="owner", data_type=DataType.TEXT),
        ],
        multi_tenancy_config=Configure.multi_tenancy(enabled=True),
    )


def test_interleaved_writes_never_leak_and_bm25_is_per_tenant(any_client, rng):
    col = _mt(any_client)
    col.tenants.create(TENANTS)
    handles = {t: col.with_tenant(t) for t in TENANTS}
    model: dict[str, dict[str, str]] = {t: {} for t in TENANTS}  # tenant -> uuid -> text
    shared = [str(multivector.generate_uuid5(f"shared{i}")) for i in range(10)]
    for step in range(240):
        tenant = TENANTS[int(rng.integers(0, 3))]
        h, m = handles[tenant], model[tenant]
        action = rng.random()
        if action < 0.6 or not m:
            uid = shared[int(rng.integers(0, 10))] if rng.random() < 0.3 else None
            text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 6))))
            new = h.data.insert_many(
                [multivector.DataObject({"text": text, "owner": tenant}, uid, unit_rows(rng, 2, 8))]
            )
            m[new.uuids[0]] = text
        elif action < 0.8:
            victim = sorted(m)[int(rng.integers(0, len(m)))]
            assert h.data.delete_by_id(victim)
            del m[victim]
        else:
            victim = sorted(m)[int(rng.integers(0, len(m)))]
            h.data.update(victim, {"text": "grid update"})
            m[victim] = "grid update"
        if step % 20 == 19:
            q = unit_rows(rng, 2, 8)
            for t in TENANTS:
                results = [
                    handles[t].query.bm25("grid solar wind", limit=500),
                    handles[t].query.near_vector(q, limit=500),
                    handles[t].query.hybrid("grid", vector=q, limit=500),
                    handles[t].query.fetch_objects(),
                ]
                for res in results:
                    assert {o.uuid for o in res.objects} <= set(model[t])
                    assert all(o.properties["owner"] == t for o in res.objects)
                assert {o.uuid for o in results[3].objects} == set(model[t])
                assert {o.uuid for o in handles[t].iterator()} == set(model[t])
                assert len(handles[t]) == len(model[t])
                assert handles[t].aggregate.over_all().total_count == len(model[t])
    # BM25 per tenant: the same scores as a plain collection holding that tenant's objects only
    for t in TENANTS:
        ref = any_client.collections.create(
            f"Ref{TENANTS.index(t)}",
            vector_config=[Configure.MultiVectors.self_provided(name="mv")],
            properties=[Property(name="text", data_type=DataType.TEXT)],
        )
        ref.data.insert_many(
            [
                multivector.DataObject({"text": text}, uid, unit_rows(rng, 2, 8))
                for uid, text in model[t].items()
            ]
        )
        for query in ["grid", "solar wind", "battery roof hydro"]:
            got = {
                o.uuid: o.metadata.score for o in handles[t].query.bm25(query, limit=500).objects
            }
            want = {o.uuid: o.metadata.score for o in ref.query.bm25(query, limit=500).objects}
            assert got.keys() == want.keys()
            for uid in got:
                assert got[uid] == pytest.approx(want[uid], rel=1e-5)


def test_without_a_tenant_every_call_raises(any_client, rng):
    col = _mt(any_client)
    col.tenants.create("alice")
    v = unit_rows(rng, 2, 8)
    calls = [
        lambda: col.query.bm25("x"),
        lambda: col.query.near_vector(v),
        lambda: col.query.fetch_objects(),
        lambda: col.data.insert({"text": "x"}, vector=v),
        lambda: col.data.insert_many([{"text": "x"}]),
        lambda: col.data.delete_many(Filter.by_property("text").equal("x")),
        lambda: len(col),
        lambda: col.aggregate.over_all(),
        lambda: list(col.iterator()),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match="with_tenant"):
            call()
    with col.batch.fixed_size(10) as batch:
        batch.add_object({"text": "x"}, vector=v)
        with pytest.raises(ConfigError, match="with_tenant"):
            batch.flush()
    assert "multi-tenant" in repr(col)
    assert len(col.with_tenant("alice")) == 0


def test_tenant_lifecycle(any_client, rng):
    col = _mt(any_client)
    assert col.tenants.get() == {}
    col.tenants.create([Tenant(name="alice"), "bob"])
    assert set(col.tenants.get()) == {"alice", "bob"}
    assert col.tenants.exists("alice") and not col.tenants.exists("carol")
    with pytest.raises(ConfigError, match="already exist"):
        col.tenants.create(["carol", "alice"])
    assert not col.tenants.exists("carol")  # nothing created when one name is taken
    with pytest.raises(ConfigError, match="invalid tenant name"):
        col.tenants.create("no spaces")
    with pytest.raises(NotFoundError, match=r"tenants\.create"):
        col.with_tenant("carol")
    alice = col.with_tenant("alice")
    alice.data.insert({"text": "hello"}, vector=unit_rows(rng, 2, 8))
    assert alice.tenant == "alice" and alice.name == "Notes"
    assert alice.query.fetch_objects().objects[0].collection == "Notes"
    assert col.with_tenant("alice") is alice
    assert list(any_client.collections.list_all()) == ["Notes"]  # tenants are hidden
    col.tenants.remove(["alice", "never-was"])
    assert set(col.tenants.get()) == {"bob"}
    with pytest.raises(CollectionNotFoundError):
        alice.query.fetch_objects()
    col.tenants.create("alice")
    assert len(col.with_tenant("alice")) == 0  # re-created empty
    any_client.collections.delete("Notes")
    assert any_client.collections.list_all() == {}
    assert any_client.backend.list_collections() == {}  # every tenant went with it


def test_not_multi_tenant_and_reserved_names(any_client):
    plain = any_client.collections.create(
        "Plain", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
    )
    with pytest.raises(ConfigError, match="not multi-tenant"):
        plain.tenants.create("a")
    with pytest.raises(ConfigError, match="not multi-tenant"):
        plain.with_tenant("a")
    with pytest.raises(ConfigError, match="reserved"):
        any_client.collections.create("Notes__t__61")
    with pytest.raises(ConfigError, match="multi_tenancy"):
        any_client.collections.create("X", multi_tenancy_config=True)  # type: ignore[arg-type]


def test_auto_tenant_creation(any_client, rng):
    col = any_client.collections.create(
        "Auto",
        vector_config=[Configure.MultiVectors.self_provided(name="mv")],
        multi_tenancy_config=Configure.multi_tenancy(enabled=True, auto_tenant_creation=True),
    )
    col.with_tenant("new-user").data.insert({"text": "hi"}, vector=unit_rows(rng, 1, 8))
    assert col.tenants.exists("new-user")


def test_config_round_trips_and_old_configs_load():
    config = CollectionConfig("Mt", multi_tenancy=Configure.multi_tenancy(enabled=True))
    assert CollectionConfig.from_dict(config.to_dict()) == config
    old = config.to_dict()
    del old["multi_tenancy"]  # stored before tenants existed
    assert CollectionConfig.from_dict(old).multi_tenancy.enabled is False


def test_tenants_persist_and_removal_survives_sigkill(tmp_path, rng):
    path = str(tmp_path / "store")
    with multivector.connect(path) as client:
        col = _mt(client)
        col.tenants.create(["keep", "drop"])
        for t in ("keep", "drop"):
            col.with_tenant(t).data.insert_many(
                [{"text": f"{t} {i}", "owner": t} for i in range(5)]
            )
    child = r"""
import sys, time, multivector
client = multivector.connect(sys.argv[1], lock_timeout=30)
col = client.collections.use("Notes")
col.tenants.remove("drop")
print("REMOVED", flush=True)
print("READY", flush=True)
time.sleep(60)
"""
    lines, stderr = run_and_kill(child, [path], delay=0.01)
    assert "REMOVED" in lines, stderr
    with multivector.connect(path) as client:
        col = client.collections.use("Notes")
        assert col.config.multi_tenancy.enabled
        assert set(col.tenants.get()) == {"keep"}
        keep = col.with_tenant("keep")
        assert sorted(o.properties["text"] for o in keep.query.fetch_objects().objects) == [
            f"keep {i}" for i in range(5)
        ]
        assert keep.query.bm25("keep", limit=10).objects
        assert client.verify().ok
