"""Fixtures for tests/test_jina.py: a stand-in Jina server on 127.0.0.1 and client factories.

Sleeps are recorded, never slept, so retry tests are instant and assert the waits exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from multivector.embeddings import JinaEmbeddings
from multivector.testing import JinaStandIn

SECRET = "jina_SUPERSECRET_k3y_0123456789abcdef"


class FakeSleep:
    """Records requested sleeps (sync and async) instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def standin() -> Iterator[JinaStandIn]:
    with JinaStandIn(api_key=SECRET) as server:
        yield server


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def make_client(standin: JinaStandIn, fake_sleep: FakeSleep) -> Iterator[Any]:
    """``make_client(**overrides)``: a JinaEmbeddings pointed at the stand-in, closed afterwards."""
    made: list[JinaEmbeddings] = []

    def factory(**overrides: Any) -> JinaEmbeddings:
        kwargs: dict[str, Any] = {
            "api_key": SECRET,
            "base_url": standin.base_url,
            "sleep": fake_sleep,
            "async_sleep": fake_sleep.asleep,
            "rng": random.Random(0),
            "timeout": 5.0,
        }
        kwargs.update(overrides)
        api_key = kwargs.pop("api_key")
        client = JinaEmbeddings(api_key, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
