"""``collection.tenants``: create, list, remove the tenants of a multi-tenant collection.

Each tenant is its own internal collection of the backend (named by
:func:`~multivector.schema.tenancy.tenant_collection_name`, hidden from ``list_all``): its
objects, vector arenas, approximate index, filters and BM25 statistics (IDF within the tenant,
as Weaviate computes it) are apart from every other tenant's by construction, on every backend,
and removing a tenant is one backend delete (one SQLite transaction on a durable store: once
``remove`` returns, the tenant's data is gone even if the process is killed the next instant).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from multivector.backends.protocol import ClientBackend, CollectionBackend
from multivector.errors import CollectionNotFoundError, ConfigError, NotFoundError
from multivector.schema.tenancy import (
    MultiTenancyConfig,
    Tenant,
    tenant_collection_name,
    tenant_of,
    validate_tenant_name,
)

__all__ = ["TenantOwner", "Tenants", "tenant_names"]


class TenantOwner(Protocol):
    """What ``collection.tenants`` needs of its (parent) collection."""

    @property
    def name(self) -> str: ...

    def raw_backend(self) -> CollectionBackend: ...

    def client_backend(self) -> ClientBackend: ...


def tenant_names(tenants: object) -> list[str]:
    """One name, a ``Tenant``, or a list of them -> validated names (ConfigError otherwise)."""
    items = [tenants] if isinstance(tenants, (str, Tenant)) else tenants
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise ConfigError(
            f"tenants must be a name, a Tenant or a list of them, got {type(tenants).__name__}"
        )
    return [t.name if isinstance(t, Tenant) else validate_tenant_name(t) for t in items]


class Tenants:
    """``collection.tenants`` (see the module docstring)."""

    def __init__(self, owner: TenantOwner) -> None:
        self._owner = owner

    def _enabled(self) -> CollectionBackend:
        backend = self._owner.raw_backend()
        if not backend.known_config.multi_tenancy.enabled:
            raise ConfigError(
                f"collection {self._owner.name!r} is not multi-tenant; create it with "
                "multi_tenancy_config=Configure.multi_tenancy(enabled=True)"
            )
        return backend

    def _internal(self, tenant: str) -> str:
        return tenant_collection_name(self._owner.name, tenant)

    def create(self, tenants: str | Tenant | Sequence[str | Tenant]) -> None:
        """Create tenants (empty, with the collection's configuration); an existing one raises
        ConfigError before any is created.
        """
        backend = self._enabled()
        names = tenant_names(tenants)
        existing = self.get()
        taken = [n for n in names if n in existing]
        if taken or len(set(names)) != len(names):
            raise ConfigError(
                f"tenants {sorted(taken) or names} of {self._owner.name!r} already exist or are "
                "named twice; check with collection.tenants.exists(name)"
            )
        config = backend.config
        client = self._owner.client_backend()
        for name in names:
            client.create_collection(
                dataclasses.replace(
                    config, name=self._internal(name), multi_tenancy=MultiTenancyConfig()
                )
            )

    def get(self) -> dict[str, Tenant]:
        """Every tenant, by name."""
        self._enabled()
        found = (
            tenant_of(self._owner.name, n) for n in self._owner.client_backend().list_collections()
        )
        return {name: Tenant(name) for name in sorted(n for n in found if n is not None)}

    def get_by_name(self, tenant: str | Tenant) -> Tenant | None:
        """The tenant called ``tenant``, or None."""
        return self.get().get(tenant_names(tenant)[0])

    def exists(self, tenant: str | Tenant) -> bool:
        """Whether the tenant exists."""
        return self.get_by_name(tenant) is not None

    def remove(self, tenants: str | Tenant | Sequence[str | Tenant]) -> None:
        """Delete tenants and all their data (missing names are ignored, as in Weaviate);
        handles to a removed tenant raise ``CollectionNotFoundError`` from then on.
        """
        self._enabled()
        client = self._owner.client_backend()
        present = set(client.list_collections())
        for name in tenant_names(tenants):
            internal = self._internal(name)
            if internal in present:
                client.delete_collection(internal)

    def open(self, tenant: str | Tenant) -> CollectionBackend:
        """The backend collection of ``tenant`` (created first when the collection has
        ``auto_tenant_creation``); a missing tenant raises ``NotFoundError``.
        """
        backend = self._enabled()
        name = tenant_names(tenant)[0]
        client = self._owner.client_backend()
        try:
            return client.open_collection(self._internal(name))
        except CollectionNotFoundError:
            if not backend.config.multi_tenancy.auto_tenant_creation:
                raise NotFoundError(
                    f"tenant {name!r} of {self._owner.name!r} does not exist; create it with "
                    f"collection.tenants.create({name!r}) (existing: {sorted(self.get())})"
                ) from None
        self.create([name])
        return client.open_collection(self._internal(name))
