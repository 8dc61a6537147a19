"""Deterministic ids, identical to ``weaviate.util.generate_uuid5``."""

from __future__ import annotations

import uuid as _uuid
from typing import Any

__all__ = ["generate_uuid5"]


def generate_uuid5(identifier: Any, namespace: Any = "") -> str:
    """A uuid5 (DNS namespace) of ``str(namespace) + str(identifier)``, as Weaviate's helper computes it."""
    return str(_uuid.uuid5(_uuid.NAMESPACE_DNS, str(namespace) + str(identifier)))
