"""Argument checks shared by every layer: one wording for "must be an int >= 1" everywhere.

A ``bool`` is never accepted as a number (``True`` is an ``int`` in Python, never what a caller meant).
"""

from __future__ import annotations

import math
import numbers

from multivector.errors import ConfigError

__all__ = ["check_int", "check_number"]


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


def check_number(
    name: str, value: object, *, minimum: float | None = None, strict: bool = False
) -> float:
    """``value`` as a float if it is a finite real number (``> minimum`` when ``strict``, else
    ``>= minimum``), else a ConfigError naming it; NaN and infinities are refused.
    """
    number = math.nan
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    if not math.isfinite(number) or (
        minimum is not None and (number <= minimum if strict else number < minimum)
    ):
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
        raise ConfigError(f"{name} must be a finite number{bound}, got {value!r}")
    return number
