"""Records of the store itself: the first result of a command given with a client's key, and
the format of the log's leaves from a recorded position on."""

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


LEAF_FORMAT_ID = derived_id("leaf-format")
# The leaf formats of the transparency log, oldest first (ledger.log.leaves).
LEAF_FORMAT_V1 = "fund-ledger/leaf/v1"
LEAF_FORMAT_V2 = "fund-ledger/leaf/v2"
LEAF_FORMAT_CURRENT = LEAF_FORMAT_V2


class LeafFormat(FundAggregate):
    """Which format the log's leaves take from this event on, recorded at a position so that
    every rebuild of the log, anywhere, makes the same leaves: before it, v1; from it on, its
    format. Recorded once, by the first write to a store that has none (a fresh store's first
    event, or the first write after an upgrade)."""

    @event("Adopted")
    def __init__(self, leaf_format: str, meta: Meta) -> None:
        self.leaf_format = leaf_format

    @staticmethod
    def create_id() -> UUID:
        return LEAF_FORMAT_ID
