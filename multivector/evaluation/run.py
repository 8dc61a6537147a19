"""Offline retrieval evaluation: nDCG@k, recall@k and MRR@k for each search configuration.

::

    from multivector.evaluation.run import evaluate, load_qrels, load_queries

    report = evaluate(
        collection,
        load_queries("queries.jsonl"),  # {"id", "text", "type"} per line; "type" groups queries
        load_qrels("qrels.tsv"),  # query_id, doc_id, relevance
        id_property="doc_id",  # the property holding the qrels' doc ids (None: the uuid)
    )
    print(report.format_table())

Every configuration runs through :class:`~multivector.retrieval.Retriever` (vector, keyword and
hybrid with each alpha and fusion type), so the numbers describe what applications get. Each
query is embedded once and its matrix reused by every configuration. Relevance is binary (a
grade > 0); queries without any relevant judgment are skipped and listed in the report; see
:mod:`multivector.evaluation.metrics` for the metric definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from multivector._checks import check_int
from multivector._progress import Progress
from multivector.errors import ConfigError
from multivector.evaluation.bootstrap import DEFAULT_RESAMPLES, Comparison, compare
from multivector.evaluation.files import EvalQuery, load_corpus, load_qrels, load_queries
from multivector.evaluation.metrics import Metrics, mean_metrics, score_ranking
from multivector.evaluation.table import render_table
from multivector.retrieval.retriever import RetrievedHit, Retriever, SearchMode
from multivector.schema.query import HybridFusion

if TYPE_CHECKING:
    from multivector.api.collection import Collection

__all__ = [
    "ALL_FUSIONS",
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

#: Every hybrid fusion, Weaviate's two and ours (what the command line compares by default).
ALL_FUSIONS: tuple[HybridFusion, ...] = tuple(HybridFusion)
#: Hybrid alphas tried by default (0 = pure keyword, 1 = pure vector).
DEFAULT_ALPHAS: tuple[float, ...] = (0.25, 0.5, 0.75)
DEFAULT_MODES: tuple[str, ...] = ("vector", "keyword", "hybrid")
DEFAULT_FUSIONS: tuple[HybridFusion, ...] = (HybridFusion.RELATIVE_SCORE, HybridFusion.RANKED)


@dataclass(frozen=True)
class SearchConfig:
    """One search configuration: a mode, plus alpha and fusion for hybrid."""

    mode: SearchMode
    alpha: float | None = None
    fusion_type: HybridFusion | None = None

    @property
    def label(self) -> str:
        """A short name such as ``hybrid relative_score alpha=0.5``."""
        if self.mode is SearchMode.HYBRID:
            return f"hybrid {self.fusion_type} alpha={self.alpha:g}"
        return str(self.mode)

    def overrides(self) -> dict[str, Any]:
        """Keyword overrides for :meth:`Retriever.retrieve`."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.alpha is not None:
            out["alpha"] = self.alpha
        if self.fusion_type is not None:
            out["fusion_type"] = self.fusion_type
        return out


