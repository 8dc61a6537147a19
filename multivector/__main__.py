r"""``python -m multivector evaluate``: build (or reuse) a collection from a corpus and print metrics.

::

    python -m multivector evaluate path/to/wiki-dev            # corpus.jsonl, queries.jsonl, qrels.tsv
    python -m multivector evaluate --corpus c.jsonl --queries q.jsonl --qrels qrels.tsv \
        --k 10 --alphas 0.25,0.5,0.75 --limit-docs 200 --store ./eval-store

Documents are embedded with the offline :class:`~multivector.embeddings.MiniLMTokenEmbedder`
(``text`` only) and BM25 indexes ``text`` only (``--bm25 text,title^2`` searches more fields with
boosts, ``--tokenization word_stem_en`` stems them); ``--store PATH`` keeps the collection on disk
so a second run skips the import. ``--limit-docs N`` keeps the first N documents and the queries
whose relevant documents are among them (judgments outside the slice are dropped). The table
gives each configuration's 95% bootstrap interval and its paired difference to ``--reference``
(Weaviate's default, relative_score at alpha 0.75), per query group too for ``adaptive``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from multivector.api.verify_command import add_verify_parser, run_verify
from multivector.errors import MultiVectorError

__all__ = ["main"]

#: The configuration every other one is compared with: Weaviate's default hybrid.
REFERENCE = "hybrid relative_score alpha=0.75"


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.25,0.5,0.75, got {text!r}"
        ) from None


def _words(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="multivector", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser(
        "evaluate",
        help="nDCG@k, recall@k and MRR@k of vector, keyword and hybrid search on a labelled set",
        description="Evaluate vector, keyword and hybrid search on a labelled set.",
    )
    ev.add_argument(
        "dataset", nargs="?", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels.tsv"
    )
    ev.add_argument("--corpus", type=Path, help="corpus.jsonl (id, text, any other fields)")
    ev.add_argument("--queries", type=Path, help="queries.jsonl (id, text, optional group field)")
    ev.add_argument("--qrels", type=Path, help="qrels.tsv (query_id, doc_id, relevance)")
    ev.add_argument("--k", type=int, default=10, help="rank cut-off (default 10)")
    ev.add_argument(
        "--alphas", type=_floats, default=None, help="hybrid alphas, e.g. 0.25,0.5,0.75"
    )
    ev.add_argument(
        "--fusions",
        type=_words,
        default=None,
        help="hybrid fusion types (default relative_score,ranked,adaptive)",
    )
    ev.add_argument(
        "--bm25",
        type=_words,
        default=None,
        help="fields BM25 searches, with boosts (default text; e.g. text,title^2)",
    )
    ev.add_argument(
        "--tokenization",
        default="word",
        help="tokenization of the BM25 fields (word, or word_stem_en for Snowball stemming)",
    )
    ev.add_argument(
        "--bootstrap",
        type=int,
        default=2000,
        help="bootstrap resamples for the intervals (0: no intervals)",
    )
    ev.add_argument(
        "--reference",
        default=REFERENCE,
        help=f"configuration the others are compared with (default {REFERENCE!r})",
    )
    ev.add_argument(
        "--modes", type=_words, default=None, help="default vector,keyword,hybrid (mmr also works)"
    )
    ev.add_argument("--group-field", default="type", help="query field that groups results")
    ev.add_argument("--limit-docs", type=int, default=None, help="use the first N documents only")
    ev.add_argument("--store", type=Path, default=None, help="durable store folder (reused)")
    ev.add_argument("--collection", default="Evaluation", help="collection name in the store")
    ev.add_argument("--batch-size", type=int, default=64, help="import batch size")
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_verify_parser(sub)
    return parser


def _paths(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    found: list[Path] = []
    for name, default in (
        ("corpus", "corpus.jsonl"),
        ("queries", "queries.jsonl"),
        ("qrels", "qrels.tsv"),
    ):
        given = getattr(args, name)
        if given is None:
            if args.dataset is None:
                raise MultiVectorError(
                    f"no --{name} given; pass --{name} PATH or a dataset folder holding {default}"
                )
            given = args.dataset / default
        if not given.is_file():
            raise MultiVectorError(f"--{name}: {str(given)!r} is not a file")
        found.append(given)
    return found[0], found[1], found[2]


def _build(args: argparse.Namespace, client: Any, docs: list[dict[str, Any]]) -> tuple[Any, int]:
    """The collection holding ``docs`` (created or reused) and how many documents were imported."""
    from multivector import generate_uuid5
    from multivector.embeddings.minilm import MiniLMTokenEmbedder
    from multivector.schema.config import DataType, Property
    from multivector.schema.configure import Configure

    embedder = MiniLMTokenEmbedder()
    show = not args.quiet and sys.stderr.isatty()
    searchable = {"text", *(field.partition("^")[0] for field in args.bm25 or ())}
    tok = _tokenization(args.tokenization)
    if client.collections.exists(args.collection):
        col = client.collections.use(args.collection, embedders={"tokens": embedder})
        _check_analysis(col.config, searchable, tok, args.collection)
    else:
        extra = sorted({key for d in docs for key in d} - {"id", "text"})
        col = client.collections.create(
            args.collection,
            vector_config=[
                Configure.MultiVectors.text2vec(
                    name="tokens", embedder=embedder, source_properties=["text"]
                )
            ],
            properties=[
                Property(name="text", data_type=DataType.TEXT, tokenization=tok),
                Property(name="doc_id", data_type=DataType.TEXT, index_searchable=False),
                *[
                    Property(
                        name=key,
                        data_type=DataType.TEXT,
                        tokenization=tok,
                        index_searchable=key in searchable,
                    )
                    for key in extra
                    if all(isinstance(d.get(key, ""), str) for d in docs)
                ],
            ],
        )
    wanted = {generate_uuid5(d["id"]): d for d in docs}
    missing = [u for u in wanted if not col.data.exists(u)]
    if len(col) - (len(wanted) - len(missing)) > 0:
        raise MultiVectorError(
            f"collection {args.collection!r} holds {len(col)} objects, more than the "
            f"{len(wanted)} documents asked for; use another --collection or --store"
        )
    if missing:
        with col.batch.fixed_size(
            batch_size=args.batch_size, show_progress=show, total=len(missing)
        ) as batch:
            for uid in missing:
                doc = wanted[uid]
                props = {key: value for key, value in doc.items() if key != "id"}
                batch.add_object(properties={**props, "doc_id": doc["id"]}, uuid=uid)
        failed = col.batch.failed_objects
        if failed:
            raise MultiVectorError(f"{len(failed)} documents failed to import; first: {failed[0]}")
    return col, len(missing)


def _tokenization(name: str) -> Any:
    from multivector.schema.config import Tokenization

    try:
        return Tokenization(name)
    except ValueError:
        raise MultiVectorError(
            f"--tokenization {name!r} is unknown; use one of {[t.value for t in Tokenization]}"
        ) from None


def _check_analysis(config: Any, searchable: set[str], tok: Any, name: str) -> None:
    """A reused collection must index the asked BM25 fields with the asked tokenization."""
    for field in sorted(searchable):
        prop = config.property(field)
        if prop is None or not prop.index_searchable or prop.tokenization is not tok:
            raise MultiVectorError(
                f"collection {name!r} does not index {field!r} for BM25 with tokenization "
                f"{tok.value!r}; use another --collection (or --store) for this analysis"
            )


def _evaluate(args: argparse.Namespace) -> int:
    import multivector
    from multivector.evaluation.run import (
        ALL_FUSIONS,
        DEFAULT_ALPHAS,
        DEFAULT_MODES,
        evaluate,
        load_corpus,
        load_qrels,
        load_queries,
    )

    if args.bootstrap < 0:
        raise MultiVectorError(f"--bootstrap must be >= 0 (0: no intervals), got {args.bootstrap}")
    corpus_path, queries_path, qrels_path = _paths(args)
    docs = load_corpus(corpus_path)
    queries = load_queries(queries_path, group_field=args.group_field or None)
    qrels = load_qrels(qrels_path)
    if args.limit_docs is not None:
        if args.limit_docs < 1:
            raise MultiVectorError(f"--limit-docs must be >= 1, got {args.limit_docs}")
        docs = docs[: args.limit_docs]
        kept = {d["id"] for d in docs}
        qrels = {
            q: {d: g for d, g in judged.items() if d in kept and g > 0}
            for q, judged in qrels.items()
        }
        qrels = {q: judged for q, judged in qrels.items() if judged}
        queries = [q for q in queries if q.id in qrels]
    client = multivector.connect(args.store) if args.store is not None else multivector.connect()
    with client:
        col, imported = _build(args, client, docs)
        report = evaluate(
            col,
            queries,
            qrels,
            k=args.k,
            modes=args.modes or DEFAULT_MODES,
            alphas=args.alphas or DEFAULT_ALPHAS,
            fusion_types=args.fusions or ALL_FUSIONS,
            id_property="doc_id",
            query_properties=args.bm25,
            show_progress=not args.quiet and sys.stderr.isatty(),
        )
    labels = [r.config.label for r in report.results]
    reference = args.reference if args.reference in labels else None
    comparisons = [
        report.compare(label, reference, n_resamples=max(args.bootstrap, 1))
        for label in labels
        if reference is not None and args.bootstrap > 0 and label != reference
        if label.startswith("hybrid adaptive") or label in ("vector", "keyword")
    ]
    if args.json:
        data = report.to_dict()
        data["comparisons"] = [
            {
                "candidate": c.candidate,
                "reference": c.reference,
                "diff": c.overall.mean,
                "low": c.overall.low,
                "high": c.overall.high,
                "groups": c.groups,
            }
            for c in comparisons
        ]
        print(json.dumps(data, indent=2))
    else:
        print(
            f"{len(docs)} documents ({imported} imported now), {report.n_queries} queries, k={args.k}"
        )
        print(
            report.format_table(
                intervals=args.bootstrap > 0,
                reference=reference,
                n_resamples=max(args.bootstrap, 1),
            )
        )
        for comparison in comparisons:
            print(comparison)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m multivector`` and the ``multivector`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "verify":
            return run_verify(args)
    except MultiVectorError as exc:
        print(f"multivector {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
