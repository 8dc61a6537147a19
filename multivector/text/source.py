"""The source text a ``text2vec`` space embeds, and where each of its parts came from.

A space embeds the values of its source properties (those it names, else every text property)
joined by single spaces, whitespace-only values left out: the same text at import (the api's
ingest step) and when highlights map token offsets back to properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from multivector.schema.config import CollectionConfig, VectorConfig

__all__ = ["SourcePart", "locate", "source_parts", "source_properties"]


@dataclass(frozen=True)
class SourcePart:
    """One value in the joined source text: ``text[start:end]`` is ``value``."""

    property: str
    element: int | None
    start: int
    end: int
    value: str


def source_properties(vec: VectorConfig, config: CollectionConfig) -> tuple[str, ...]:
    """The properties a ``text2vec`` space embeds: those it names, else every text property."""
    return vec.source_properties or tuple(p.name for p in config.properties if p.data_type.is_text)


def source_parts(
    properties: Mapping[str, Any], vec: VectorConfig, config: CollectionConfig
) -> tuple[str, list[SourcePart]]:
    """The joined source text of an object and the span of each value in it."""
    values: list[tuple[str, int | None, str]] = []
    for name in source_properties(vec, config):
        value = properties.get(name)
        if isinstance(value, str):
            values.append((name, None, value))
        elif isinstance(value, list):
            values.extend((name, i, str(v)) for i, v in enumerate(value) if v is not None)
    pieces: list[str] = []
    parts: list[SourcePart] = []
    at = 0
    for name, element, value in values:
        if not value.strip():
            continue
        if pieces:
            at += 1  # the joining space
        parts.append(SourcePart(name, element, at, at + len(value), value))
        pieces.append(value)
        at += len(value)
    return " ".join(pieces), parts


def locate(parts: Sequence[SourcePart], start: int, end: int) -> tuple[SourcePart, int, int] | None:
    """The part holding the span ``[start, end)`` of the joined text, with the span's offsets
    inside that part's value (None when the span covers no character of any part).
    """
    if end <= start:
        return None
    for part in parts:
        if part.start <= start < part.end:
            return part, start - part.start, min(end, part.end) - part.start
    return None
