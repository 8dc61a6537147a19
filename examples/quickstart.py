"""Quickstart: MaxSim, BM25 and hybrid search over 239 Wikipedia passages, fully offline.

    python examples/quickstart.py             # builds examples/.quickstart-store on the first run
    python examples/quickstart.py --in-memory # nothing written to disk
    python examples/quickstart.py "Why is the sea salty?"

The first run embeds every passage with the offline MiniLM token embedder (a progress bar shows
the import) and stores the collection on disk; later runs reuse it and only answer the queries.
The passages come from English Wikipedia (CC BY-SA 4.0); see examples/data/ATTRIBUTION.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import multivector
from multivector import Collection, Configure, DataType, Property, generate_uuid5
from multivector.embeddings.minilm import MiniLMTokenEmbedder

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "wiki_passages.jsonl"
DEFAULT_STORE = HERE / ".quickstart-store"
COLLECTION = "WikiPassages"
VECTOR = "tokens"
QUERIES = [
    "How did the Moon form?",
    "Why is the sea salty?",
    "What is the Sun made of?",
]


def load_passages(limit: int | None = None) -> list[dict[str, Any]]:
    """The bundled passages (id, title, section, text), the first ``limit`` when given."""
    with DATA.open(encoding="utf-8") as fh:
        passages = [json.loads(line) for line in fh if line.strip()]
    return passages[:limit] if limit is not None else passages


def open_collection(
    client: multivector.Client,
    passages: Sequence[dict[str, Any]],
    *,
    embedder: MiniLMTokenEmbedder | None = None,
    show_progress: bool = True,
    log: Callable[[str], None] = print,
) -> Collection:
    """Create the collection and import ``passages``, or reuse it (importing only what is missing)."""
    embedder = embedder or MiniLMTokenEmbedder()
    if client.collections.exists(COLLECTION):
        # Embedders are objects, not configuration: hand ours over again when reopening.
        collection = client.collections.use(COLLECTION, embedders={VECTOR: embedder})
    else:
        collection = client.collections.create(
            COLLECTION,
            vector_config=[
                Configure.MultiVectors.text2vec(
                    name=VECTOR, embedder=embedder, source_properties=["text"]
                )
            ],
            properties=[
                Property(name="text", data_type=DataType.TEXT),
                Property(name="title", data_type=DataType.TEXT),
                Property(name="section", data_type=DataType.TEXT, index_searchable=False),
                Property(name="passage_id", data_type=DataType.TEXT, index_searchable=False),
            ],
        )
    missing = [p for p in passages if not collection.data.exists(generate_uuid5(p["id"]))]
    if not missing:
        log(f"Reusing collection {COLLECTION!r} ({len(collection)} passages).")
        return collection
    log(f"Embedding and importing {len(missing)} passages (offline MiniLM token embedder)...")
    start = time.perf_counter()
    with collection.batch.fixed_size(
        batch_size=32, show_progress=show_progress, total=len(missing)
    ) as batch:
        for p in missing:
            batch.add_object(
                properties={
                    "text": p["text"],
                    "title": p["title"],
                    "section": p["section"],
                    "passage_id": p["id"],
                },
                uuid=generate_uuid5(p["id"]),  # deterministic: a re-run replaces, never duplicates
            )
    if collection.batch.failed_objects:
        failed = collection.batch.failed_objects
        log(f"{len(failed)} passages failed to import; first: {failed[0]}")
    log(f"Imported {len(missing)} passages in {time.perf_counter() - start:.1f} s.")
    return collection


def _snippet(obj: multivector.Object, width: int = 90) -> str:
    where = f"[{obj.properties['title']} > {obj.properties['section']}]"
    return textwrap.shorten(f"{where} {obj.properties['text']}", width=width, placeholder=" ...")


def show_results(
    collection: Collection,
    queries: Sequence[str],
    *,
    limit: int = 3,
    alpha: float = 0.75,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, list[multivector.Object]]]:
    """Run near_text, bm25 and hybrid for each query and print the hits; returns them by query."""
    found: dict[str, dict[str, list[multivector.Object]]] = {}
    for query in queries:
        log("")
        log(f"=== {query}")
        runs = {
            "near_text": collection.query.near_text(query, limit=limit),
            "bm25": collection.query.bm25(query, limit=limit),
            "hybrid": collection.query.hybrid(query, alpha=alpha, limit=limit),
        }
        found[query] = {name: res.objects for name, res in runs.items()}
        log("--- near_text (MaxSim over token vectors; distance = -MaxSim)")
        for i, obj in enumerate(runs["near_text"].objects, 1):
            log(f"{i}. distance={obj.metadata.distance:8.3f}  {_snippet(obj)}")
        log("--- bm25 (keyword; title and text)")
        for i, obj in enumerate(runs["bm25"].objects, 1):
            log(f"{i}. score={obj.metadata.score:8.3f}  {_snippet(obj)}")
        log(f"--- hybrid (alpha={alpha}: {alpha:g} MaxSim + {1 - alpha:g} BM25, relative_score)")
        for i, obj in enumerate(runs["hybrid"].objects, 1):
            log(f"{i}. score={obj.metadata.score:8.3f}  {_snippet(obj)}")
            log(f"   explain_score: {obj.metadata.explain_score}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("queries", nargs="*", help=f"queries to run (default: {QUERIES})")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help="store folder")
    parser.add_argument("--in-memory", action="store_true", help="do not write a store to disk")
    parser.add_argument("--limit", type=int, default=None, help="import only the first N passages")
    args = parser.parse_args(argv)

    passages = load_passages(args.limit)
    client = multivector.connect() if args.in_memory else multivector.connect(args.store)
    with client:
        collection = open_collection(client, passages, show_progress=True)
        show_results(collection, args.queries or QUERIES)
    print()
    print("Passages: English Wikipedia, CC BY-SA 4.0 (see examples/data/ATTRIBUTION.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
