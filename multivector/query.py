"""The query vocabulary, shaped like ``weaviate.classes.query`` (public import path).

Defined in :mod:`multivector.schema.query`; this module keeps the documented
``multivector.query`` names.
"""

from multivector.schema.aggregation import Metrics
from multivector.schema.grouping import GroupBy, GroupByAggregate
from multivector.schema.query import (
    BM25Operator,
    BM25OperatorSpec,
    Filter,
    FilterGroup,
    FilterLeaf,
    FilterNode,
    FilterOperator,
    HybridFusion,
    MetadataQuery,
)

__all__ = [
    "BM25Operator",
    "BM25OperatorSpec",
    "Filter",
    "FilterGroup",
    "FilterLeaf",
    "FilterNode",
    "FilterOperator",
    "GroupBy",
    "GroupByAggregate",
    "HybridFusion",
    "MetadataQuery",
    "Metrics",
]
