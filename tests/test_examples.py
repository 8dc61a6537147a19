"""The examples run offline: the quickstart's logic on a small slice, and the seed tutorial."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

import multivector
from multivector.embeddings.minilm import MiniLMTokenEmbedder

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quickstart() -> ModuleType:
    return _load("quickstart")


@pytest.fixture(scope="module")
def embedder() -> MiniLMTokenEmbedder:
    return MiniLMTokenEmbedder()


def test_bundled_corpus_has_attribution(quickstart):
    passages = quickstart.load_passages()
    assert len(passages) == 239
    assert {"id", "title", "section", "text"} <= set(passages[0])
    notice = (EXAMPLES / "data" / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in notice
    for title in {p["title"] for p in passages}:
        assert f"| {title} |" in notice


def test_quickstart_on_a_slice(quickstart, embedder):
    passages = quickstart.load_passages(24)
    lines: list[str] = []
    with multivector.connect() as client:
        col = quickstart.open_collection(
            client, passages, embedder=embedder, show_progress=False, log=lines.append
        )
        assert len(col) == 24
        assert any("Imported 24 passages" in line for line in lines)
        found = quickstart.show_results(
            col, ["What is the Bohr model of the atom?"], limit=3, log=lines.append
        )
        hits = found["What is the Bohr model of the atom?"]
        for mode in ("near_text", "bm25", "hybrid"):
            assert len(hits[mode]) == 3
        # distance is -MaxSim: best first, so distances ascend
        distances = [o.metadata.distance for o in hits["near_text"]]
        assert distances == sorted(distances) and distances[0] < 0
        assert "Bohr model" in hits["bm25"][0].properties["section"]
        assert "Bohr model" in hits["hybrid"][0].properties["section"]
        scores = [o.metadata.score for o in hits["hybrid"]]
        assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
        explanation = hits["hybrid"][0].metadata.explain_score
        assert explanation is not None and {leg.leg for leg in explanation.legs} <= {
            "vector",
            "keyword",
        }
        printed = "\n".join(lines)
        assert "explain_score: Hybrid (relative_score)" in printed
        assert "distance=" in printed and "score=" in printed

        # a second call reuses the collection and imports nothing
        lines.clear()
        again = quickstart.open_collection(
            client, passages, embedder=embedder, show_progress=False, log=lines.append
        )
        assert len(again) == 24
        assert lines == ["Reusing collection 'WikiPassages' (24 passages)."]


def test_quickstart_main_persists_and_reuses(quickstart, tmp_path, capsys):
    store = tmp_path / "store"
    argv = ["--store", str(store), "--limit", "6", "Where is the Astrobiology field?"]
    assert quickstart.main(argv) == 0
    first = capsys.readouterr()
    assert "Imported 6 passages" in first.out
    assert "--- near_text" in first.out and "--- bm25" in first.out and "--- hybrid" in first.out
    assert "Importing into WikiPassages" in first.err  # the progress bar
    assert "CC BY-SA 4.0" in first.out
    assert store.exists()

    assert quickstart.main(argv) == 0
    second = capsys.readouterr()
    assert "Reusing collection 'WikiPassages' (6 passages)." in second.out
    assert "Imported" not in second.out
    assert "Importing into" not in second.err


@pytest.fixture
def no_jina_key(monkeypatch):
    for name in ("JINAAI_APIKEY", "JINA_API_KEY", "MULTIVECTOR_JINA_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_seed_tutorial_option1_with_standin(no_jina_key):
    seed = _load("seed_tutorial")
    lines: list[str] = []
    out = seed.option1_model_integration(log=lines.append)
    assert out["count"] == 3
    assert "3" in lines
    assert len(out["shapes"]) == 3 and all(dim == 128 for _, dim in out["shapes"])
    assert all(n_tokens > 2 for n_tokens, _ in out["shapes"])
    assert any("local stand-in" in line for line in lines)
    assert "Embedding data type: <class 'list'>" in lines
    for key in ("near_text", "hybrid", "near_vector", "hybrid_vector"):
        assert sorted(out[key]) == ["doc1", "doc2", "doc3"]
        assert out[key][0] == "doc1"  # the document closest to the query's words
    # it ends in the frameworks, filtered on docid
    assert out["langchain"] == ["doc2"] and out["llama_index"] == ["doc2"]
    assert "PyTorch" in out["llama_index_answer"]
    assert "--- LangChain retriever (hybrid, filter={'docid': 'doc2'})" in lines


def test_seed_tutorial_option2_user_provided(no_jina_key):
    seed = _load("seed_tutorial")
    lines: list[str] = []
    out = seed.option2_user_provided(log=lines.append)
    assert out["count"] == 3
    assert all(dim == 384 for _, dim in out["shapes"])
    assert out["near_vector"][0] == "doc1"
    assert sorted(out["hybrid"]) == ["doc1", "doc2", "doc3"]
    assert "This embedding's shape is" in "\n".join(lines)
    assert out["langchain"] == ["doc2"] and out["llama_index"] == ["doc2"]
    assert "PyTorch" in out["llama_index_answer"]


def test_async_service_answers_each_user_from_their_own_notes(embedder, tmp_path):
    import asyncio

    service = _load("async_service")
    lines: list[str] = []
    answers = asyncio.run(
        service.demo(str(tmp_path / "store"), embedder=embedder, log=lines.append)
    )
    for user, hits in answers.items():
        own = {text for _, text in service.NOTES[user]}
        assert hits and all(h["text"] in own for h in hits)  # never another user's note
    assert any(h["text"].startswith("The imitation game") for h in answers["user-alan"])
    assert answers["user-grace"][0]["text"].startswith("A moth")
    assert any(
        "users after forgetting user-alan: ['user-ada', 'user-grace']" in line for line in lines
    )
    with multivector.connect(tmp_path / "store") as client:
        notes = client.collections.use("Notes")
        assert sorted(notes.tenants.get()) == ["user-ada", "user-grace"]
