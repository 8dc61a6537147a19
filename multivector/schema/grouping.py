"""``GroupBy`` (query group-by) and ``GroupByAggregate`` (aggregate group-by), as in Weaviate v4.

``near_vector / near_text / bm25 / hybrid(..., group_by=GroupBy(prop="docid", number_of_groups=3,
objects_per_group=2))`` ranks as usual, then walks the ranking best first and keeps each object in
its property value's group until ``number_of_groups`` groups are open and each group holds
``objects_per_group`` objects (see :mod:`multivector.retrieval.grouping`).
"""

from __future__ import annotations

from dataclasses import dataclass

from multivector._checks import check_int
from multivector.errors import ConfigError
from multivector.schema.config import CollectionConfig, DataType

__all__ = ["GroupBy", "GroupByAggregate", "check_group_property"]

#: Property types whose values can name a group (arrays, OBJECT and vectors cannot).
_GROUPABLE = (
    DataType.TEXT,
    DataType.INT,
    DataType.NUMBER,
    DataType.BOOL,
    DataType.DATE,
    DataType.UUID,
)


@dataclass(frozen=True)
class GroupBy:
    """Group a query's ranking by the value of ``prop``."""

    prop: str
    number_of_groups: int
    objects_per_group: int

    def __post_init__(self) -> None:
        if not isinstance(self.prop, str) or not self.prop:
            raise ConfigError(f"GroupBy(prop=...) must be a property name (str), got {self.prop!r}")
        check_int("GroupBy(number_of_groups=...)", self.number_of_groups, 1)
        check_int("GroupBy(objects_per_group=...)", self.objects_per_group, 1)


@dataclass(frozen=True)
class GroupByAggregate:
    """Aggregate per value of ``prop``; ``limit`` caps the number of groups (largest first)."""

    prop: str
    limit: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prop, str) or not self.prop:
            raise ConfigError(
                f"GroupByAggregate(prop=...) must be a property name (str), got {self.prop!r}"
            )
        if self.limit is not None:
            check_int("GroupByAggregate(limit=...)", self.limit, 1)


def check_group_property(config: CollectionConfig, prop: str, where: str) -> None:
    """Raise ConfigError unless ``prop`` is a scalar property of ``config`` (a group's name)."""
    declared = config.property(prop)
    if declared is None:
        raise ConfigError(
            f"{where}: {config.name!r} has no property {prop!r}; group by one of "
            f"{[p.name for p in config.properties if p.data_type in _GROUPABLE]}"
        )
    if declared.data_type not in _GROUPABLE:
        raise ConfigError(
            f"{where}: property {prop!r} is {declared.data_type.value!r}; group by a scalar "
            f"property ({', '.join(t.value for t in _GROUPABLE)})"
        )
