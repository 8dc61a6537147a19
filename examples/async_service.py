"""An offline async service: per-user hybrid search over tenants (no network, no API key).

Each user's notes live in their own tenant of one multi-tenant collection, so one user's
documents never appear in another's results and deleting a user deletes their data. Queries from
many users run concurrently on one event loop; blocking work (the MaxSim kernel, SQLite) runs in
the client's bounded thread pool, embedding in a worker thread (the offline MiniLM model).

    python examples/async_service.py            # in memory
    python examples/async_service.py ./store    # durable, in ./store

The same ``answer`` coroutine fits a FastAPI handler: ``return await service.answer(user, q)``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import multivector
from multivector.config import Configure, DataType, Property
from multivector.embeddings.minilm import MiniLMTokenEmbedder
from multivector.query import GroupBy

NOTES: dict[str, list[tuple[str, str]]] = {
    "user-ada": [
        ("engines", "The analytical engine could be programmed with punched cards."),
        ("engines", "Babbage designed the difference engine to tabulate polynomials."),
        ("poetry", "Poetical science joins imagination with mathematics."),
    ],
    "user-alan": [
        ("machines", "A universal machine can simulate any other Turing machine."),
        ("codes", "The bombe helped break the Enigma cipher during the war."),
        ("machines", "The imitation game asks whether machines can think."),
    ],
    "user-grace": [
        ("compilers", "The first compiler translated mathematical notation into machine code."),
        ("bugs", "A moth found in a relay became the first computer bug."),
        ("compilers", "COBOL was designed to read like English business prose."),
    ],
}


class NotesService:
    """Per-user notes: ``add`` for a user, ``answer`` a user's question (hybrid, their notes only)."""

    def __init__(self, client: multivector.AsyncClient, collection: multivector.AsyncCollection):
        self._client = client
        self._notes = collection

    @classmethod
    async def start(
        cls, path: str | None = None, *, embedder: MiniLMTokenEmbedder | None = None
    ) -> NotesService:
        """Open (or create) the store and the multi-tenant ``Notes`` collection."""
        client = multivector.use_async(path)
        if await client.collections.exists("Notes"):
            return cls(client, client.collections.use("Notes"))
        notes = await client.collections.create(
            "Notes",
            vector_config=[
                Configure.MultiVectors.text2vec(
                    name="text",
                    embedder=embedder or MiniLMTokenEmbedder(),
                    source_properties=["text"],
                )
            ],
            properties=[
                Property(name="text", data_type=DataType.TEXT),
                Property(name="topic", data_type=DataType.TEXT),
            ],
            multi_tenancy_config=Configure.multi_tenancy(enabled=True, auto_tenant_creation=True),
        )
        return cls(client, notes)

    async def add(self, user: str, notes: Sequence[tuple[str, str]]) -> int:
        """Store ``(topic, text)`` notes for ``user`` (their tenant is created on first use)."""
        result = await self._notes.with_tenant(user).data.insert_many(
            [{"topic": topic, "text": text} for topic, text in notes]
        )
        return len(result.uuids)

    async def answer(self, user: str, question: str, *, limit: int = 2) -> list[dict[str, Any]]:
        """The user's best notes for ``question`` (hybrid: MaxSim + BM25), best first."""
        found = await self._notes.with_tenant(user).query.hybrid(question, alpha=0.6, limit=limit)
        return [
            {
                "topic": o.properties["topic"],
                "text": o.properties["text"],
                "score": o.metadata.score,
            }
            for o in found.objects
        ]

    async def by_topic(self, user: str, question: str) -> dict[str, list[str]]:
        """The user's best note per topic (group-by)."""
        found = await self._notes.with_tenant(user).query.hybrid(
            question, group_by=GroupBy(prop="topic", number_of_groups=3, objects_per_group=1)
        )
        return {name: [o.properties["text"] for o in g.objects] for name, g in found.groups.items()}

    async def forget(self, user: str) -> None:
        """Delete a user and all their notes (one durable delete)."""
        await self._notes.tenants.remove(user)

    async def users(self) -> list[str]:
        """Users with notes."""
        return sorted(await self._notes.tenants.get())

    async def close(self) -> None:
        """Close the store and the thread pool."""
        await self._client.close()


async def demo(
    path: str | None = None,
    *,
    embedder: MiniLMTokenEmbedder | None = None,
    notes: Mapping[str, list[tuple[str, str]]] = NOTES,
    log: Callable[[str], None] = print,
) -> dict[str, list[dict[str, Any]]]:
    """Load the notes, answer one question per user concurrently, forget a user."""
    service = await NotesService.start(path, embedder=embedder)
    try:
        await asyncio.gather(*(service.add(user, items) for user, items in notes.items()))
        questions = {
            "user-ada": "how was the engine programmed?",
            "user-alan": "can a machine think?",
            "user-grace": "who found the first bug?",
        }
        answers = await asyncio.gather(*(service.answer(u, q) for u, q in questions.items()))
        out = dict(zip(questions, answers))
        for user, hits in out.items():
            log(f"{user}: {questions[user]}")
            for hit in hits:
                log(f"    [{hit['topic']}] {hit['text']}  ({hit['score']:.3f})")
        log(f"user-ada by topic: {await service.by_topic('user-ada', 'engine')}")
        await service.forget("user-alan")
        log(f"users after forgetting user-alan: {await service.users()}")
        return out
    finally:
        await service.close()


if __name__ == "__main__":
    asyncio.run(demo(sys.argv[1] if len(sys.argv) > 1 else None))
