"""Idempotency records: the first result of a command given with a client's key."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id


class IdempotencyRecord(FundAggregate):
    """The first result of a command sent with an idempotency key, saved with the command."""

    @event("Recorded")
    def __init__(
        self, key: str, actor_id: str, fingerprint: str, result_id: str, meta: Meta
    ) -> None:
        self.key = key
        self.actor_id = actor_id
        self.fingerprint = fingerprint
        self.result_id = result_id

    @staticmethod
    def create_id(actor_id: str, key: str) -> UUID:
        return derived_id("idempotency", actor_id, key)
