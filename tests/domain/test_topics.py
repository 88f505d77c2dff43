"""Stored events name their classes by topic: a topic that changes orphans every event stored.

The aggregates live in modules of their own under ``ledger/domain/``; each class's topic is its
public name in ``ledger.domain`` so that code can move while stores in the field keep reading.
"""

from __future__ import annotations

from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic, resolve_topic

from ledger import domain

# Every topic a store written by any version of fund-ledger holds (events and aggregates).
STORED_TOPICS = {
    "Fund": [
        "Established",
        "Committed",
        "Released",
        "DonationReversed",
        "PeriodClosed",
        "YearClosed",
    ],
    "Directory": ["Created", "UserAdded", "UserRevoked", "TokenReissued"],
    "Donor": ["Registered", "Forgotten"],
    "Project": ["Opened", "Closed"],
    "Donation": ["Received", "Reversed", "InKindValued", "InKindUsed", "Depreciated"],
    "Grant": [
        "Proposed",
        "ApprovalGiven",
        "Approved",
        "Rejected",
        "Charged",
        "ChargeReversed",
        "Closed",
    ],
    "Expense": ["Paid", "PayeeForgotten", "Reversed"],
    "Opinion": ["Recorded", "Answered", "Superseded"],
    "Explanation": ["Recorded"],
    "Bill": ["Received", "Paid"],
    "Advance": ["Paid", "Settled"],
    "Custody": ["Received", "PassedOn"],
    "ServiceDonation": ["Recorded"],
    "IdempotencyRecord": ["Recorded"],
    "LeafFormat": ["Adopted"],
}


def test_every_stored_topic_names_ledger_domain_and_resolves_to_its_class() -> None:
    for aggregate_name, event_names in STORED_TOPICS.items():
        aggregate = getattr(domain, aggregate_name)
        assert get_topic(aggregate) == f"ledger.domain:{aggregate_name}"
        assert resolve_topic(f"ledger.domain:{aggregate_name}") is aggregate
        for event_name in event_names:
            event_class = getattr(aggregate, event_name)
            topic = f"ledger.domain:{aggregate_name}.{event_name}"
            assert get_topic(event_class) == topic
            assert resolve_topic(topic) is event_class


def test_no_aggregate_has_an_event_the_list_above_does_not_know() -> None:
    """A new event is fine; it must be added above, so that its topic is pinned too."""
    for aggregate_name, event_names in STORED_TOPICS.items():
        aggregate = getattr(domain, aggregate_name)
        own = {
            name
            for name, value in vars(aggregate).items()
            if isinstance(value, type)
            and issubclass(value, DomainEvent)
            and name not in {"Event", "Created"}
        }
        assert own <= {*event_names, "Created"}, aggregate_name
