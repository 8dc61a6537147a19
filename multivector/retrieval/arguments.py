"""Argument checks shared by every query plan (the facade's verbs and the framework-free retriever)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from multivector._checks import check_int
from multivector.errors import ConfigError
from multivector.kernels.fusion import autocut
from multivector.schema.config import CollectionConfig
from multivector.schema.query import HybridFusion

__all__ = [
    "check_alpha",
    "check_fusion",
    "check_int",
    "cut",
    "hybrid_args",
    "parse_properties",
    "query_text",
]


def check_alpha(alpha: object) -> float:
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float))
        or not (0.0 <= float(alpha) <= 1.0)
    ):
        raise ConfigError(
            f"alpha must be a number within [0, 1] (0 = keyword only, 1 = vector only), got {alpha!r}"
        )
    return float(alpha)


def check_fusion(fusion_type: object) -> HybridFusion:
    try:
        return HybridFusion(fusion_type)
    except ValueError:
        raise ConfigError(
            f"unknown fusion_type {fusion_type!r}; use HybridFusion.RELATIVE_SCORE, "
            "HybridFusion.RANKED or HybridFusion.ADAPTIVE"
        ) from None


def parse_properties(
    query_properties: Sequence[str] | None, config: CollectionConfig
) -> list[tuple[str, float]]:
    if query_properties is None:
        return [
            (p.name, 1.0) for p in config.properties if p.data_type.is_text and p.index_searchable
        ]
    if isinstance(query_properties, str):
        query_properties = [query_properties]
    out: list[tuple[str, float]] = []
    for item in query_properties:
        name, _, boost_text = str(item).partition("^")
        boost = 1.0
        if boost_text:
            try:
                boost = float(boost_text)
            except ValueError:
                raise ConfigError(
                    f"query_properties: bad boost in {item!r}; write e.g. 'title^2'"
                ) from None
            if not np.isfinite(boost) or boost < 0:
                raise ConfigError(
                    f"query_properties: boost in {item!r} must be a finite number >= 0"
                )
        prop = config.property(name)
        if prop is None or not prop.data_type.is_text:
            known = [p.name for p in config.properties if p.data_type.is_text]
            raise ConfigError(
                f"query_properties: {name!r} is not a text property of {config.name!r}; text properties: {known}"
            )
        out.append((name, boost))
    return out


def cut(scores: Sequence[float], auto_limit: int | None) -> int:
    if auto_limit is None or not scores:
        return len(scores)
    return int(autocut(np.asarray(scores, dtype=np.float64), auto_limit))


def query_text(query: object) -> str:
    if isinstance(query, str):
        return query
    if isinstance(query, (list, tuple)) and all(isinstance(q, str) for q in query):
        return " ".join(query)
    raise ConfigError(f"the query must be a str, got {type(query).__name__}")


def hybrid_args(
    alpha: object, fusion_type: object, limit: int, offset: int, auto_limit: int | None
) -> tuple[float, HybridFusion]:
    a = check_alpha(alpha)
    fusion = check_fusion(fusion_type)
    check_int("limit", limit, 1)
    check_int("offset", offset, 0)
    if auto_limit is not None:
        check_int("auto_limit", auto_limit, 1)
        if fusion is HybridFusion.RANKED:
            raise ConfigError(
                "auto_limit is not supported with fusion_type=HybridFusion.RANKED; use "
                "HybridFusion.RELATIVE_SCORE or HybridFusion.ADAPTIVE"
            )
    return a, fusion
