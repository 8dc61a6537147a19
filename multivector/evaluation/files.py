"""Reading evaluation files: ``corpus.jsonl``, ``queries.jsonl`` and qrels (TSV or TREC)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multivector.errors import ConfigError

__all__ = ["EvalQuery", "load_corpus", "load_qrels", "load_queries"]


@dataclass(frozen=True)
class EvalQuery:
    """One query: its id (as in the qrels), its text and an optional group (e.g. a query type)."""

    id: str
    text: str
    group: str | None = None


def _jsonl(path: str | Path) -> Iterable[tuple[int, dict[str, Any]]]:
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            if not isinstance(record, dict):
                raise ConfigError(f"{path}:{lineno}: each line must be a JSON object")
            yield lineno, record


def _field(record: Mapping[str, Any], names: Sequence[str], where: str) -> str:
    for name in names:
        if record.get(name) is not None:
            return str(record[name])
    raise ConfigError(f"{where}: missing field {names[0]!r}")


def load_queries(path: str | Path, *, group_field: str | None = "type") -> list[EvalQuery]:
    """Read ``queries.jsonl``: ``id`` (or BEIR's ``_id``), ``text`` and an optional group field."""
    return [
        EvalQuery(
            id=_field(rec, ("id", "_id"), f"{path}:{lineno}"),
            text=_field(rec, ("text",), f"{path}:{lineno}"),
            group=None
            if group_field is None or rec.get(group_field) is None
            else str(rec[group_field]),
        )
        for lineno, rec in _jsonl(path)
    ]


def load_corpus(path: str | Path) -> list[dict[str, Any]]:
    """Read ``corpus.jsonl``: one object per line with ``id`` (or ``_id``) and ``text``."""
    out = []
    for lineno, rec in _jsonl(path):
        where = f"{path}:{lineno}"
        doc = dict(rec)
        doc["id"] = _field(rec, ("id", "_id"), where)
        doc.pop("_id", None)
        doc["text"] = _field(rec, ("text",), where)
        out.append(doc)
    return out


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Read qrels: ``query_id<TAB>doc_id<TAB>relevance`` (a header line is skipped) or the TREC
    form ``query_id 0 doc_id relevance``.
    """
    out: dict[str, dict[str, int]] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) == 4:
                qid, _, doc, grade = parts
            elif len(parts) == 3:
                qid, doc, grade = parts
            else:
                raise ConfigError(
                    f"{path}:{lineno}: expected 'query_id doc_id relevance' (or TREC's 4 columns), "
                    f"got {len(parts)} columns"
                )
            try:
                value = int(float(grade))
            except ValueError:
                if lineno == 1:  # a header line
                    continue
                raise ConfigError(f"{path}:{lineno}: relevance {grade!r} is not a number") from None
            out.setdefault(qid, {})[doc] = value
    return out
