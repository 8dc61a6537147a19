"""Test helpers that ship with multivector: a local stand-in for Jina AI's multi-vector API.

Examples and tests point :class:`~multivector.embeddings.JinaEmbeddings` at
:class:`JinaStandIn` when no ``JINA_API_KEY`` is set; it needs no network beyond 127.0.0.1.
"""

from __future__ import annotations

from multivector.testing.jina_server import Fault, JinaStandIn, RecordedRequest, standin_matrix

__all__ = ["Fault", "JinaStandIn", "RecordedRequest", "standin_matrix"]
