"""Group-by over a ranking: pure functions over ranked items (``Hit``s, result objects).

:func:`group_ranked` is Weaviate's query group-by: walk the ranking best first; an item joins its
group while the group holds fewer than ``objects_per_group`` items; a new group opens while fewer
than ``number_of_groups`` are open; items without a group value are skipped. :func:`cap_per_group`
is the retrievers' "at most k chunks per source document": the ranking with every group cut to
``max_per_group`` items, then the first ``limit``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from multivector.backends.protocol import Hit

__all__ = ["cap_per_group", "group_name", "group_ranked", "groups_complete", "hit_group"]

T = TypeVar("T")


def group_name(value: Any) -> str | None:
    """The group a property value names (None: no group); Weaviate prints values as strings."""
    if value is None or isinstance(value, (list, tuple, dict)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return str(value)


def hit_group(prop: str) -> Callable[[Hit], str | None]:
    """The key of a hit with its object attached: the group its ``prop`` value names."""

    def key(hit: Hit) -> str | None:
        return None if hit.obj is None else group_name(hit.obj.properties.get(prop))

    return key


def group_ranked(
    items: Sequence[T],
    key: Callable[[T], Hashable | None],
    *,
    number_of_groups: int,
    objects_per_group: int,
) -> dict[Hashable, list[T]]:
    """Groups (in the order they opened, i.e. by their best item) of at most
    ``objects_per_group`` items, at most ``number_of_groups`` of them, each best first.
    """
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        name = key(item)
        if name is None:
            continue
        members = groups.get(name)
        if members is None:
            if len(groups) >= number_of_groups:
                continue
            members = groups[name] = []
        if len(members) < objects_per_group:
            members.append(item)
            if groups_complete(groups, number_of_groups, objects_per_group):
                break
    return groups


def groups_complete(
    groups: dict[Hashable, list[T]], number_of_groups: int, objects_per_group: int
) -> bool:
    """Whether every group is open and full (a longer ranking could change nothing)."""
    return len(groups) >= number_of_groups and all(
        len(m) >= objects_per_group for m in groups.values()
    )


def cap_per_group(
    items: Sequence[T],
    key: Callable[[T], Hashable | None],
    *,
    max_per_group: int,
    limit: int,
) -> list[T]:
    """The first ``limit`` items of the ranking keeping at most ``max_per_group`` per group
    (items without a group value count as their own group each).
    """
    seen: dict[Hashable, int] = {}
    out: list[T] = []
    for item in items:
        name = key(item)
        if name is not None:
            if seen.get(name, 0) >= max_per_group:
                continue
            seen[name] = seen.get(name, 0) + 1
        out.append(item)
        if len(out) >= limit:
            break
    return out
