"""The one object api/ and the command line read the views through.

It answers no question itself: each view's queries live beside its tables (``books``,
``registers``, ``monthly``); this class only puts them together over the views of one store.
"""

from __future__ import annotations

from projections.books.statements import Statements
from projections.monthly.queries import MonthlyQueries
from projections.panel.checks import PanelChecks
from projections.panel.query import PanelQueries
from projections.registers.donors import DonorQueries
from projections.registers.grouped import GroupedQueries
from projections.registers.projects import ProjectQueries
from projections.runner import Views
from projections.statements.queries import StatementQueries


class Reader(
    StatementQueries,  # 会民非01-03表, notes, ratios
    Statements,  # with BooksQueries: balances, positions, the journal
    ProjectQueries,
    DonorQueries,
    GroupedQueries,  # each with Listings: the paged registers
    PanelQueries,  # the panel's one query
    PanelChecks,  # and its warnings
    MonthlyQueries,
):
    """Read-only queries over the views of one store."""

    views: Views

    def __init__(self, views: Views) -> None:
        super().__init__(views)
