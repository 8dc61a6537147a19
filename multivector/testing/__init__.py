"""Test helpers that ship with multivector: a local stand-in for Jina AI's multi-vector API.

Examples and tests point :class:`~multivector.embeddings.JinaEmbeddings` at
:class:`JinaStandIn` when no ``JINA_API_KEY`` is set; it needs no network beyond 127.0.0.1.
Run one from a shell with ``python -m multivector.testing.jina_server``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multivector.testing.jina_server import Fault, JinaStandIn, RecordedRequest, standin_matrix

__all__ = ["Fault", "JinaStandIn", "RecordedRequest", "standin_matrix"]


def __getattr__(name: str) -> Any:
    # Lazy, so ``python -m multivector.testing.jina_server`` does not import the module twice.
    if name in __all__:
        from multivector.testing import jina_server

        return getattr(jina_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
