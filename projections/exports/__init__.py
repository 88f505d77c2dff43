"""Exports for auditors and open data, one module per format: a Beancount journal
(``journal_beancount``), 360Giving grants (``grants_360giving``), CSV registers
(``registers_csv``), the statements as XLSX, HTML and PDF (``statements_*``).

Each module is imported when one of its names is first asked for (PEP 562): a command that
exports nothing (an import of a million gifts, say) does not load openpyxl and the schemas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from projections.exports.grants_360giving import export_360giving, funder_identifier
    from projections.exports.journal_beancount import ExportMoved, export_beancount
    from projections.exports.registers_csv import CSV_KINDS, export_csv, register_table
    from projections.exports.statements_html import statements_html
    from projections.exports.statements_pdf import PdfUnavailable, export_statements_pdf
    from projections.exports.statements_xlsx import export_statements_xlsx

_MODULES = {
    "CSV_KINDS": "registers_csv",
    "ExportMoved": "journal_beancount",
    "PdfUnavailable": "statements_pdf",
    "export_360giving": "grants_360giving",
    "export_beancount": "journal_beancount",
    "export_csv": "registers_csv",
    "export_statements_pdf": "statements_pdf",
    "export_statements_xlsx": "statements_xlsx",
    "funder_identifier": "grants_360giving",
    "register_table": "registers_csv",
    "statements_html": "statements_html",
}

__all__ = [
    "CSV_KINDS",
    "ExportMoved",
    "PdfUnavailable",
    "export_360giving",
    "export_beancount",
    "export_csv",
    "export_statements_pdf",
    "export_statements_xlsx",
    "funder_identifier",
    "register_table",
    "statements_html",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
