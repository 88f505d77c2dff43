"""The panel's one query: sums of any measure grouped by any of the dimensions, filtered by
dates and project, with Chinese labels beside the codes, as rows or as a pivot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ledger.domain.errors import InvalidInput
from ledger.domain.yuan import format_yuan
from projections.panel.facts import Audience, Fact, PanelFacts, Window
from projections.panel.labels import header

DATES = ("month", "quarter", "year", "weekday")
# Each family of facts: the dimensions it has and the measures it adds up.
FAMILIES: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "donation": (
        frozenset({"project", *DATES, "donor", "donor_kind", "channel"}),
        ("donations", "donation_count"),
    ),
    "expense": (
        frozenset({"project", *DATES, "category", "payee", "grant"}),
        ("expenses", "restricted_expenses", "unrestricted_expenses", "overhead", "expense_count"),
    ),
    "grant": (frozenset({"project", *DATES, "grant"}), ("grants", "commitments", "grant_count")),
    "served": (frozenset({"project", *DATES}), ("people_served",)),
}
FAMILY_OF = {m: family for family, (_, measures) in FAMILIES.items() for m in measures}
# Ratios worked out from two sums once grouped: (numerator, denominator).
DERIVED: dict[str, tuple[str, str]] = {
    "overhead_ratio": ("overhead", "expenses"),
    "cost_per_person": ("expenses", "people_served"),
}
DIMENSIONS = tuple(sorted(set().union(*(dims for dims, _ in FAMILIES.values()))))
MEASURES = (*FAMILY_OF, *DERIVED)
COUNTS = frozenset({"donation_count", "expense_count", "grant_count", "people_served"})
GROUP_KEYS_MAX = 4
ROWS_MAX = 5000
_DONOR_SIDE = frozenset({"donor", "donor_kind", "channel"})


@dataclass(frozen=True)
class QuerySpec:
    """What the caller asked: at least one dimension and one measure, each at most once."""

    group_by: tuple[str, ...]
    measures: tuple[str, ...] = ()
    window: Window = field(default_factory=Window)
    pivot: str | None = None
    sort: str = "key"  # "key": by the groups; "value": the first measure, largest first
    limit: int | None = None

    def checked(self) -> QuerySpec:
        keys = ",".join(self.group_by)
        if not self.group_by or len(self.group_by) > GROUP_KEYS_MAX:
            raise InvalidInput("group_by", keys, f"takes 1 to {GROUP_KEYS_MAX} names")
        unknown = [k for k in self.group_by if k not in DIMENSIONS]
        if unknown or len(set(self.group_by)) != len(self.group_by):
            raise InvalidInput(
                "group_by", keys, f"takes distinct names from {', '.join(DIMENSIONS)}"
            )
        measures = self.measures or (
            ("donations",) if _DONOR_SIDE & set(self.group_by) else ("expenses",)
        )
        bad = [m for m in measures if m not in MEASURES]
        if bad or len(set(measures)) != len(measures):
            raise InvalidInput("measure", ",".join(measures), f"takes {', '.join(MEASURES)}")
        for family in families_of(measures):
            dims = FAMILIES[family][0]
            misfit = [k for k in self.group_by if k not in dims]
            if misfit:
                msg = f"{', '.join(misfit)} does not fit the measure {','.join(measures)}"
                raise InvalidInput("group_by", keys, msg)
        if self.pivot is not None and (self.pivot not in self.group_by or len(self.group_by) < 2):
            raise InvalidInput("pivot", self.pivot, "must be one of two or more group_by names")
        if self.sort not in {"key", "value"}:
            raise InvalidInput("sort", self.sort, "must be key or value")
        return QuerySpec(self.group_by, measures, self.window, self.pivot, self.sort, self.limit)


def families_of(measures: tuple[str, ...]) -> list[str]:
    wanted: list[str] = []
    for m in measures:
        for part in DERIVED.get(m, (m, m)):
            if FAMILY_OF[part] not in wanted:
                wanted.append(FAMILY_OF[part])
    return wanted


def value_text(measure: str, value: int | Decimal | None) -> str | int | None:
    """Money as a yuan string, counts as integers, ratios as decimal strings."""
    if value is None or measure in COUNTS:
        return value if value is None else int(value)
    if isinstance(value, Decimal):
        return str(value)
    return format_yuan(value)


def _derived(measure: str, sums: dict[str, int]) -> Decimal | None:
    top, bottom = DERIVED[measure]
    if not sums.get(bottom):
        return None
    if measure == "overhead_ratio":
        ratio = Decimal(100 * sums[top]) / Decimal(sums[bottom])
        return ratio.quantize(Decimal("0.1"), ROUND_HALF_UP)
    # yuan per person, from fen
    per = Decimal(sums[top]) / Decimal(100 * sums[bottom])
    return per.quantize(Decimal("0.01"), ROUND_HALF_UP)


class PanelQueries(PanelFacts):
    def panel_query(self, spec: QuerySpec, audience: Audience) -> dict[str, Any]:
        """The answer to one question: each group's codes, labels and measures; the totals;
        each group's share of the first measure's total; a pivot when asked."""
        spec = spec.checked()
        readers: dict[str, Callable[[Window, Audience], list[Fact]]] = {
            "donation": self.donation_facts,
            "expense": self.expense_facts,
            "grant": self.grant_facts,
            "served": self.served_facts,
        }
        groups: dict[tuple[str, ...], dict[str, Any]] = {}
        for family in families_of(spec.measures):
            for fact in readers[family](spec.window, audience):
                key = tuple(fact[k][0] for k in spec.group_by)
                group = groups.setdefault(
                    key, {"labels": tuple(fact[k][1] for k in spec.group_by), "sums": {}}
                )
                for measure in FAMILIES[family][1]:
                    group["sums"][measure] = group["sums"].get(measure, 0) + fact[measure]
        totals_fen: dict[str, int] = {}
        for group in groups.values():
            for measure, value in group["sums"].items():
                totals_fen[measure] = totals_fen.get(measure, 0) + value
        first = spec.measures[0]
        rows = [
            self._row(spec, key, g["labels"], g["sums"], totals_fen) for key, g in groups.items()
        ]
        if spec.sort == "value":
            rows.sort(key=lambda r: (-(_number(r.get(first))), [r[k] for k in spec.group_by]))
        else:
            rows.sort(key=lambda r: [r[k] for k in spec.group_by])
        groups_count = len(rows)
        limit = min(spec.limit or ROWS_MAX, ROWS_MAX)
        rows = rows[:limit]
        answer: dict[str, Any] = {
            "measure": first,
            "measures": list(spec.measures),
            "group_by": list(spec.group_by),
            "rows": rows,
            "groups": groups_count,
            "total": value_text(first, _total(first, totals_fen)),
            "totals": {m: value_text(m, _total(m, totals_fen)) for m in spec.measures},
        }
        if first not in DERIVED:
            shown = sum(_number(r.get(first)) for r in rows)
            whole = _number(answer["total"])
            answer["shown_share"] = _percent(shown, whole)
        if spec.pivot is not None:
            answer["pivot"] = pivot(answer, spec.pivot)
        return answer

    @staticmethod
    def _row(
        spec: QuerySpec,
        key: tuple[str, ...],
        labels: tuple[str, ...],
        sums: dict[str, int],
        totals_fen: dict[str, int],
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, code, text in zip(spec.group_by, key, labels, strict=True):
            row[name] = code
            row[f"{name}_label"] = text
        for measure in spec.measures:
            value: int | Decimal | None = (
                _derived(measure, sums) if measure in DERIVED else sums.get(measure, 0)
            )
            row[measure] = value_text(measure, value)
        first = spec.measures[0]
        row["amount"] = str(row[first]) if row[first] is not None else None
        if first not in DERIVED:
            row["share"] = _percent(sums.get(first, 0), totals_fen.get(first, 0))
        return row


def _total(measure: str, totals_fen: dict[str, int]) -> int | Decimal | None:
    return _derived(measure, totals_fen) if measure in DERIVED else totals_fen.get(measure, 0)


def _number(value: object) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _percent(part: Decimal | int, whole: Decimal | int) -> str | None:
    if not whole:
        return None
    return str((Decimal(100) * Decimal(part) / Decimal(whole)).quantize(Decimal("0.1")))


def pivot(answer: dict[str, Any], column: str) -> dict[str, Any]:
    """The rows laid out as a table: the other dimensions down, ``column`` across, the first
    measure in the cells, with each row's total."""
    measure = answer["measure"]
    down = [k for k in answer["group_by"] if k != column]
    columns: dict[str, str] = {}
    lines: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in answer["rows"]:
        columns.setdefault(row[column], row[f"{column}_label"])
        key = tuple(row[k] for k in down)
        line = lines.setdefault(
            key,
            {
                "keys": {k: row[k] for k in down},
                "labels": {k: row[f"{k}_label"] for k in down},
                "cells": {},
            },
        )
        line["cells"][row[column]] = row[measure]
    ordered = sorted(columns)
    for line in lines.values():
        if measure not in DERIVED:
            line["total"] = value_text(
                measure,
                _as_measure(measure, sum((_number(v) for v in line["cells"].values()), Decimal(0))),
            )
    return {
        "rows": down,
        "column": column,
        "columns": [{"code": c, "label": columns[c]} for c in ordered],
        "lines": list(lines.values()),
    }


