"""The statements as one printable HTML page: the three forms, Chinese first with English beside.

The PDF is this page printed by Chromium (``statements_pdf``); the public page of a closed year
renders the same JSON with the service's templates."""

from __future__ import annotations

from html import escape
from typing import Any

FORMS = ("balance_sheet", "activities", "cash_flows")
_STYLE = """
body { font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; font-size: 9pt; margin: 0; }
section { page-break-after: always; }
h1 { font-size: 13pt; margin: 0 0 2pt; } p { margin: 0 0 6pt; color: #333; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.5pt solid #888; padding: 2pt 4pt; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; } tr.heading td { background: #eee; font-weight: bold; }
.en { color: #555; font-size: 8pt; }
"""


def _form(fund: str, period: str, form: dict[str, Any]) -> str:
    head = "".join(
        f"<th>{escape(c['label'])}<br><span class=en>{escape(c['label_en'])}</span></th>"
        for c in form["columns"]
    )
    rows = []
    for row in form["rows"]:
        label = f"{escape(row['label'])} <span class=en>{escape(row['label_en'])}</span>"
        if row["kind"] == "heading":
            rows.append(
                f"<tr class=heading><td colspan={2 + len(form['columns'])}>{label}</td></tr>"
            )
            continue
        cells = "".join(
            f"<td class=n>{escape(row['values'][c['key']])}</td>" for c in form["columns"]
        )
        rows.append(f"<tr class={row['kind']}><td>{label}</td><td>{row['line']}</td>{cells}</tr>")
    return (
        f"<section><h1>{escape(form['title'])} <span class=en>{escape(form['title_en'])}</span>"
        f"</h1><p>{escape(form['form'])} · {escape(fund)} · {escape(period)} · "
        f"{escape(form['unit'])}</p><table><thead><tr><th>项目 Item</th><th>行次</th>{head}"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def statements_html(statements: dict[str, Any]) -> str:
    period = statements["month"] or str(statements["year"])
    forms = "".join(_form(statements["fund"], period, statements[key]) for key in FORMS)
    return (
        f"<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        f"<title>{escape(statements['fund'])} {escape(period)}</title>"
        f"<style>{_STYLE}</style></head><body>{forms}</body></html>"
    )
