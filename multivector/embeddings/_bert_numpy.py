"""A BERT encoder forward pass in NumPy (float32, inference only).

Implements exactly what ``transformers.BertModel`` computes for ``last_hidden_state`` with
absolute position embeddings and post-layer-norm blocks: embeddings (word + position +
token type, LayerNorm), then per layer multi-head self-attention with an additive padding mask,
residual + LayerNorm, an exact (erf) GELU feed-forward, residual + LayerNorm. Dropout is the
identity at inference. Linear weights are stored pre-transposed (``[in, out]``) and Q/K/V fused
into one matrix so each projection is a single BLAS ``matmul``.

Everything is NumPy except one element-wise kernel: erf-GELU over the ``[tokens, 1536]``
intermediate activations, which ``scipy.special.erf`` made ~45% of the run time. It is a rational
fit of erf (float32-accurate) compiled by numba, a core dependency, into one fused vectorised
pass; with ``NUMBA_DISABLE_JIT=1`` the same fit runs as chunked NumPy.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from multivector._types import F32Array, I64Array
from multivector.errors import ConfigError, StorageFormatError

__all__ = ["BertConfig", "BertEncoder", "GeluImpl", "bias_gelu", "erf_rational"]

#: Added to attention scores of padding keys; exp() of it is exactly 0 in float32.
_MASK_VALUE = np.float32(-1e30)


# Rational minimax fit of erf on [-4, 4] (as in Eigen's float erf): erf(z) ~ z * P(z^2) / Q(z^2),
# |error| < 1e-7 in float64 and within a few float32 ulps in float32; |erf(z)| rounds to 1 beyond.
_ERF_P = tuple(
    np.float32(c)
    for c in (
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    )
)
_ERF_Q = tuple(
    np.float32(c)
    for c in (
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    )
)
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = _ERF_P
_Q0, _Q1, _Q2, _Q3, _Q4 = _ERF_Q
_INV_SQRT2 = np.float32(1.0 / math.sqrt(2.0))
_ERF_CLIP = np.float32(4.0)
_GELU_CHUNK_ROWS = 256  # keeps the NumPy fallback's temporaries in cache

GeluImpl = Literal["auto", "numba", "numpy"]


def erf_rational(x: npt.NDArray[np.floating[Any]]) -> F32Array:
    """``erf`` in float32 NumPy from a rational fit (no SciPy); absolute error below 5e-7 (a few float32 ulps)."""
    z = np.clip(np.asarray(x, dtype=np.float32), -_ERF_CLIP, _ERF_CLIP)
    z2 = z * z
    p = np.full_like(z2, _P0)
    for c in _ERF_P[1:]:
        p *= z2
        p += c
    q = np.full_like(z2, _Q0)
    for c in _ERF_Q[1:]:
        q *= z2
        q += c
    p *= z
    p /= q
    return p


def _bias_gelu_numpy(x: F32Array, bias: F32Array) -> F32Array:
    """``gelu(x + bias)`` in place, in row chunks: the fallback when numba's JIT is off."""
    for start in range(0, x.shape[0], _GELU_CHUNK_ROWS):
        v = x[start : start + _GELU_CHUNK_ROWS]
        v += bias
        e = erf_rational(v * _INV_SQRT2)
        e += np.float32(1.0)
        e *= np.float32(0.5)
        v *= e
    return x


def _bias_gelu_kernel(x: F32Array, bias: F32Array) -> None:  # pragma: no cover - compiled
    """Numba body of ``gelu(x + bias)`` in place; the same fit as :func:`erf_rational`."""
    n, m = x.shape
    for i in range(n):
        for j in range(m):
            v = x[i, j] + bias[j]
            z = min(max(v * _INV_SQRT2, -_ERF_CLIP), _ERF_CLIP)
            z2 = z * z
            p = (
                (((((_P0 * z2 + _P1) * z2 + _P2) * z2 + _P3) * z2 + _P4) * z2 + _P5) * z2 + _P6
            ) * z
            q = (((_Q0 * z2 + _Q1) * z2 + _Q2) * z2 + _Q3) * z2 + _Q4
            x[i, j] = np.float32(0.5) * v * (np.float32(1.0) + p / q)


_jitted: list[Callable[[F32Array, F32Array], None]] = []


