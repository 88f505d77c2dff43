"""The forms' lines as data, and the one JSON shape every statement takes.

A statement is ``{"form", "title", "title_en", "columns": [...], "rows": [...]}``; a row is
``{"line", "label", "label_en", "kind", "values": {column key: yuan string}}`` with ``kind``
one of ``heading`` (no values), ``item`` or ``total``. The line numbers are the forms'
(行次); a line the fund has nothing on shows 0.00, as a filled-in form does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.domain.yuan import format_yuan


@dataclass(frozen=True)
class Line:
    line: int | None  # None: a heading without a line number
    label: str
    label_en: str
    kind: str = "item"  # heading, item or total


def heading(label: str, label_en: str) -> Line:
    return Line(None, label, label_en, "heading")


def total(line: int, label: str, label_en: str) -> Line:
    return Line(line, label, label_en, "total")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    label_en: str


def statement(
    form: str,
    title: str,
    title_en: str,
    columns: Sequence[Column],
    lines: Sequence[Line],
    value: Callable[[int, str], int],
    **extra: Any,
) -> dict[str, Any]:
    """A statement in the one JSON shape: ``value(line, column key)`` gives each figure."""
    rows = []
    for line in lines:
        row: dict[str, Any] = {
            "line": line.line,
            "label": line.label,
            "label_en": line.label_en,
            "kind": line.kind,
        }
        if line.kind != "heading":
            assert line.line is not None
            row["values"] = {c.key: format_yuan(value(line.line, c.key)) for c in columns}
        rows.append(row)
    return {
        "form": form,
        "title": title,
        "title_en": title_en,
        "unit": "元 yuan",
        "columns": [{"key": c.key, "label": c.label, "label_en": c.label_en} for c in columns],
        "rows": rows,
        **extra,
    }


def figure(statement_json: Mapping[str, Any], line: int, column: str) -> str:
    """One figure of a statement by line number and column key."""
    for row in statement_json["rows"]:
        if row["line"] == line:
            return str(row["values"][column])
    raise KeyError(line)


def sum_of(amounts: Mapping[int, int], lines: Sequence[int]) -> int:
    return sum(amounts.get(line, 0) for line in lines)
