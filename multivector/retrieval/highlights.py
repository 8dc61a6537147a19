"""Late-interaction highlights: for each query token, the document token that matched it best.

MaxSim already picks, for query token ``i``, the document token ``argmax_j q_i . d_j``; a
highlight reports that token and, when the space's embedder knows its tokenizer
(:class:`~multivector._types.TokenOffsetsEmbedder`, e.g. the offline MiniLM embedder), its
character span in the hit's source property. The hit's source text is re-tokenised (no model
forward pass); a stored matrix whose row count differs from the tokenizer's (a matrix the user
provided, another truncation) gets token indices only, never wrong spans.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from multivector._types import F32Array, TokenOffsetsEmbedder
from multivector.backends.protocol import Hit
from multivector.results import TokenHighlight
from multivector.schema.config import CollectionConfig, VectorConfig
from multivector.text.source import SourcePart, locate, source_parts

__all__ = ["attach_highlights", "best_matches"]

Offsets = npt.NDArray[np.int64]


def best_matches(query: F32Array, doc: F32Array) -> tuple[npt.NDArray[np.int64], F32Array]:
    """Per query row: the index of the document row with the largest dot product, and that
    product (first index on ties). ``doc`` must have at least one row.
    """
    sims = np.asarray(query, dtype=np.float32) @ np.asarray(doc, dtype=np.float32).T
    best = np.argmax(sims, axis=1).astype(np.int64)
    return best, sims[np.arange(sims.shape[0]), best]


def _span(offsets: Offsets | None, row: int) -> tuple[int, int] | None:
    if offsets is None:
        return None
    start, end = int(offsets[row, 0]), int(offsets[row, 1])
    return (start, end) if end > start else None


def _highlights(
    query: F32Array,
    doc: F32Array,
    doc_offsets: Offsets | None,
    parts: Sequence[SourcePart],
    query_text: str | None,
    query_offsets: Offsets | None,
) -> tuple[TokenHighlight, ...]:
    best, scores = best_matches(query, doc)
    out = []
    for i, (j, score) in enumerate(zip(best.tolist(), scores.tolist())):
        q_span = _span(query_offsets, i)
        q_text = query_text[q_span[0] : q_span[1]] if q_span and query_text is not None else None
        found = None
        span = _span(doc_offsets, j)
        if span is not None:
            found = locate(parts, *span)
        if found is None:
            out.append(TokenHighlight(i, j, float(score), query_text=q_text))
            continue
        part, start, end = found
        out.append(
            TokenHighlight(
                i,
                j,
                float(score),
                start=start,
                end=end,
                text=part.value[start:end],
                property=part.property,
                element=part.element,
                query_text=q_text,
            )
        )
    return tuple(out)


def _rows_match(offsets: Offsets | None, rows: int) -> Offsets | None:
    return offsets if offsets is not None and offsets.shape[0] == rows else None


def attach_highlights(
    hits: Sequence[Hit],
    *,
    space: VectorConfig,
    config: CollectionConfig,
    query: F32Array,
    query_text: str | None,
) -> list[Hit]:
    """``hits`` (with objects and their vectors attached) with their highlights in ``space``;
    a hit without a matrix in that space gets an empty tuple.
    """
    embedder = space.embedder if isinstance(space.embedder, TokenOffsetsEmbedder) else None
    texts: list[str] = []
    layouts: list[list[SourcePart]] = []
    for hit in hits:
        text, parts = source_parts(hit.obj.properties if hit.obj else {}, space, config)
        texts.append(text)
        layouts.append(parts)
    doc_offsets: list[Offsets | None] = [None] * len(hits)
    query_offsets = None
    if embedder is not None:
        if hits:
            doc_offsets = list(embedder.token_offsets(texts))
        if query_text is not None:
            query_offsets = _rows_match(embedder.token_offsets([query_text])[0], query.shape[0])
    out = []
    for hit, offsets, parts in zip(hits, doc_offsets, layouts):
        doc = hit.obj.vectors.get(space.name) if hit.obj is not None else None
        if doc is None or doc.shape[0] == 0:
            out.append(hit._replace(highlights=()))
            continue
        found = _highlights(
            query,
            doc,
            _rows_match(offsets, doc.shape[0]),
            parts,
            query_text,
            query_offsets,
        )
        out.append(hit._replace(highlights=found))
    return out