def _as_measure(measure: str, value: Decimal) -> int:
    return int(value) if measure in COUNTS else int(value * 100)


def query_table(answer: dict[str, Any]) -> tuple[list[str], list[list[object]]]:
    """The answer as a spreadsheet's header and rows: each dimension's code and its Chinese
    label, then the measures (or the pivot's columns), money as Decimal yuan."""
    if "pivot" in answer:
        p = answer["pivot"]
        measure = answer["measure"]
        heads = [h for k in p["rows"] for h in (header(k), f"{header(k)}（名称）")]
        heads += [f"{c['label']} / {c['code']}" for c in p["columns"]]
        heads += [header("total")] if measure not in DERIVED else []
        body = []
        for line in p["lines"]:
            cells: list[object] = [
                v for k in p["rows"] for v in (line["keys"][k], line["labels"][k])
            ]
            cells += [_cell(line["cells"].get(c["code"])) for c in p["columns"]]
            cells += [_cell(line["total"])] if "total" in line else []
            body.append(cells)
        return heads, body
    keys = answer["group_by"]
    measures = answer["measures"]
    heads = [h for k in keys for h in (header(k), f"{header(k)}（名称）")]
    heads += [header(m) for m in measures]
    with_share = "shown_share" in answer
    heads += [header("share")] if with_share else []
    body = []
    for row in answer["rows"]:
        values: list[object] = [v for k in keys for v in (row[k], row[f"{k}_label"])]
        values += [_cell(row[m]) for m in measures]
        values += [_cell(row["share"])] if with_share else []
        body.append(values)
    total: list[object] = [header("total"), "", *([""] * (2 * len(keys) - 2))]
    total += [_cell(answer["totals"][m]) for m in measures]
    body.append(total + ([Decimal("100.0")] if with_share and answer["total"] else []))
    return heads, body


def _cell(value: object) -> object:
    """Numbers as numbers for a spreadsheet: yuan and ratios as Decimal, counts as int."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value
