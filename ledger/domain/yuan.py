"""Fen as yuan text: the strings that money shows as at the edges (JSON, pages, CSV).

Kept apart from parsing (``ledger.domain.money``) so that the domain errors, which state their
figures in yuan, can format amounts without depending on the parser that raises them.
"""

from __future__ import annotations

FEN_PER_YUAN = 100


def format_yuan(amount_fen: int) -> str:
    """Format fen as a yuan string with exactly two decimals: 128050 -> ``"1280.50"``."""
    sign = "-" if amount_fen < 0 else ""
    whole, frac = divmod(abs(amount_fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{frac:02d}"


def format_yuan_grouped(amount_fen: int) -> str:
    """Format fen for people to read, with thousands separators: ``"12,000.00"``."""
    sign = "-" if amount_fen < 0 else ""
    whole, frac = divmod(abs(amount_fen), FEN_PER_YUAN)
    return f"{sign}{whole:,}.{frac:02d}"
