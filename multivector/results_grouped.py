"""Result records of group-by queries and aggregations, shaped like the Weaviate v4 client's
``GroupByReturn`` / ``Group`` and ``AggregateReturn`` / ``AggregateGroupByReturn``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from multivector.results import Object, QueryReturn

__all__ = [
    "AggregateBoolean",
    "AggregateDate",
    "AggregateGroup",
    "AggregateGroupByReturn",
    "AggregateInteger",
    "AggregateNumber",
    "AggregateResult",
    "AggregateReturn",
    "AggregateText",
    "Group",
    "GroupByObject",
    "GroupByReturn",
    "GroupedBy",
    "TopOccurrence",
]


@dataclass
class GroupByObject(Object):
    """A result object of a group-by query, with the name of its group."""

    belongs_to_group: str = ""


@dataclass
class Group:
    """One group of a group-by query: its objects best first and their distance range.

    ``min_distance`` / ``max_distance`` are over the objects that have a vector distance
    (-MaxSim); None for a keyword (bm25) query, which has none.
    """

    name: str
    objects: list[GroupByObject]
    number_of_objects: int
    min_distance: float | None
    max_distance: float | None
    prop: str = ""


@dataclass
class GroupByReturn(QueryReturn):
    """A group-by query's answer: ``groups`` by name (best group first) and every grouped object
    in ``objects`` (group by group). A :class:`~multivector.QueryReturn`, so ``len()`` and
    ``.objects`` work as for any query.
    """

    groups: dict[str, Group] = field(default_factory=dict)


@dataclass(frozen=True)
class AggregateInteger:
    """Metrics of an INT property (None: not asked for, or no values)."""

    count: int | None = None
    maximum: int | None = None
    mean: float | None = None
    median: float | None = None
    minimum: int | None = None
    mode: int | None = None
    sum_: int | None = None


@dataclass(frozen=True)
class AggregateNumber:
    """Metrics of a NUMBER property."""

    count: int | None = None
    maximum: float | None = None
    mean: float | None = None
    median: float | None = None
    minimum: float | None = None
    mode: float | None = None
    sum_: float | None = None


@dataclass(frozen=True)
class TopOccurrence:
    """A value of a text property and how many objects hold it."""

    value: str | None
    count: int | None


@dataclass(frozen=True)
class AggregateText:
    """Metrics of a TEXT property: how many values, and the most frequent ones."""

    count: int | None = None
    top_occurrences: list[TopOccurrence] = field(default_factory=list)


@dataclass(frozen=True)
class AggregateBoolean:
    """Metrics of a BOOL property."""

    count: int | None = None
    percentage_false: float | None = None
    percentage_true: float | None = None
    total_false: int | None = None
    total_true: int | None = None


@dataclass(frozen=True)
class AggregateDate:
    """Metrics of a DATE property."""

    count: int | None = None
    maximum: _dt.datetime | None = None
    median: _dt.datetime | None = None
    minimum: _dt.datetime | None = None
    mode: _dt.datetime | None = None


AggregateResult = (
    AggregateInteger | AggregateNumber | AggregateText | AggregateBoolean | AggregateDate
)


@dataclass
class AggregateReturn:
    """``aggregate.over_all()`` without group-by: metrics by property and the object count."""

    properties: dict[str, AggregateResult] = field(default_factory=dict)
    total_count: int | None = None


@dataclass(frozen=True)
class GroupedBy:
    """The property and value a group of an aggregation shares."""

    prop: str
    value: Any


@dataclass
class AggregateGroup:
    """One group of ``aggregate.over_all(group_by=...)``."""

    grouped_by: GroupedBy
    properties: dict[str, AggregateResult] = field(default_factory=dict)
    total_count: int | None = None


@dataclass
class AggregateGroupByReturn:
    """``aggregate.over_all(group_by=...)``: one :class:`AggregateGroup` per value, largest first."""

    groups: list[AggregateGroup] = field(default_factory=list)
