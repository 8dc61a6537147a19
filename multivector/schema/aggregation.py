"""``Metrics``: what ``collection.aggregate.over_all(return_metrics=[...])`` computes, as in
Weaviate v4 (``Metrics("n").integer(count=True, mean=True)``, ``Metrics("text").text(...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from multivector._checks import check_int
from multivector.errors import ConfigError
from multivector.schema.config import CollectionConfig, DataType

__all__ = ["MetricSpec", "Metrics", "check_metric"]

_NUMERIC = ("count", "maximum", "mean", "median", "minimum", "mode", "sum_")
_KINDS: dict[str, tuple[DataType, ...]] = {
    "integer": (DataType.INT, DataType.INT_ARRAY),
    "number": (DataType.NUMBER, DataType.NUMBER_ARRAY, DataType.INT, DataType.INT_ARRAY),
    "text": (DataType.TEXT, DataType.TEXT_ARRAY, DataType.UUID, DataType.UUID_ARRAY),
    "boolean": (DataType.BOOL, DataType.BOOL_ARRAY),
    "date": (DataType.DATE, DataType.DATE_ARRAY),
}


@dataclass(frozen=True)
class MetricSpec:
    """The metrics asked of one property: ``kind`` (integer, number, text, boolean, date) and the
    names of the fields to compute; ``limit`` caps text top occurrences.
    """

    prop: str
    kind: str
    fields: frozenset[str]
    limit: int | None = None


def _chosen(values: dict[str, bool], where: str) -> frozenset[str]:
    for name, value in values.items():
        if not isinstance(value, bool):
            raise ConfigError(f"{where}({name}=...) must be True or False, got {value!r}")
    picked = frozenset(name for name, value in values.items() if value)
    return picked or frozenset(values)  # none named: all of them, as Weaviate does


class Metrics:
    """``Metrics(prop)``: pick the metrics of one property."""

    def __init__(self, property: str) -> None:
        if not isinstance(property, str) or not property:
            raise ConfigError(f"Metrics(property) must be a property name, got {property!r}")
        self._prop = property

    def _numeric(self, kind: str, flags: dict[str, bool]) -> MetricSpec:
        return MetricSpec(self._prop, kind, _chosen(flags, f"Metrics({self._prop!r}).{kind}"))

    def integer(
        self,
        count: bool = False,
        maximum: bool = False,
        mean: bool = False,
        median: bool = False,
        minimum: bool = False,
        mode: bool = False,
        sum_: bool = False,
    ) -> MetricSpec:
        """Count, min / max / mean / median / mode / sum of an INT (or INT[]) property."""
        flags = dict(zip(_NUMERIC, (count, maximum, mean, median, minimum, mode, sum_)))
        return self._numeric("integer", flags)

    def number(
        self,
        count: bool = False,
        maximum: bool = False,
        mean: bool = False,
        median: bool = False,
        minimum: bool = False,
        mode: bool = False,
        sum_: bool = False,
    ) -> MetricSpec:
        """The same metrics for a NUMBER (or INT) property, as floats."""
        flags = dict(zip(_NUMERIC, (count, maximum, mean, median, minimum, mode, sum_)))
        return self._numeric("number", flags)

    def text(
        self,
        count: bool = False,
        top_occurrences_count: bool = False,
        top_occurrences_value: bool = False,
        limit: int | None = None,
    ) -> MetricSpec:
        """Count and the most frequent values (``limit`` of them, default 5) of a TEXT property."""
        flags = {
            "count": count,
            "top_occurrences_count": top_occurrences_count,
            "top_occurrences_value": top_occurrences_value,
        }
        if limit is not None:
            check_int(f"Metrics({self._prop!r}).text(limit=...)", limit, 1)
        return MetricSpec(
            self._prop, "text", _chosen(flags, f"Metrics({self._prop!r}).text"), limit
        )

    def boolean(
        self,
        count: bool = False,
        percentage_false: bool = False,
        percentage_true: bool = False,
        total_false: bool = False,
        total_true: bool = False,
    ) -> MetricSpec:
        """Counts and shares of True / False of a BOOL property."""
        flags = {
            "count": count,
            "percentage_false": percentage_false,
            "percentage_true": percentage_true,
            "total_false": total_false,
            "total_true": total_true,
        }
        return MetricSpec(self._prop, "boolean", _chosen(flags, f"Metrics({self._prop!r}).boolean"))

    def date_(
        self,
        count: bool = False,
        maximum: bool = False,
        median: bool = False,
        minimum: bool = False,
        mode: bool = False,
    ) -> MetricSpec:
        """Count, earliest, latest, median and most frequent value of a DATE property."""
        flags = {
            "count": count,
            "maximum": maximum,
            "median": median,
            "minimum": minimum,
            "mode": mode,
        }
        return MetricSpec(self._prop, "date", _chosen(flags, f"Metrics({self._prop!r}).date_"))


def check_metric(config: CollectionConfig, spec: object) -> MetricSpec:
    """``spec`` if it is a :class:`MetricSpec` whose property exists with a fitting type."""
    if not isinstance(spec, MetricSpec):
        raise ConfigError(
            "return_metrics items must come from Metrics(prop).integer(...) / .number(...) / "
            f".text(...) / .boolean(...) / .date_(...), got {type(spec).__name__}"
        )
    declared = config.property(spec.prop)
    if declared is None:
        raise ConfigError(
            f"Metrics({spec.prop!r}): {config.name!r} has no property {spec.prop!r}; "
            f"existing: {[p.name for p in config.properties]}"
        )
    if declared.data_type not in _KINDS[spec.kind]:
        fits = [
            k + ("_" if k == "date" else "") for k, t in _KINDS.items() if declared.data_type in t
        ]
        raise ConfigError(
            f"Metrics({spec.prop!r}).{spec.kind}(): the property is "
            f"{declared.data_type.value!r}; use Metrics({spec.prop!r}).{fits[0] if fits else 'text'}(...)"
        )
    return spec
