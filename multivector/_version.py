"""The package version (ground: imports nothing)."""

__version__ = "0.1.0"
