"""multivector as a LangChain agent tool, offline: no network, no API key.

A MultiVectorStore holds a few notes embedded per token by a small deterministic multi-vector
embedder (swap in ``multivector.embeddings.JinaEmbeddings`` or ``MiniLMTokenEmbedder`` for real
use). A hybrid MultiVectorRetriever (MaxSim + BM25) becomes a tool with ``create_retriever_tool``,
and ``langchain.agents.create_agent`` runs it with a scripted fake chat model that first calls the
tool and then answers. Run: ``python examples/langchain_agent_tool.py``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import create_retriever_tool

import multivector
from multivector.integrations.langchain import MultiVectorRetriever, MultiVectorStore

NOTES = [
    ("Late interaction keeps one vector per token and scores with MaxSim.", {"topic": "dense"}),
    ("BM25 ranks documents by term frequency and inverse document frequency.", {"topic": "sparse"}),
    (
        "Hybrid search fuses the MaxSim leg and the BM25 leg with a weight alpha.",
        {"topic": "hybrid"},
    ),
    ("Qdrant runs the same collections when one machine is not enough.", {"topic": "scale"}),
]


class HashedTokenEmbedder:
    """One deterministic unit vector per word: a stand-in for a ColBERT-style model."""

    dim = 32

    def _matrix(self, text: str) -> np.ndarray:
        rows = []
        for word in re.findall(r"\w+", text.lower()) or ["<empty>"]:
            v = np.random.default_rng(zlib.crc32(word.encode())).normal(size=self.dim)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self._matrix(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        return self._matrix(text)


class ToolCallingFakeChatModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts tools (it replays scripted messages, tool calls included)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFakeChatModel:
        return self


def main() -> None:
    client = multivector.connect()
    store = MultiVectorStore.from_texts(
        [text for text, _ in NOTES],
        HashedTokenEmbedder(),
        metadatas=[meta for _, meta in NOTES],
        collection_name="Notes",
        client=client,
    )
    retriever = MultiVectorRetriever(vectorstore=store, search_type="hybrid", k=2, alpha=0.5)
    tool = create_retriever_tool(
        retriever, "search_notes", "Search the team's notes on retrieval techniques."
    )
    model = ToolCallingFakeChatModel(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": "search_notes",
                            "args": {"query": "late interaction"},
                            "id": "call-1",
                        }
                    ],
                ),
                AIMessage(content="Late interaction scores each query token with MaxSim."),
            ]
        )
    )
    agent = create_agent(model, tools=[tool], system_prompt="Answer from the notes.")
    result = agent.invoke({"messages": [("user", "What is late interaction?")]})
    for message in result["messages"]:
        if isinstance(message, ToolMessage):
            print("tool result:", message.content.replace("\n\n", " | "))
    print("final answer:", result["messages"][-1].content)
    client.close()


if __name__ == "__main__":
    main()
