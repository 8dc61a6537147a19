"""``collection.config``: the configuration (as before: a :class:`CollectionConfig`) that is also
Weaviate's config namespace: ``get()``, ``add_property(...)``, ``update(...)``.

``collection.config`` returns a :class:`ConfigView`, a ``CollectionConfig`` subclass holding the
configuration as of that access, so ``collection.config.vectors``,
``collection.config.property("text")``, ``collection.config.to_dict()`` and comparisons with a
plain ``CollectionConfig`` work as they always did.

What ``update`` can change: the collection's ``description``, property descriptions,
``auto_tenant_creation`` and, on the embedded store, a vector space's ``vector_index_config``
(``{space: Configure.VectorIndex.plaid(...)}`` or ``.exact()``): a change of search settings
(``nprobe``, ``n_candidates``, ``n_decode``, ``n_rerank``, ``flat_search_cutoff``) keeps the
trained index; one of the settings training depends on retrains it in the background while exact
search serves. BM25 settings (k1, b, scoring, stopwords) and vector spaces are fixed
at create: the Qdrant backend bakes k1 / b into every stored sparse vector, so changing them
means re-importing; ``update`` says so instead of half-applying them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from multivector.backends.protocol import CollectionBackend
from multivector.errors import ConfigError
from multivector.schema.config import (
    CollectionConfig,
    InvertedIndexConfig,
    Property,
    VectorIndexConfig,
)

__all__ = ["ConfigView"]

Targets = Callable[[], Sequence[CollectionBackend]]


class ConfigView(CollectionConfig):
    """A ``CollectionConfig`` with the config namespace's methods (see the module docstring)."""

    _read: Callable[[], CollectionConfig]
    _targets: Targets

    @classmethod
    def of(
        cls, config: CollectionConfig, read: Callable[[], CollectionConfig], targets: Targets
    ) -> ConfigView:
        """The view of ``config``; ``read()`` gives the configuration now, ``targets()`` the
        backend collections a change applies to (the collection first, then every tenant).
        """
        view = object.__new__(cls)
        for f in dataclasses.fields(CollectionConfig):
            object.__setattr__(view, f.name, getattr(config, f.name))
        object.__setattr__(view, "_read", read)
        object.__setattr__(view, "_targets", targets)
        return view

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CollectionConfig):
            return _plain(self) == _plain(other)
        return NotImplemented

    __hash__ = CollectionConfig.__hash__

    def get(self, simple: bool = False) -> CollectionConfig:
        """The current configuration (properties, vector spaces with their vectorizer and index
        settings, BM25 settings, multi-tenancy), read now. ``simple`` is accepted as in Weaviate.
        """
        if not isinstance(simple, bool):
            raise ConfigError(f"simple must be True or False, got {simple!r}")
        return _plain(self._read())

    def add_property(self, prop: Property) -> None:
        """Add a property (to every tenant too); existing objects simply lack it (a text
        property is BM25-indexed from now on).
        """
        if not isinstance(prop, Property):
            raise ConfigError(
                f"add_property() takes Property(name=..., data_type=...), got {type(prop).__name__}"
            )
        current = self._targets()[0].config
        if current.property(prop.name) is not None or any(
            p.name.lower() == prop.name.lower() for p in current.properties
        ):
            raise ConfigError(
                f"{current.name!r} already has a property {prop.name!r}; choose another name"
            )
        for backend in self._targets():
            with backend.write_transaction():
                config = backend.config
                if config.property(prop.name) is None:
                    backend.set_config(
                        dataclasses.replace(config, properties=(*config.properties, prop))
                    )

    def update(
        self,
        *,
        description: str | None = None,
        property_descriptions: Mapping[str, str] | None = None,
        auto_tenant_creation: bool | None = None,
        inverted_index_config: InvertedIndexConfig | None = None,
        vector_index_config: Mapping[str, VectorIndexConfig] | VectorIndexConfig | None = None,
        **unsupported: Any,
    ) -> None:
        """Change what can change after create (see the module docstring)."""
        if unsupported:
            raise ConfigError(
                f"update(): {sorted(unsupported)} cannot be changed after create; supported: "
                "description, property_descriptions, auto_tenant_creation, vector_index_config"
            )
        current = self._targets()[0].config
        indexes = _index_updates(current, vector_index_config, self._targets())
        if inverted_index_config is not None and inverted_index_config != current.inverted_index:
            raise ConfigError(
                "update(inverted_index_config=...): BM25 settings are fixed at create (the "
                "Qdrant backend stores k1 / b in every sparse vector); create a new collection "
                "with Configure.inverted_index(...) and re-import"
            )
        if description is not None and not isinstance(description, str):
            raise ConfigError(f"description must be a str, got {type(description).__name__}")
        if auto_tenant_creation is not None and not isinstance(auto_tenant_creation, bool):
            raise ConfigError(
                f"auto_tenant_creation must be True or False, got {auto_tenant_creation!r}"
            )
        if auto_tenant_creation is not None and not current.multi_tenancy.enabled:
            raise ConfigError(
                f"update(auto_tenant_creation=...): {current.name!r} is not multi-tenant; create "
                "it with multi_tenancy_config=Configure.multi_tenancy(enabled=True)"
            )
        described = dict(property_descriptions or {})
        for name, text in described.items():
            if current.property(name) is None or not isinstance(text, str):
                raise ConfigError(
                    f"property_descriptions: {name!r} -> {text!r}; name an existing property "
                    f"({[p.name for p in current.properties]}) and give a str"
                )
        for backend in self._targets():
            with backend.write_transaction():
                config = backend.config
                new = config
                if description is not None:
                    new = dataclasses.replace(new, description=description)
                if described:
                    new = dataclasses.replace(
                        new,
                        properties=tuple(
                            dataclasses.replace(p, description=described[p.name])
                            if p.name in described
                            else p
                            for p in new.properties
                        ),
                    )
                if indexes:
                    new = dataclasses.replace(
                        new,
                        vectors=tuple(
                            dataclasses.replace(v, index=indexes[v.name])
                            if v.name in indexes
                            else v
                            for v in new.vectors
                        ),
                    )
                if auto_tenant_creation is not None and new.multi_tenancy.enabled:
                    tenancy = dataclasses.replace(
                        new.multi_tenancy, auto_tenant_creation=auto_tenant_creation
                    )
                    new = dataclasses.replace(new, multi_tenancy=tenancy)
                if new != config:
                    backend.set_config(new)


