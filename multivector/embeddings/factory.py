"""Built-in embedders rebuilt from a vector space's stored configuration.

A ``text2vec_jinaai`` space stores its model, dimensions and base URL, never the key: the key
comes from the headers given to ``connect(headers=...)`` (or ``JINA_API_KEY``). ``connect()``
hands :class:`EmbedderFactory` to the client, so the store never imports a provider itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from multivector._types import MultiVectorEmbedder
from multivector.schema.config import VectorConfig

__all__ = ["JINA_HEADER", "EmbedderFactory"]

#: The header the seed passes to ``connect`` to carry the Jina key.
JINA_HEADER = "X-JinaAI-Api-Key"


class EmbedderFactory:
    """Builds the embedder of a space whose vectorizer is built in (None for the others)."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        self.__key = lowered.get(JINA_HEADER.lower())
        self.header_names = sorted(lowered)

    def __repr__(self) -> str:
        return f"<EmbedderFactory headers={self.header_names}>"

    def __call__(self, vec: VectorConfig) -> MultiVectorEmbedder | None:
        if vec.vectorizer != "text2vec_jinaai":
            return None
        from multivector.embeddings.jina import JinaEmbeddings

        params = dict(vec.vectorizer_params)
        kwargs: dict[str, Any] = {
            "model": params.get("model", "jina-colbert-v2"),
            "dimensions": int(params.get("dimensions", 128)),
        }
        if params.get("base_url"):
            kwargs["base_url"] = params["base_url"]
        elif os.environ.get("MULTIVECTOR_JINA_BASE_URL"):
            kwargs["base_url"] = os.environ["MULTIVECTOR_JINA_BASE_URL"]
        return JinaEmbeddings(api_key=self.__key, **kwargs)