@dataclass(frozen=True)
class ConfigResult:
    """One configuration's metrics: over all queries, per group, and per query id."""

    config: SearchConfig
    metrics: Metrics
    groups: dict[str, Metrics] = field(default_factory=dict)
    per_query: dict[str, Metrics] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EvaluationReport:
    """What :func:`evaluate` measured."""

    k: int
    results: tuple[ConfigResult, ...]
    n_queries: int
    groups: tuple[str, ...] = ()
    skipped_queries: tuple[str, ...] = ()
    #: The group of every evaluated query (None: ungrouped), for per-group comparisons.
    query_groups: dict[str, str | None] = field(default_factory=dict, repr=False)

    def compare(
        self, candidate: str, reference: str, *, n_resamples: int = DEFAULT_RESAMPLES
    ) -> Comparison:
        """The nDCG of configuration ``candidate`` minus ``reference``: the paired bootstrap
        interval over queries, the difference per group, and how many queries each wins.
        """
        return compare(
            (candidate, {q: m.ndcg for q, m in self.result(candidate).per_query.items()}),
            (reference, {q: m.ndcg for q, m in self.result(reference).per_query.items()}),
            self.query_groups,
            n_resamples=n_resamples,
        )

    def result(self, label: str) -> ConfigResult:
        """The result of the configuration called ``label`` (see :attr:`SearchConfig.label`)."""
        for res in self.results:
            if res.config.label == label:
                return res
        raise ConfigError(
            f"no configuration labelled {label!r}; have {[r.config.label for r in self.results]}"
        )

    def best(self, metric: str = "ndcg") -> ConfigResult:
        """The configuration with the highest mean ``metric`` (``ndcg``, ``recall`` or ``mrr``)."""
        if metric not in ("ndcg", "recall", "mrr"):
            raise ConfigError(f"metric must be 'ndcg', 'recall' or 'mrr', got {metric!r}")
        return max(self.results, key=lambda r: float(getattr(r.metrics, metric)))

    def format_table(
        self,
        *,
        intervals: bool = False,
        reference: str | None = None,
        n_resamples: int = DEFAULT_RESAMPLES,
    ) -> str:
        """A plain-text table: one row per configuration, nDCG/recall/MRR and nDCG per group.

        ``intervals=True`` adds each configuration's 95% bootstrap interval of nDCG and, with
        ``reference`` (a configuration label), the paired difference to it with its interval.
        """
        ref = self.result(reference) if reference is not None else None
        lines = render_table(
            self.k,
            self.results,
            self.groups,
            intervals=intervals,
            reference=ref,
            n_resamples=n_resamples,
        )
        sizes = ", ".join(
            f"{g}: {self.results[0].groups[g].n_queries}"
            for g in self.groups
            if self.results and g in self.results[0].groups
        )
        footer = f"{self.n_queries} queries" + (f" ({sizes})" if sizes else "")
        if self.skipped_queries:
            footer += f"; {len(self.skipped_queries)} skipped (no relevant judgment)"
        return "\n".join([*lines, footer])

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (without the per-query scores)."""

        def metrics(m: Metrics) -> dict[str, Any]:
            return {"ndcg": m.ndcg, "recall": m.recall, "mrr": m.mrr, "n_queries": m.n_queries}

        return {
            "k": self.k,
            "n_queries": self.n_queries,
            "groups": list(self.groups),
            "skipped_queries": list(self.skipped_queries),
            "results": [
                {
                    "label": r.config.label,
                    "mode": str(r.config.mode),
                    "alpha": r.config.alpha,
                    "fusion_type": None
                    if r.config.fusion_type is None
                    else str(r.config.fusion_type),
                    **metrics(r.metrics),
                    "groups": {g: metrics(m) for g, m in r.groups.items()},
                }
                for r in self.results
            ],
        }


# ------------------------------------------------------------------ configurations
def search_configs(
    modes: Iterable[str] = DEFAULT_MODES,
    *,
    alphas: Iterable[float] = DEFAULT_ALPHAS,
    fusion_types: Iterable[HybridFusion | str] = DEFAULT_FUSIONS,
) -> tuple[SearchConfig, ...]:
    """Expand modes into configurations: hybrid once per fusion type and alpha."""
    mode_list = [_mode(m) for m in modes]
    if not mode_list:
        raise ConfigError("modes is empty; pass e.g. modes=('vector', 'keyword', 'hybrid')")
    out: list[SearchConfig] = []
    for mode in mode_list:
        if mode is not SearchMode.HYBRID:
            out.append(SearchConfig(mode))
            continue
        fusions = [_fusion(f) for f in fusion_types]
        alpha_list = [_alpha(a) for a in alphas]
        if not fusions or not alpha_list:
            raise ConfigError("hybrid needs at least one alpha and one fusion type")
        out += [SearchConfig(mode, a, f) for f in fusions for a in alpha_list]
    return tuple(dict.fromkeys(out))


def _mode(value: object) -> SearchMode:
    try:
        return SearchMode(value)
    except ValueError:
        raise ConfigError(
            f"unknown mode {value!r}; use one of {[m.value for m in SearchMode]}"
        ) from None


def _fusion(value: object) -> HybridFusion:
    try:
        return HybridFusion(value)
    except ValueError:
        raise ConfigError(
            f"unknown fusion type {value!r}; use 'relative_score', 'ranked' or 'adaptive'"
        ) from None


def _alpha(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"alphas must be numbers within [0, 1], got {value!r}")
    return float(value)


# ------------------------------------------------------------------ evaluation
def evaluate(
    collection: Collection,
    queries: Sequence[EvalQuery] | Mapping[str, str],
    qrels: Mapping[str, Mapping[str, float] | Iterable[str]],
    *,
    k: int = 10,
    modes: Iterable[str] = DEFAULT_MODES,
    alphas: Iterable[float] = DEFAULT_ALPHAS,
    fusion_types: Iterable[HybridFusion | str] = DEFAULT_FUSIONS,
    id_property: str | None = None,
    target_vector: str | None = None,
    query_properties: Sequence[str] | None = None,
    query_vectors: Mapping[str, Any] | None = None,
    show_progress: bool | None = None,
) -> EvaluationReport:
    """Run every configuration for every judged query and average nDCG@k, recall@k and MRR@k.

    Args:
        collection: the collection to search.
        queries: :class:`EvalQuery` items (``group`` gives per-group results) or ``{id: text}``.
        qrels: ``{query_id: {doc_id: grade}}`` (grade > 0 is relevant) or
            ``{query_id: [relevant doc_id, ...]}``.
        k: the rank cut-off (each search fetches ``k`` hits).
        modes: any of ``"vector"``, ``"keyword"``, ``"hybrid"``, ``"mmr"``.
        alphas: hybrid alphas (1 = pure vector, 0 = pure keyword).
        fusion_types: hybrid fusions (``relative_score``, ``ranked``).
        id_property: the property holding the qrels' doc ids; None compares the object uuid.
        target_vector: the vector space to search (needed when there are several).
        query_properties: the properties BM25 searches (default: every searchable text one).
        query_vectors: ``{query_id: matrix}`` for self-provided spaces (no embedder needed).
        show_progress: draw a progress line on stderr (default: when stderr is a terminal).

    """
    check_int("k", k, 1)
    configs = search_configs(modes, alphas=alphas, fusion_types=fusion_types)
    judged = _relevant_sets(qrels)
    all_queries = _as_queries(queries)
    run = [q for q in all_queries if judged.get(q.id)]
    skipped = tuple(q.id for q in all_queries if not judged.get(q.id))
    if not run:
        raise ConfigError(
            f"none of the {len(all_queries)} queries has a relevant document in qrels; check "
            "that query ids match the qrels' first column"
        )
    retriever = Retriever(
        collection,
        limit=k,
        target_vector=target_vector,
        query_properties=tuple(query_properties) if query_properties is not None else None,
    )
    settings = [retriever.with_settings(**c.overrides()) for c in configs]
    uses_matrix = [retriever.needs_vector(s) for s in settings]
    scores: list[dict[str, Metrics]] = [{} for _ in configs]
    progress = Progress(desc="Evaluating", unit="queries", total=len(run), enabled=show_progress)
    try:
        for query in run:
            matrix = None
            if any(uses_matrix):
                given = None if query_vectors is None else query_vectors.get(query.id)
                matrix = (
                    np.asarray(given, dtype=np.float32)
                    if given is not None
                    else retriever.embed_query(query.text)
                )
            relevant = judged[query.id]
            for i, (s, use) in enumerate(zip(settings, uses_matrix)):
                hits = retriever.search(query.text, matrix if use else None, s)
                ranking = [_doc_id(hit, id_property) for hit in hits]
                scores[i][query.id] = score_ranking(ranking, relevant, k)
            progress.update(1)
    finally:
        progress.close()
    groups = tuple(sorted({q.group for q in run if q.group is not None}))
    results = []
    for config, per_query in zip(configs, scores):
        by_group = {g: mean_metrics([per_query[q.id] for q in run if q.group == g]) for g in groups}
        results.append(
            ConfigResult(config, mean_metrics(list(per_query.values())), by_group, per_query)
        )
    return EvaluationReport(
        k=k,
        results=tuple(results),
        n_queries=len(run),
        groups=groups,
        skipped_queries=skipped,
        query_groups={q.id: q.group for q in run},
    )


def _doc_id(hit: RetrievedHit, id_property: str | None) -> str:
    if id_property is None:
        return hit.uuid
    value = hit.properties.get(id_property)
    if value is None:
        raise ConfigError(
            f"object {hit.uuid} has no property {id_property!r}; pass the property that holds "
            "the qrels' doc ids as id_property=..., or id_property=None to compare uuids"
        )
    return str(value)


def _relevant_sets(
    qrels: Mapping[str, Mapping[str, float] | Iterable[str]],
) -> dict[str, frozenset[str]]:
    if not isinstance(qrels, Mapping):
        raise ConfigError(
            f"qrels must be a mapping {{query_id: {{doc_id: grade}}}}, got {type(qrels).__name__}"
        )
    out: dict[str, frozenset[str]] = {}
    for qid, judged in qrels.items():
        if isinstance(judged, Mapping):
            out[str(qid)] = frozenset(str(d) for d, grade in judged.items() if float(grade) > 0)
        elif isinstance(judged, (str, bytes)):
            raise ConfigError(
                f"qrels[{qid!r}] is a string; give a list of relevant doc ids or {{doc_id: grade}}"
            )
        else:
            out[str(qid)] = frozenset(str(d) for d in judged)
    return out


def _as_queries(queries: Sequence[EvalQuery] | Mapping[str, str]) -> list[EvalQuery]:
    if isinstance(queries, Mapping):
        return [EvalQuery(str(qid), str(text)) for qid, text in queries.items()]
    out = []
    for i, q in enumerate(queries):
        if not isinstance(q, EvalQuery):
            raise ConfigError(
                f"queries[{i}] is a {type(q).__name__}; pass EvalQuery(id, text, group) items "
                "or a {query_id: text} mapping"
            )
        out.append(q)
    ids = [q.id for q in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ConfigError(f"query id {dup!r} appears more than once; query ids must be unique")
    return out


# ------------------------------------------------------------------ files
