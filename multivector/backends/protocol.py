"""The store protocol: what a backend (embedded or Qdrant) implements under ``Collection``.

The public ``Collection`` facade validates input into a frozen query plan (``multivector.retrieval``);
retrieval runs the plan's legs and fusion against this protocol. A backend stores validated records
and answers a :class:`SearchRequest` (the legs of one query and its filter) with a
:class:`ReadView`: the legs' hits and the objects behind them, all from one snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from multivector.results import ScoreExplanation, TokenHighlight, VerifyReport
from multivector.schema.config import CollectionConfig
from multivector.schema.query import BM25OperatorSpec, FilterNode

__all__ = [
    "ClientBackend",
    "CollectionBackend",
    "Hit",
    "KeywordQuery",
    "ObjectRecord",
    "ReadView",
    "SearchRequest",
    "StoredObject",
    "VectorQuery",
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
    #: Spaces whose matrix is the stored object's, carried over unchanged (``update``): storage
    #: keeps those rows as they are instead of rewriting them from the serving copy.
    kept: frozenset[str] = frozenset()


@dataclass
class StoredObject:
    """An object as a backend returns it; ``vectors`` is empty unless vectors were asked for."""

    uuid: str
    properties: dict[str, Any]
    vectors: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    creation_time: float | None = None
    update_time: float | None = None


class Hit(NamedTuple):
    """A search hit, the one hit type from a backend's leg to the public result.

    ``score`` is the leg's raw score (MaxSim or BM25, higher is better) or, after fusion, the
    fused score with its ``explanation``; ``obj`` is the object once the view attached it;
    ``highlights`` the late-interaction highlights once retrieval computed them (when asked).
    """

    uuid: str
    score: float
    explanation: ScoreExplanation | None = None
    obj: StoredObject | None = None
    highlights: tuple[TokenHighlight, ...] | None = None


@dataclass(frozen=True)
class VectorQuery:
    """The vector leg of a search: exact (or index-backed) MaxSim top-``limit`` in one space."""

    target: str
    matrix: npt.NDArray[np.float32]
    limit: int


@dataclass(frozen=True)
class KeywordQuery:
    """The keyword leg of a search: BM25 top-``limit`` over ``(property, boost)`` pairs, summed."""

    text: str
    properties: tuple[tuple[str, float], ...]
    limit: int
    operator: BM25OperatorSpec = field(default_factory=lambda: BM25OperatorSpec("or", 1))


@dataclass(frozen=True)
class SearchRequest:
    """What one query asks of a backend: a filter (validated) and zero, one or two legs."""

    filters: FilterNode | None = None
    vector: VectorQuery | None = None
    keyword: KeywordQuery | None = None


class ReadView(Protocol):
    """The answer to a :class:`SearchRequest`, and the objects behind it, from one snapshot.

    ``vector_hits`` / ``keyword_hits`` are best first (None for a leg not asked for). A backend
    that has snapshots (the embedded store) answers :meth:`objects` from the same state the legs
    saw, so no object a leg found is missing; one without (Qdrant) answers from the live store and
    reports ``None`` for an object deleted meanwhile, and the caller searches again.
    """

    @property
    def vector_hits(self) -> list[Hit] | None:
        """The vector leg's hits, best first."""
        ...

    @property
    def keyword_hits(self) -> list[Hit] | None:
        """The keyword leg's hits, best first."""
        ...

    def vector_scores(self, uuids: Sequence[str]) -> list[float | None]:
        """Exact MaxSim of the request's query matrix against each listed object (None: none)."""
        ...

    def objects(self, hits: Sequence[Hit], *, include_vector: bool) -> list[Hit]:
        """``hits`` with their objects attached (``obj`` None where the object is gone)."""
        ...


class CollectionBackend(Protocol):
    """Storage and primitive search for one collection."""

    @property
    def config(self) -> CollectionConfig:
        """The collection's current configuration (dimensions and auto-added properties included)."""
        ...

    @property
    def known_config(self) -> CollectionConfig:
        """The configuration as last seen, without looking for other processes' changes (what a
        query plan is validated against; the search that follows refreshes).
        """
        ...

    def set_config(self, config: CollectionConfig) -> None:
        """Replace the configuration (new properties, a dimension fixed by a first insert)."""
        ...

    def count(self) -> int:
        """Number of live objects."""
        ...

    def write_transaction(self) -> AbstractContextManager[None]:
        """Exclusive write access from a write verb's first read to its commit (reentrant:
        ``get`` / ``match`` / ``upsert`` / ``delete`` may run inside), so that read-modify-write
        verbs are serialisable.
        """
        ...

    def drop(self) -> None:
        """Mark this handle's collection deleted: every later call raises CollectionNotFoundError."""
        ...

    def close(self) -> None:
        """The client closed: release background work; every later call raises ConfigError."""
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

    def search(self, request: SearchRequest) -> ReadView:
        """Run the request's legs over one snapshot (one lock, one refresh, one filter mask)."""
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

    def verify(self) -> VerifyReport:
        """Check everything stored; the report lists every problem found (none: ``ok``)."""
        ...
