"""LlamaIndex RAG over multivector, fully offline: no OpenAI key, no single-vector model.

    python examples/llamaindex_rag.py                          # 24 passages, in memory
    python examples/llamaindex_rag.py --passages 60 "Why is the sea salty?"
    python examples/llamaindex_rag.py --path /tmp/rag-store    # durable; later runs reuse it

Wikipedia passages (examples/data, CC BY-SA 4.0) become LlamaIndex Documents, stored in a
MultiVectorStore that embeds them with the offline MiniLM token embedder (per-token vectors,
MaxSim). A MultiVectorRetriever (hybrid: MaxSim + BM25) feeds a query engine whose LLM is
LlamaIndex's MockLLM, which echoes its prompt, so the "answer" shows exactly the context a real
LLM would get. Swap in any LlamaIndex LLM for real answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from llama_index.core import Document
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from multivector.embeddings.minilm import MiniLMTokenEmbedder
from multivector.integrations.llama_index import (
    MultiVectorNodeWithScore,
    MultiVectorRetriever,
    MultiVectorStore,
    build_index,
)

DATA = Path(__file__).resolve().parent / "data" / "wiki_passages.jsonl"
QUESTIONS = ["Why is the sea salty?", "What is the Moon made of?"]


#: Used when examples/data is not there (e.g. the example was copied on its own).
FALLBACK = [
    {
        "id": "f1",
        "title": "Sea",
        "section": "Salinity",
        "text": "Sea water is salty because "
        "rivers carry dissolved mineral salts from rocks into the ocean, where they accumulate.",
    },
    {
        "id": "f2",
        "title": "Moon",
        "section": "Composition",
        "text": "The Moon has a crust of "
        "anorthosite rock, a rocky mantle and a small iron-rich core.",
    },
    {
        "id": "f3",
        "title": "Sun",
        "section": "Overview",
        "text": "The Sun is the star at the "
        "centre of the Solar System, a nearly perfect ball of hot plasma.",
    },
    {
        "id": "f4",
        "title": "Water",
        "section": "Properties",
        "text": "Water boils at 100 degrees Celsius at sea level and freezes at 0 degrees Celsius.",
    },
    {
        "id": "f5",
        "title": "Atom",
        "section": "Structure",
        "text": "An atom has a nucleus of protons and neutrons surrounded by a cloud of electrons.",
    },
    {
        "id": "f6",
        "title": "Earth",
        "section": "Tides",
        "text": "The gravity of the Moon raises tides in the Earth's oceans twice a day.",
    },
]


def load_documents(n: int) -> list[Document]:
    """``n`` passages spread over the whole file, as LlamaIndex Documents."""
    rows: list[dict[str, Any]] = (
        [json.loads(line) for line in DATA.read_text("utf-8").splitlines()]
        if DATA.exists()
        else FALLBACK
    )
    step = max(1, len(rows) // max(n, 1))
    picked = rows[::step][:n]
    return [
        Document(
            id_=row["id"],
            text=row["text"],
            metadata={"title": row["title"], "section": row["section"]},
        )
        for row in picked
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="*", default=QUESTIONS)
    parser.add_argument("--passages", type=int, default=24, help="how many passages to index")
    parser.add_argument("--path", type=Path, default=None, help="durable store folder")
    parser.add_argument("--alpha", type=float, default=0.5, help="1 = MaxSim only, 0 = BM25 only")
    parser.add_argument("--top-k", type=int, default=3)
    args = parser.parse_args(argv)

    store = MultiVectorStore.create(path=args.path, embedder=MiniLMTokenEmbedder())
    try:
        if len(store.collection) == 0:
            print(f"indexing {args.passages} passages with the offline MiniLM token embedder ...")
            build_index(store, load_documents(args.passages))  # no embedding model needed
        else:
            print(f"reusing {len(store.collection)} stored nodes at {args.path}")
        retriever = MultiVectorRetriever(
            vector_store=store, mode="hybrid", alpha=args.alpha, similarity_top_k=args.top_k
        )
        engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
        for question in args.questions:
            response = engine.query(question)
            print(f"\n=== {question}")
            for hit in response.source_nodes:
                meta = hit.node.metadata
                print(f"  score {hit.get_score():.3f}  {meta['title']} > {meta['section']}")
                if isinstance(hit, MultiVectorNodeWithScore) and hit.explanation is not None:
                    print(f"    {hit.explanation}")
            answer = textwrap.shorten(str(response), width=300, placeholder=" ...")
            print(f"  answer (MockLLM echoes its prompt): {answer}")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
