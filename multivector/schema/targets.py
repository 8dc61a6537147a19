"""Which vector space a query targets: the one a collection has, or the one it names."""

from __future__ import annotations

from multivector.errors import ConfigError
from multivector.schema.config import CollectionConfig, VectorConfig

__all__ = ["resolve_target"]


def resolve_target(config: CollectionConfig, target_vector: str | None) -> VectorConfig:
    """The vector space a query targets (the only one when ``target_vector`` is None)."""
    vectors = config.vectors
    if target_vector is None:
        if len(vectors) == 1:
            return vectors[0]
        if not vectors:
            raise ConfigError(f"collection {config.name!r} has no vector space to search")
        raise ConfigError(
            f"collection {config.name!r} has several vector spaces {[v.name for v in vectors]}; "
            "name one with target_vector=..."
        )
    vec = config.vector(target_vector)
    if vec is None:
        raise ConfigError(
            f"unknown target_vector {target_vector!r}; collection {config.name!r} has "
            f"{[v.name for v in vectors]}"
        )
    return vec