def _plain(config: CollectionConfig) -> CollectionConfig:
    """``config`` as a plain :class:`CollectionConfig` (a view's fields, copied)."""
    if type(config) is CollectionConfig:
        return config
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(CollectionConfig)}
    return CollectionConfig(**values)


def _index_updates(
    current: CollectionConfig,
    given: Mapping[str, VectorIndexConfig] | VectorIndexConfig | None,
    targets: Sequence[CollectionBackend],
) -> dict[str, VectorIndexConfig]:
    """The validated ``vector_index_config`` of ``update`` by space (ConfigError naming the fix)."""
    if given is None:
        return {}
    names = [v.name for v in current.vectors]
    if isinstance(given, VectorIndexConfig):
        if len(names) != 1:
            raise ConfigError(
                f"update(vector_index_config=...): {current.name!r} has vector spaces {names}; "
                "pass {space: Configure.VectorIndex...} naming the space"
            )
        given = {names[0]: given}
    if not isinstance(given, Mapping):
        raise ConfigError(
            "update(vector_index_config=...) takes Configure.VectorIndex.plaid(...) / .exact(), "
            f"or a dict of them by space, got {type(given).__name__}"
        )
    out = {}
    for name, config in given.items():
        if name not in names or not isinstance(config, VectorIndexConfig):
            raise ConfigError(
                f"update(vector_index_config=...): {name!r} -> {config!r}; name a vector space "
                f"({names}) and give a Configure.VectorIndex config"
            )
        if config.kind not in ("exact", "plaid"):
            raise ConfigError(
                f"update(vector_index_config=...): kind {config.kind!r} cannot be set after "
                "create; use Configure.VectorIndex.plaid(...) or .exact() (embedded store)"
            )
        out[name] = config
    if out and not all(hasattr(t, "index_stats") for t in targets):
        raise ConfigError(
            "update(vector_index_config=...) needs the embedded store: the Qdrant backend "
            "manages its own index"
        )
    for t in targets:
        check = getattr(t, "check_index_config", None)
        if check is not None:
            for config in out.values():
                check(config)
    return out