def _numba_gelu() -> Callable[[F32Array, F32Array], None] | None:
    """The compiled kernel (built on first use, cached on disk), or None when JIT is off."""
    if not _jitted:
        try:
            numba = importlib.import_module("numba")
        except ImportError:  # pragma: no cover - numba is a core dependency
            return None
        if numba.config.DISABLE_JIT:
            return None
        # error_model="numpy" drops the division-by-zero check so the loop vectorises.
        _jitted.append(numba.njit(cache=True, nogil=True, error_model="numpy")(_bias_gelu_kernel))
    return _jitted[0]


def bias_gelu(x: F32Array, bias: F32Array, *, impl: GeluImpl = "auto") -> F32Array:
    """BERT's exact GELU of ``x + bias``, ``v * (1 + erf(v / sqrt(2))) / 2``, in place.

    ``x`` is a C-contiguous float32 ``[rows, width]`` array, ``bias`` ``[width]``. ``"auto"`` uses
    a numba kernel (one fused, vectorised pass) unless numba's JIT is disabled, then NumPy.
    """
    kernel = _numba_gelu() if impl != "numpy" else None
    if kernel is None:
        if impl == "numba":
            raise ConfigError("impl='numba' needs numba with its JIT enabled")
        return _bias_gelu_numpy(x, bias)
    kernel(x, bias)
    return x


def _layer_norm(x: F32Array, weight: F32Array, bias: F32Array, eps: float) -> F32Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(np.square(centred), axis=-1, keepdims=True)
    centred /= np.sqrt(var + np.float32(eps))
    centred *= weight
    centred += bias
    return cast("F32Array", centred)


