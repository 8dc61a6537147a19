"""Evaluation on a labelled retrieval set (BEIR layout): nDCG@10, recall, MRR per configuration."""

from multivector.evaluation.run import (
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
    "DEFAULT_ALPHAS",
    "ConfigResult",
    "EvalQuery",
    "EvaluationReport",
    "Metrics",
    "SearchConfig",
    "evaluate",
    "load_corpus",
    "load_qrels",
    "load_queries",
    "search_configs",
]
