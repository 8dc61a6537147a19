"""Evaluation on a labelled retrieval set (BEIR layout): nDCG@10, recall, MRR per configuration."""

from multivector.evaluation.bootstrap import (
    Comparison,
    Interval,
    bootstrap_mean,
    paired_difference,
)
from multivector.evaluation.run import (
    ALL_FUSIONS,
    DEFAULT_ALPHAS,
    ConfigResult,
    EvalQuery,
    EvaluationReport,
    Metrics,
    SearchConfig,
    evaluate,
    load_corpus,
    load_qrels,
    load_queries,
    search_configs,
)

__all__ = [
    "ALL_FUSIONS",
    "DEFAULT_ALPHAS",
    "Comparison",
    "ConfigResult",
    "EvalQuery",
    "EvaluationReport",
    "Interval",
    "Metrics",
    "SearchConfig",
    "bootstrap_mean",
    "evaluate",
    "load_corpus",
    "load_qrels",
    "load_queries",
    "paired_difference",
    "search_configs",
]
