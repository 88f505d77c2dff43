"""Exports for auditors and open data, one module per format: a Beancount journal
(``journal_beancount``), 360Giving grants (``grants_360giving``), CSV registers
(``registers_csv``)."""

from projections.exports.grants_360giving import export_360giving, funder_identifier
from projections.exports.journal_beancount import ExportMoved, export_beancount
from projections.exports.registers_csv import CSV_KINDS, export_csv

__all__ = [
    "CSV_KINDS",
    "ExportMoved",
    "export_360giving",
    "export_beancount",
    "export_csv",
    "funder_identifier",
]
