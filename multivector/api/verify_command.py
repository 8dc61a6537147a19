"""``python -m multivector verify PATH``: check a store folder without changing it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from multivector.api.connect import connect

__all__ = ["add_verify_parser", "run_verify"]


def add_verify_parser(sub: Any) -> None:
    """Add the ``verify`` subcommand to the CLI's subparsers."""
    parser = sub.add_parser(
        "verify",
        help="check a durable store: integrity, every row's checksum, every cache file",
        description="Check a durable store folder (read-only: nothing is written).",
    )
    parser.add_argument("path", type=Path, help="the store folder")


def run_verify(args: argparse.Namespace) -> int:
    """Print the report; exit status 0 when the store is intact, 1 when anything is damaged."""
    with connect(args.path, read_only=True) as client:
        report = client.verify()
    print(report, file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1
