"""Exports for auditors and open data, one module per format: a Beancount journal
(``journal_beancount``), 360Giving grants (``grants_360giving``), CSV registers
(``registers_csv``), the statements as XLSX, HTML and PDF (``statements_*``)."""

from projections.exports.grants_360giving import export_360giving, funder_identifier
from projections.exports.journal_beancount import ExportMoved, export_beancount
from projections.exports.registers_csv import CSV_KINDS, export_csv, register_table
from projections.exports.statements_html import statements_html
from projections.exports.statements_pdf import PdfUnavailable, export_statements_pdf
from projections.exports.statements_xlsx import export_statements_xlsx

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
