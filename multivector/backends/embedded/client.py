"""The in-memory embedded client: collections held in this process (``multivector.connect()``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multivector.backends.embedded.ann_index import check_index_configs
from multivector.backends.embedded.collection import EmbeddedCollection
from multivector.errors import CollectionNotFoundError, ConfigError
from multivector.results import VerifyReport
from multivector.schema.config import CollectionConfig

__all__ = ["EmbeddedClient"]


class EmbeddedClient:
    """Collections held in this process (the durable client is ``stores.durable.DurableClient``)."""

    def __init__(self) -> None:
        self._collections: dict[str, EmbeddedCollection] = {}

    def create_collection(self, config: CollectionConfig) -> EmbeddedCollection:
        """Create an empty collection."""
        check_index_configs(config)
        col = EmbeddedCollection(config)
        self._collections[config.name] = col
        return col

    def open_collection(self, name: str) -> EmbeddedCollection:
        """The collection called ``name``."""
        try:
            return self._collections[name]
        except KeyError:
            raise CollectionNotFoundError(f"no collection named {name!r}") from None

    def list_collections(self) -> dict[str, CollectionConfig]:
        """Configurations by name."""
        return {name: col.config for name, col in self._collections.items()}

    def delete_collection(self, name: str) -> None:
        """Forget a collection (handles to it raise from now on)."""
        col = self._collections.pop(name, None)
        if col is not None:
            col.drop()

    def backup(self, dest: str | Path) -> None:
        """In-memory stores have nothing on disk to back up."""
        raise ConfigError(
            "backup() needs a path-backed store; open it with multivector.connect(path=...)"
        )

    def close(self) -> None:
        """Drop every collection (and stop their background maintenance)."""
        for col in self._collections.values():
            col.close()
        self._collections.clear()

    def verify(self) -> VerifyReport:
        """Nothing on disk to check: the object count of each collection."""
        return VerifyReport("memory", {n: c.count() for n, c in self._collections.items()})

    def describe(self) -> Mapping[str, Any]:
        """Backend name and location."""
        return {"backend": "embedded", "path": None}
