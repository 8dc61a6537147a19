"""Pin the public surface: __all__ is sorted, complete and importable; import stays light."""

from __future__ import annotations

import subprocess
import sys

import multivector
import multivector.config
import multivector.errors
import multivector.query

EXPECTED_TOP_LEVEL = [
    "AsyncClient",
    "AsyncCollection",
    "AsyncMultiVectorEmbedder",
    "BM25Operator",
    "BatchFailure",
    "Client",
    "Collection",
    "Collections",
    "Configure",
    "DataObject",
    "DataType",
    "Filter",
    "GroupBy",
    "GroupByAggregate",
    "HybridFusion",
    "MetadataQuery",
    "MetadataReturn",
    "Metrics",
    "MultiVectorEmbedder",
    "MultiVectorError",
    "Object",
    "Property",
    "QueryReturn",
    "Tenant",
    "Tokenization",
    "__version__",
    "connect",
    "connect_to_qdrant",
    "evaluate",
    "generate_uuid5",
    "use_async",
    "use_async_with_qdrant",
]


def test_top_level_all_is_pinned_and_sorted():
    assert sorted(multivector.__all__, key=str.lower) == sorted(EXPECTED_TOP_LEVEL, key=str.lower)
    for name in multivector.__all__:
        assert hasattr(multivector, name), name


def test_module_all_lists_are_sorted_and_resolve():
    for module in (multivector.errors, multivector.config, multivector.query):
        names = list(module.__all__)
        assert names == sorted(names), module.__name__
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_error_tree_roots_in_builtins():
    e = multivector.errors
    assert issubclass(e.ConfigError, ValueError) and issubclass(e.ConfigError, e.MultiVectorError)
    assert issubclass(e.DimensionMismatchError, e.InvalidVectorError)
    assert issubclass(e.CollectionNotFoundError, LookupError)
    assert issubclass(e.StorageFormatError, OSError)
    assert issubclass(e.EmbeddingTimeout, TimeoutError)
    assert issubclass(e.OptionalDependencyError, ImportError)
    assert e.RateLimitError("x", retry_after=2.0).retry_after == 2.0
    assert "pip install 'multivector[langchain]'" in str(
        e.OptionalDependencyError("langchain-core", "langchain")
    )


def test_import_is_light():
    code = (
        "import sys, multivector; "
        "heavy = [m for m in ('numba', 'llama_index', 'langchain_core', 'qdrant_client', 'tokenizers', 'httpx') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
