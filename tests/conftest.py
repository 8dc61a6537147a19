"""Shared fixtures: clients on every backend, deterministic matrices."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

import multivector

# Backends every behavioural test runs on. "qdrant" runs through QdrantClient(":memory:").
BACKENDS = ["embedded", "qdrant"]


def make_client(backend: str) -> multivector.Client:
    """A fresh, empty client on ``backend``."""
    if backend == "embedded":
        return multivector.connect()
    if backend == "qdrant":
        return multivector.connect_to_qdrant(location=":memory:")
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def any_client(backend_name: str) -> Iterator[multivector.Client]:
    """A client on each backend in turn."""
    client = make_client(backend_name)
    yield client
    client.close()


@pytest.fixture
def client() -> Iterator[multivector.Client]:
    """An in-memory embedded client."""
    c = multivector.connect()
    yield c
    c.close()


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """``n`` random L2-normalised rows of width ``dim`` (float32)."""
    m = rng.normal(size=(n, dim)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(int(os.environ.get("MULTIVECTOR_TEST_SEED", "1234")))
