"""``collection.config``: still a ``CollectionConfig``, and Weaviate's config namespace."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import multivector
from multivector.config import CollectionConfig, Configure, DataType, Property
from multivector.errors import ConfigError


def _col(client):
    return client.collections.create(
        "Cfg",
        vector_config=[Configure.MultiVectors.self_provided(name="mv", dimension=4)],
        properties=[Property(name="text", data_type=DataType.TEXT)],
        inverted_index_config=Configure.inverted_index(bm25_b=0.5),
        description="first",
    )


def test_the_view_behaves_like_the_old_value(any_client):
    col = _col(any_client)
    view = col.config
    assert isinstance(view, CollectionConfig)
    assert view.name == "Cfg" and view.vectors[0].name == "mv" and view.vector("mv").dimension == 4
    assert view.property("text").data_type is DataType.TEXT
    assert (
        view == any_client.collections.list_all()["Cfg"]
        and view.to_dict()["description"] == "first"
    )
    assert dataclasses.replace(view, description="x").description == "x"
    got = view.get()
    assert type(got) is CollectionConfig and got == view
    assert got.inverted_index.bm25_b == 0.5 and got.vectors[0].index.kind == "exact"
    assert CollectionConfig.from_dict(got.to_dict()) == got


def test_add_property_and_update(any_client, rng):
    col = _col(any_client)
    col.data.insert({"text": "old"}, vector=rng.normal(size=(2, 4)).astype(np.float32))
    col.config.add_property(Property(name="title", data_type=DataType.TEXT))
    assert col.config.property("title") is not None
    col.data.insert(
        {"text": "new", "title": "solar"}, vector=rng.normal(size=(2, 4)).astype(np.float32)
    )
    assert [
        o.properties["title"] for o in col.query.bm25("solar", query_properties=["title"]).objects
    ] == ["solar"]
    with pytest.raises(ConfigError, match="already has a property 'Title'"):
        col.config.add_property(Property(name="Title", data_type=DataType.TEXT))
    with pytest.raises(ConfigError, match="Property"):
        col.config.add_property("title")  # type: ignore[arg-type]
    col.config.update(description="second", property_descriptions={"text": "the body"})
    cfg = col.config.get()
    assert cfg.description == "second" and cfg.property("text").description == "the body"
    with pytest.raises(ConfigError, match="BM25 settings are fixed"):
        col.config.update(inverted_index_config=Configure.inverted_index(bm25_b=0.9))
    col.config.update(inverted_index_config=Configure.inverted_index(bm25_b=0.5))  # unchanged: fine
    with pytest.raises(ConfigError, match="vector_config"):
        col.config.update(vector_config=[])
    with pytest.raises(ConfigError, match="'nope'"):
        col.config.update(property_descriptions={"nope": "x"})
    with pytest.raises(ConfigError, match="not multi-tenant"):
        col.config.update(auto_tenant_creation=True)


def test_updates_persist_and_reach_every_tenant(tmp_path, rng):
    with multivector.connect(tmp_path / "s") as client:
        col = client.collections.create(
            "Mt",
            vector_config=[Configure.MultiVectors.self_provided(name="mv")],
            multi_tenancy_config=Configure.multi_tenancy(),
        )
        col.tenants.create(["a", "b"])
        col.config.add_property(Property(name="year", data_type=DataType.INT))
        col.config.update(description="tenants", auto_tenant_creation=True)
        a = col.with_tenant("a")
        assert a.config.name == "Mt" and a.config.property("year") is not None
        assert a.config.multi_tenancy.auto_tenant_creation
    with multivector.connect(tmp_path / "s") as client:
        col = client.collections.use("Mt")
        cfg = col.config.get()
        assert cfg.description == "tenants" and cfg.multi_tenancy.auto_tenant_creation
        assert col.with_tenant("b").config.property("year") is not None
        assert col.with_tenant("c").config.property("year") is not None  # auto created
