"""Argument checks shared by every layer: one wording for "must be an int >= 1" everywhere.

A ``bool`` is never accepted as a number (``True`` is an ``int`` in Python, never what a caller meant).
"""

from __future__ import annotations

from multivector.errors import ConfigError

__all__ = ["check_int"]


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` if it is an int within ``[minimum, maximum]``, else a ConfigError naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ConfigError(f"{name} must be an int {bound}, got {value!r}")
    return value
