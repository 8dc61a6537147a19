"""Group-by queries: ``near_vector / near_text / bm25 / hybrid(..., group_by=GroupBy(...))``.

As in Weaviate, grouping applies before ``limit``: the query ranks a candidate pool (at least
``limit``, at least ``number_of_groups * objects_per_group``, at least :data:`GROUP_POOL`), the
ranking is grouped (:func:`multivector.retrieval.grouping.group_ranked`), and when some group is
still short while the pool was full, the pool grows (x4) until the groups are full or no object
is left. ``offset`` and ``auto_limit`` have no meaning for groups and are refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from multivector.api.handle import CollectionHandle
from multivector.api.results import to_object
from multivector.backends.protocol import CollectionBackend, Hit
from multivector.errors import ConfigError
from multivector.results import MetadataReturn
from multivector.results_grouped import Group, GroupByObject, GroupByReturn
from multivector.retrieval.grouping import group_ranked, groups_complete, hit_group
from multivector.retrieval.plan import HybridPlan, KeywordPlan, Page, VectorPlan
from multivector.schema.grouping import GroupBy, check_group_property

__all__ = ["GROUP_POOL", "grouped_return"]

#: The smallest candidate pool a group-by query ranks.
GROUP_POOL = 100

AnyPlan = VectorPlan | KeywordPlan | HybridPlan
P = TypeVar("P", VectorPlan, KeywordPlan, HybridPlan)


def _check(plan: AnyPlan, group_by: object, config_check: Callable[[str], None]) -> GroupBy:
    if not isinstance(group_by, GroupBy):
        raise ConfigError(
            f"group_by must be GroupBy(prop=..., number_of_groups=..., objects_per_group=...), "
            f"got {type(group_by).__name__}"
        )
    if plan.page.offset:
        raise ConfigError(
            f"offset={plan.page.offset} cannot be combined with group_by (groups are not pages); "
            "drop offset, or lower number_of_groups"
        )
    if plan.page.auto_limit is not None:
        raise ConfigError("auto_limit cannot be combined with group_by; drop one of them")
    config_check(group_by.prop)
    return group_by


def grouped_return(
    col: CollectionHandle,
    plan: P,
    group_by: object,
    run: Callable[[CollectionBackend, P], list[Hit]],
    metadata: Callable[[int, Hit], MetadataReturn],
) -> GroupByReturn:
    """Rank a growing pool with ``run`` until ``group_by``'s groups are full, then group."""
    backend = col.backend
    spec = _check(
        plan,
        group_by,
        lambda prop: check_group_property(backend.known_config, prop, "group_by"),
    )
    wanted = spec.number_of_groups * spec.objects_per_group
    pool = max(plan.page.limit, wanted, GROUP_POOL)
    key = hit_group(spec.prop)
    while True:
        hits = run(backend, dataclasses.replace(plan, page=Page(pool)))
        groups = group_ranked(
            hits,
            key,
            number_of_groups=spec.number_of_groups,
            objects_per_group=spec.objects_per_group,
        )
        if (
            groups_complete(groups, spec.number_of_groups, spec.objects_per_group)
            or len(hits) < pool
            or pool >= backend.count()
        ):
            break
        pool *= 4
    rank = {h.uuid: i for i, h in enumerate(hits)}
    out = GroupByReturn(objects=[])
    for name, members in groups.items():
        objects = []
        for hit in members:
            if hit.obj is None:  # pragma: no cover - run() returns hits with objects
                continue
            base = to_object(hit.obj, metadata(rank[hit.uuid], hit), plan.returns, col.name)
            fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
            objects.append(GroupByObject(**fields, belongs_to_group=str(name)))
        distances = [o.metadata.distance for o in objects if o.metadata.distance is not None]
        out.groups[str(name)] = Group(
            name=str(name),
            objects=objects,
            number_of_objects=len(objects),
            min_distance=min(distances) if distances else None,
            max_distance=max(distances) if distances else None,
            prop=spec.prop,
        )
        out.objects.extend(objects)
    return out
