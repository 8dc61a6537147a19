"""The store protocol: what a backend (embedded or Qdrant) implements under ``Collection``.

The public ``Collection`` facade validates input, embeds text, fuses hybrid legs and builds results;
a backend only stores validated records and answers three primitive searches. Retrievers and the
LlamaIndex / LangChain integrations see only ``Collection``, never a backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from multivector.config import CollectionConfig
from multivector.query import BM25OperatorSpec, FilterNode

__all__ = [
    "ClientBackend",
    "CollectionBackend",
    "Hit",
    "ObjectRecord",
    "StoredObject",
]


@dataclass(frozen=True)
class ObjectRecord:
    """A validated object ready to store.

    ``properties`` are already coerced to the schema's types (DATE as timezone-aware datetime);
    ``vectors`` maps a space name to a C-contiguous float32 ``[n_tokens, dim]`` matrix of finite
    values whose width equals the space's dimension. A space may be absent (the object is then
    not searchable in that space).
    """

    uuid: str
    properties: Mapping[str, Any]
    vectors: Mapping[str, npt.NDArray[np.float32]]


@dataclass
class StoredObject:
    """An object as a backend returns it; ``vectors`` is empty unless vectors were asked for."""

    uuid: str
    properties: dict[str, Any]
    vectors: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    creation_time: float | None = None
    update_time: float | None = None


class Hit(NamedTuple):
    """A search hit: the object's uuid and the leg's raw score (MaxSim or BM25), higher is better."""

    uuid: str
    score: float


class CollectionBackend(Protocol):
    """Storage and primitive search for one collection."""

    @property
    def config(self) -> CollectionConfig:
        """The collection's current configuration (dimensions and auto-added properties included)."""
        ...

    def set_config(self, config: CollectionConfig) -> None:
        """Replace the configuration (new properties, a dimension fixed by a first insert)."""
        ...

    def count(self) -> int:
        """Number of live objects."""
        ...

    def upsert(self, records: Sequence[ObjectRecord]) -> None:
        """Insert or replace every record, atomically: all of them are stored, or none."""
        ...

    def delete(self, uuids: Sequence[str]) -> int:
        """Delete these objects atomically; unknown uuids are ignored. Returns how many existed."""
        ...

    def get(self, uuids: Sequence[str], *, include_vector: bool) -> list[StoredObject | None]:
        """The objects with these uuids (None where missing), in the same order."""
        ...

    def fetch(
        self,
        *,
        limit: int | None,
        offset: int,
        filters: FilterNode | None,
        include_vector: bool,
    ) -> list[StoredObject]:
        """Live objects matching ``filters`` in a stable order (insertion order), paginated."""
        ...

    def match(self, filters: FilterNode | None) -> list[str]:
        """The uuids of every live object matching ``filters``."""
        ...

    def vector_search(
        self,
        target_vector: str,
        query: npt.NDArray[np.float32],
        *,
        limit: int,
        filters: FilterNode | None,
    ) -> list[Hit]:
        """Exact (or index-backed) MaxSim top-``limit`` among matching objects, best first."""
        ...

    def vector_scores(
        self,
        target_vector: str,
        query: npt.NDArray[np.float32],
        uuids: Sequence[str],
    ) -> list[float | None]:
        """Exact MaxSim of ``query`` against each listed object (None where missing / no vector)."""
        ...

    def keyword_search(
        self,
        query: str,
        *,
        properties: Sequence[tuple[str, float]],
        limit: int,
        filters: FilterNode | None,
        operator: BM25OperatorSpec,
    ) -> list[Hit]:
        """BM25 top-``limit`` over ``(property, boost)`` pairs among matching objects, best first."""
        ...

    def compact(self) -> None:
        """Reclaim the space of deleted objects."""
        ...


class ClientBackend(Protocol):
    """A set of collections in one place (a folder, memory, or a Qdrant deployment)."""

    def create_collection(self, config: CollectionConfig) -> CollectionBackend:
        """Create a collection; the caller has checked that the name is free."""
        ...

    def open_collection(self, name: str) -> CollectionBackend:
        """Open an existing collection."""
        ...

    def list_collections(self) -> dict[str, CollectionConfig]:
        """Every collection's configuration, by name."""
        ...

    def delete_collection(self, name: str) -> None:
        """Delete a collection and all its data."""
        ...

    def backup(self, dest: str | Path) -> None:
        """Write a consistent copy of everything to ``dest``."""
        ...

    def close(self) -> None:
        """Release files, connections and locks."""
        ...

    def describe(self) -> Mapping[str, Any]:
        """Backend name and location, for reprs (never secrets)."""
        ...
