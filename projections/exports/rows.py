"""What the exports share: every row of a paged listing, and a value as text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from projections.registers.listings import Page
from projections.sqlview.reading import iso_day


def text_of(value: object) -> str:
    """Dates in ISO form, nothing as an empty string, anything else as its text."""
    return iso_day(value) or ""


def pages(page_of: Callable[[int], Page]) -> Iterator[list[dict[str, Any]]]:
    """The pages of a keyset-paged listing, read one at a time."""
    after = 0
    while True:
        page = page_of(after)
        yield page.items
        if page.next_after is None:
            return
        after = page.next_after


def every_row(page_of: Callable[[int], Page]) -> Iterator[dict[str, Any]]:
    for items in pages(page_of):
        yield from items