@dataclass(frozen=True)
class BertConfig:
    """The fields of a Hugging Face ``config.json`` the forward pass needs."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    layer_norm_eps: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BertConfig:
        """Build from a parsed ``config.json``; refuse what this encoder does not implement."""
        if raw.get("model_type", "bert") != "bert":
            raise ConfigError(f"model_type {raw.get('model_type')!r} is not 'bert'")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ConfigError("only position_embedding_type 'absolute' is supported")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ConfigError(f"hidden_act {raw.get('hidden_act')!r} is not 'gelu'")
        try:
            cfg = cls(
                hidden_size=int(raw["hidden_size"]),
                num_hidden_layers=int(raw["num_hidden_layers"]),
                num_attention_heads=int(raw["num_attention_heads"]),
                intermediate_size=int(raw["intermediate_size"]),
                max_position_embeddings=int(raw.get("max_position_embeddings", 512)),
                layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"config.json lacks or mistypes a BERT field: {exc}") from exc
        if cfg.hidden_size % cfg.num_attention_heads:
            raise ConfigError(
                f"hidden_size {cfg.hidden_size} is not divisible by "
                f"num_attention_heads {cfg.num_attention_heads}"
            )
        return cfg


@dataclass(frozen=True)
class _Layer:
    qkv_w: F32Array  # [H, 3H], query part pre-scaled by 1/sqrt(head_dim)
    qkv_b: F32Array  # [3H]
    out_w: F32Array  # [H, H]
    out_b: F32Array
    ln1_w: F32Array
    ln1_b: F32Array
    up_w: F32Array  # [H, I]
    up_b: F32Array
    down_w: F32Array  # [I, H]
    down_b: F32Array
    ln2_w: F32Array
    ln2_b: F32Array


def _strip_prefix(tensors: Mapping[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    for prefix in ("", "bert.", "model.", "0.auto_model."):
        key = f"{prefix}embeddings.word_embeddings.weight"
        if key in tensors:
            return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    raise StorageFormatError("the weights hold no 'embeddings.word_embeddings.weight' tensor")


class BertEncoder:
    """BERT weights laid out for NumPy, and the forward pass over a padded batch."""

    def __init__(self, config: BertConfig, tensors: Mapping[str, npt.NDArray[Any]]) -> None:
        self.config = config
        t = _strip_prefix(tensors)

        def get(name: str, shape: tuple[int, ...]) -> F32Array:
            if name not in t:
                raise StorageFormatError(f"the weights lack tensor {name!r}")
            array = np.ascontiguousarray(t[name], dtype=np.float32)
            if array.shape != shape:
                raise StorageFormatError(f"tensor {name!r} has shape {array.shape}, not {shape}")
            return array

        h, i = config.hidden_size, config.intermediate_size
        self.word = get(
            "embeddings.word_embeddings.weight",
            (t["embeddings.word_embeddings.weight"].shape[0], h),
        )
        self.position = get(
            "embeddings.position_embeddings.weight", (config.max_position_embeddings, h)
        )
        self.token_type = get(
            "embeddings.token_type_embeddings.weight",
            (t.get("embeddings.token_type_embeddings.weight", np.empty((0, h))).shape[0], h),
        )
        self.emb_ln_w = get("embeddings.LayerNorm.weight", (h,))
        self.emb_ln_b = get("embeddings.LayerNorm.bias", (h,))
        scale = np.float32(1.0 / math.sqrt(h // config.num_attention_heads))
        self.layers: list[_Layer] = []
        for n in range(config.num_hidden_layers):
            p = f"encoder.layer.{n}."
            a = p + "attention."
            qkv_w = np.concatenate(
                [
                    get(a + "self.query.weight", (h, h)).T * scale,
                    get(a + "self.key.weight", (h, h)).T,
                    get(a + "self.value.weight", (h, h)).T,
                ],
                axis=1,
            )
            qkv_b = np.concatenate(
                [
                    get(a + "self.query.bias", (h,)) * scale,
                    get(a + "self.key.bias", (h,)),
                    get(a + "self.value.bias", (h,)),
                ]
            )
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(qkv_w),
                    qkv_b=qkv_b,
                    out_w=np.ascontiguousarray(get(a + "output.dense.weight", (h, h)).T),
                    out_b=get(a + "output.dense.bias", (h,)),
                    ln1_w=get(a + "output.LayerNorm.weight", (h,)),
                    ln1_b=get(a + "output.LayerNorm.bias", (h,)),
                    up_w=np.ascontiguousarray(get(p + "intermediate.dense.weight", (i, h)).T),
                    up_b=get(p + "intermediate.dense.bias", (i,)),
                    down_w=np.ascontiguousarray(get(p + "output.dense.weight", (h, i)).T),
                    down_b=get(p + "output.dense.bias", (h,)),
                    ln2_w=get(p + "output.LayerNorm.weight", (h,)),
                    ln2_b=get(p + "output.LayerNorm.bias", (h,)),
                )
            )

    @property
    def nbytes(self) -> int:
        """Bytes held by the weight arrays."""
        arrays = [self.word, self.position, self.token_type, self.emb_ln_w, self.emb_ln_b]
        arrays += [v for layer in self.layers for v in vars(layer).values()]
        return sum(a.nbytes for a in arrays)

    def forward(
        self,
        input_ids: I64Array,
        attention_mask: npt.NDArray[np.bool_],
        *,
        gelu: GeluImpl = "auto",
    ) -> F32Array:
        """Last-layer hidden states ``[batch, seq, hidden]`` of a right-padded batch.

        ``input_ids`` and ``attention_mask`` are ``[batch, seq]``; rows at masked positions are
        computed but meaningless. Token type ids are all 0 (single-segment input).
        """
        cfg = self.config
        b, s = input_ids.shape
        h, heads = cfg.hidden_size, cfg.num_attention_heads
        d = h // heads
        emb = self.word[input_ids.reshape(-1)].reshape(b, s, h)
        emb += self.position[:s]
        emb += self.token_type[0]
        x = _layer_norm(emb, self.emb_ln_w, self.emb_ln_b, cfg.layer_norm_eps).reshape(b * s, h)
        bias = np.where(attention_mask, np.float32(0.0), _MASK_VALUE).astype(np.float32)
        bias = bias[:, None, None, :]  # [b, 1, 1, s]: broadcast over heads and query positions
        for layer in self.layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            qkv = qkv.reshape(b, s, 3, heads, d).transpose(2, 0, 3, 1, 4)  # [3, b, heads, s, d]
            scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2)  # [b, heads, s, s]
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(b * s, h)
            attn = context @ layer.out_w
            attn += layer.out_b
            attn += x
            x = _layer_norm(attn, layer.ln1_w, layer.ln1_b, cfg.layer_norm_eps)
            up = bias_gelu(x @ layer.up_w, layer.up_b, impl=gelu)
            down = up @ layer.down_w
            down += layer.down_b
            down += x
            x = _layer_norm(down, layer.ln2_w, layer.ln2_b, cfg.layer_norm_eps)
        return x.reshape(b, s, h)
