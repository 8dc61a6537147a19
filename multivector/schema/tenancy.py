"""Multi-tenancy settings, ``Tenant``, and the name of each tenant's own internal collection.

A multi-tenant collection keeps every tenant in its own internal collection of the backend,
named ``<Collection>__t__<hex of the tenant name>`` (a valid collection name for every backend,
one-to-one with the tenant name, and never a name ``collections.create`` accepts from a user),
so every index, BM25 statistic and delete is per tenant by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from multivector._types import StrEnum
from multivector.errors import ConfigError

__all__ = [
    "TENANT_MARK",
    "MultiTenancyConfig",
    "Tenant",
    "TenantActivityStatus",
    "is_tenant_collection",
    "tenant_collection_name",
    "tenant_of",
    "validate_tenant_name",
]

#: What separates a collection's name from its tenant's encoded name in the internal name.
TENANT_MARK = "__t__"
_TENANT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TenantActivityStatus(StrEnum):
    """A tenant's status; every tenant here is served from memory or disk alike: ACTIVE."""

    ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class MultiTenancyConfig:
    """``Configure.multi_tenancy(enabled=True)``: objects live in tenants, not in the collection."""

    enabled: bool = False
    auto_tenant_creation: bool = False

    def __post_init__(self) -> None:
        for name in ("enabled", "auto_tenant_creation"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"multi_tenancy({name}=...) must be True or False, got {getattr(self, name)!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"enabled": self.enabled, "auto_tenant_creation": self.auto_tenant_creation}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> MultiTenancyConfig:
        """Inverse of :meth:`to_dict` (None, from a config stored before tenants: disabled)."""
        if not data:
            return cls()
        return cls(
            enabled=bool(data.get("enabled", False)),
            auto_tenant_creation=bool(data.get("auto_tenant_creation", False)),
        )


def validate_tenant_name(name: object) -> str:
    """``name`` if it is a valid tenant name (Weaviate's rule), else a ConfigError naming it."""
    if not isinstance(name, str) or not _TENANT_NAME.fullmatch(name):
        raise ConfigError(
            f"invalid tenant name {name!r}: use 1 to 64 letters, digits, '-' or '_' "
            "(e.g. 'user-42')"
        )
    return name


@dataclass(frozen=True)
class Tenant:
    """One tenant of a multi-tenant collection (``Tenant(name="user-42")``)."""

    name: str
    activity_status: TenantActivityStatus = TenantActivityStatus.ACTIVE

    def __post_init__(self) -> None:
        validate_tenant_name(self.name)
        try:
            object.__setattr__(self, "activity_status", TenantActivityStatus(self.activity_status))
        except ValueError:
            raise ConfigError(
                f"tenant {self.name!r}: activity_status {self.activity_status!r} is not "
                "supported; every tenant here is 'ACTIVE' (there is no offloading to cold storage)"
            ) from None


def tenant_collection_name(collection: str, tenant: str) -> str:
    """The internal collection that holds ``tenant`` of ``collection``."""
    return f"{collection}{TENANT_MARK}{validate_tenant_name(tenant).encode().hex()}"


def is_tenant_collection(name: str) -> bool:
    """Whether ``name`` is a tenant's internal collection (hidden from ``list_all``)."""
    return TENANT_MARK in name


def tenant_of(collection: str, internal: str) -> str | None:
    """The tenant whose internal collection is ``internal``, None if it is not one of ``collection``."""
    prefix = f"{collection}{TENANT_MARK}"
    if not internal.startswith(prefix):
        return None
    try:
        return bytes.fromhex(internal[len(prefix) :]).decode()
    except ValueError:
        return None
