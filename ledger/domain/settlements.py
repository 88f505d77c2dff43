"""A payment platform's transactions already in the books, and the settlements recorded: what
makes importing the same settlement file twice change nothing."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id


class PlatformLedger(FundAggregate):
    """Per platform: each transaction id and the gift it is, and each settlement's transfer."""

    @event("Started")
    def __init__(self, platform: str, meta: Meta) -> None:
        self.platform = platform
        self.gifts: dict[str, str] = {}  # transaction id -> donation id
        self.settlements: dict[str, str] = {}  # settlement key -> transfer id

    @staticmethod
    def create_id(platform: str) -> UUID:
        return derived_id("platform-ledger", platform)

    @event("GiftLinked")
    def link(self, transaction_id: str, donation_id: str, recorded: bool, meta: Meta) -> None:
        """``recorded``: the gift was recorded from the file; else found recorded by hand."""
        self.gifts[transaction_id] = donation_id

    @event("Settled")
    def settle(self, key: str, transfer_id: str, meta: Meta) -> None:
        self.settlements[key] = transfer_id
