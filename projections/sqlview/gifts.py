"""What the views' fast paths know of a gift received: its two postings, by the gift's shape.

A gift's postings are a pair, its money account against its income account, for its amount;
which accounts depends only on the gift's shape (account, restricted or not, project, donor
kind, in kind or not, the sign of the amount). ``ledger.domain.accounts.postings_for`` works
them out for the first gift of each shape; the others of that shape reuse its accounts. A shape
whose postings are not such a pair is left to the slow path.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.accounts import event_name, postings_for
from projections.sqlview.decoding import GIFT_EVENT_FIELDS

GIFT = "Donation.Received"
# Saved with each gift posted with an idempotency key: a line in the books, nothing else.
RECORD = "IdempotencyRecord.Recorded"
SHAPES_MAX = 10_000

Shape = tuple[Any, ...]
_pairs: dict[Shape, tuple[str, str] | None] = {}


def current_gift(event: Any) -> bool:
    """A gift received with today's fields: a gift stored by older code (without ``account``
    or ``donor_ref``, say) is left to the slow paths, which know every older shape."""
    return event_name(event) == GIFT and tuple(vars(event)) == GIFT_EVENT_FIELDS


def gift_pair(gift: Any) -> tuple[str, str] | None:
    """(debit account, credit account) of a gift that is not in kind, or None if the fast
    paths should leave it to the slow one."""
    if not current_gift(gift) or gift.in_kind or not gift.amount_fen:
        return None
    amount_fen = gift.amount_fen
    shape = (
        gift.account,
        gift.project_id is None,
        gift.project_code,
        gift.donor_kind,
        amount_fen > 0,
    )
    try:
        return _pairs[shape]
    except KeyError:
        pass
    postings = postings_for(gift)
    pair = None
    if (
        len(postings) == 2
        and postings[0].amount_fen == amount_fen
        and postings[1].amount_fen == -amount_fen
    ):
        pair = (postings[0].account, postings[1].account)
    if len(_pairs) < SHAPES_MAX:
        _pairs[shape] = pair
    return pair
