"""Gifts already in the donations register that a file's rows would record again.

A row without a receipt number is matched by its natural key (``ledger.formats.donations_csv``:
the day, donor, amount, channel and project); a gift reversed since no longer counts.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.formats.donations_csv import NaturalKey, natural_key
from projections.sqlview.reading import Queries


class RecordedGifts(Queries):
    def receipts_by_key(self, keys: Iterable[NaturalKey]) -> dict[NaturalKey, str]:
        """For each of these keys found among the gifts recorded (not reversed), the receipt
        number of one of them; read a range of days at a time, not a query per row."""
        wanted = set(keys)
        if not wanted:
            return {}
        days = sorted(key[0] for key in wanted)
        rows = self.views.view("registers").query(
            "SELECT receipt_no, received_on, donor_id, amount_fen, channel, project_id"
            " FROM {t}fl_donations WHERE received_on >= %s AND received_on <= %s"
            " AND reversed_position IS NULL ORDER BY position",
            [days[0], days[-1]],
        )
        found: dict[NaturalKey, str] = {}
        for row in rows:
            key = natural_key(row)
            if key in wanted:
                found.setdefault(key, str(row["receipt_no"]))
        return found
