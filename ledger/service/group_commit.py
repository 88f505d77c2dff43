"""Many independent donation orders decided together and saved in one transaction.

The webhook path of payment platforms sends gifts one at a time and many at once; the API's
``GroupCommitter`` (``ledger.service.batching``) gathers them for a moment and hands the batch
here. Each order is decided in turn against state read once for the batch; refused orders get
their own error; the rest are saved together, and nobody is answered before the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from ledger.domain import DIRECTORY_ID, FUND_ID, Donation, Donor, Fund, IdempotencyRecord, Project
from ledger.domain.checks import BATCH_SIZE_MAX
from ledger.domain.errors import (
    Duplicate,
    IdempotencyConflict,
    LedgerError,
    NotFound,
    TokenNotValid,
)
from ledger.service import donations
from ledger.service.donations import DonationCommands, DonationOrder
from ledger.service.kernel import Receipt, fingerprint, uuids

R = TypeVar("R", bound=Aggregate)
# Made receipt numbers drawn for one gift at most, each taken already: far past any chance.
RENUMBER_TRIES_MAX = 8


class _Group:
    """What a group commit of donations reads once, and what its orders have claimed so far."""

    def __init__(self, ledger: GroupCommits, orders: Sequence[DonationOrder]) -> None:
        self.orders = list(orders)  # an order whose made receipt number is taken is renumbered
        self.fingerprints = [
            fingerprint(
                "record_donation",
                ledger._blinded_notes([o.args()], o.idempotency_key)[0],
                o.received_on,
            )
            for o in orders
        ]
        self.record_ids = [
            IdempotencyRecord.create_id(o.actor.id, o.idempotency_key)
            if o.idempotency_key is not None
            else None
            for o in orders
        ]
        self.donation_ids = [Donation.create_id(o.receipt) for o in orders]
        read = {FUND_ID, *uuids(o.donor_id for o in orders)}
        read.update(uuids(o.project_id for o in orders if o.project_id))
        # Orders let in on the token table a request read without a query are checked here,
        # against the Directory as the batch reads it (and saved only if it has not moved).
        self.checks_tokens = any(o.token_sha256 is not None for o in orders)
        if self.checks_tokens:
            read.add(DIRECTORY_ID)
        # One query tells which keys and receipts are taken and how new the rest is.
        self.versions = ledger._versions(
            list(read | {r for r in self.record_ids if r} | set(self.donation_ids))
        )
        if FUND_ID not in self.versions:
            raise NotFound("fund", "(run `fund-ledger init` first)")
        self.fund = ledger._current(Fund, FUND_ID, "fund", self.versions)
        self.tokens = ledger.tokens_at(self.versions[DIRECTORY_ID]) if self.checks_tokens else {}
        self.records_stored = {r for r in self.record_ids if r in self.versions}
        # Receipts in the store, then also those this batch's orders record.
        self.receipts_taken = {d for d in self.donation_ids if d in self.versions}
        self.donors: dict[str, Any] = {}
        self.projects: dict[str, Any] = {}
        self.secrets: dict[str, bytes] = {}  # donor id -> their secret, made once a batch
        self.keys_claimed: dict[UUID, int] = {}  # idempotency record id -> the order's index
        self.replays_of: dict[int, int] = {}  # order index -> the earlier order it repeats
        self.made: dict[int, list[Aggregate]] = {}  # order index -> its new aggregates
        self.outcomes: list[Receipt | LedgerError | None] = [None] * len(orders)

    @staticmethod
    def looked_up(cache: dict[str, Any], key: str, find: Callable[[str], Any]) -> Any:
        """Read once per batch, refusals included."""
        if key not in cache:
            try:
                cache[key] = find(key)
            except LedgerError as error:
                cache[key] = error
        if isinstance(cache[key], LedgerError):
            raise cache[key]
        return cache[key]

    def read_versions(self) -> dict[UUID, int]:
        """The Fund, donors and projects the batch's decisions read, at their versions."""
        read = {FUND_ID: self.versions[FUND_ID]}
        if self.checks_tokens:
            read[DIRECTORY_ID] = self.versions[DIRECTORY_ID]
        for cache in (self.donors, self.projects):
            read.update((a.id, a.version) for a in cache.values() if isinstance(a, Aggregate))
        return read

    def answered(self) -> list[Receipt | LedgerError]:
        assert all(outcome is not None for outcome in self.outcomes), self.outcomes
        return [outcome for outcome in self.outcomes if outcome is not None]


class GroupCommits(DonationCommands):
    def record_donation_orders(
        self, orders: Sequence[DonationOrder]
    ) -> list[Receipt | LedgerError]:
        """Run many independent donation orders in one transaction (a group commit).

        Each order is decided in turn against state read once for the batch: the Fund, each
        donor and project, which receipts and idempotency keys are taken, in the store and
        by the orders before it. Orders refused get their own error; the new events of the
        rest are saved together. When the save meets a conflict (another writer took a
        receipt or a key meanwhile), each order runs again alone, so one never fails another.
        Nothing is returned before the save has committed.
        """
        assert len(orders) <= BATCH_SIZE_MAX, len(orders)
        try:
            group = _Group(self, orders)
        except NotFound as error:  # no fund yet
            return [error] * len(orders)
        for index in range(len(orders)):
            try:
                self._decide_grouped(group, index)
            except LedgerError as error:
                group.outcomes[index] = error
        if group.made:
            aggregates = [a for made in group.made.values() for a in made]
            try:
                # The batch decided on what it read once: none of it may have moved since.
                recordings = self.save(*aggregates, expected_versions=group.read_versions())
            except RecordConflictError:
                return self._one_by_one(group, [*group.made, *group.replays_of])
            positions = {r.domain_event.originator_id: r.notification.id for r in recordings}
            for index, made in group.made.items():
                position = max(positions[a.id] for a in made)
                group.outcomes[index] = Receipt(str(made[0].id), position)
        for index, first in group.replays_of.items():
            saved = group.outcomes[first]
            assert isinstance(saved, Receipt), saved
            group.outcomes[index] = Receipt(saved.id, saved.position, replayed=True)
        return group.answered()

    def _decide_grouped(self, group: _Group, index: int) -> None:
        """Decide one order of a group commit; raises its refusal."""
        order = group.orders[index]
        if order.token_sha256 is not None and group.tokens.get(order.token_sha256) != order.actor:
            raise TokenNotValid(order.actor.id)
        record_id = group.record_ids[index]
        if record_id is not None and self._replayed_in_group(group, index, record_id):
            return
        group.fund.check_open(order.received_on)
        donor = group.looked_up(
            group.donors,
            order.donor_id,
            self._reader(group, Donor, "donor", Donor.check_not_forgotten),
        )
        project = (
            group.looked_up(
                group.projects,
                order.project_id,
                self._reader(group, Project, "project", Project.check_open),
            )
            if order.project_id
            else None
        )
        donation_id = group.donation_ids[index]
        if donation_id in group.receipts_taken:
            order = self._renumbered(order, group.receipts_taken)
            donation_id = Donation.create_id(order.receipt)
            group.orders[index], group.donation_ids[index] = order, donation_id
        meta = order.meta()
        donor_ref = self._donor_ref(donor, str(donation_id), group.secrets)
        made: list[Aggregate] = [
            order.donation(donor, project, meta, self._sealed_note(donor, order.note), donor_ref)
        ]
        if record_id is not None:
            assert order.idempotency_key is not None
            made.append(
                IdempotencyRecord(
                    key=order.idempotency_key,
                    actor_id=order.actor.id,
                    fingerprint=group.fingerprints[index],
                    result_id=str(donation_id),
                    meta=meta,
                )
            )
            group.keys_claimed[record_id] = index
        group.receipts_taken.add(donation_id)
        group.made[index] = made

    def _renumbered(self, order: DonationOrder, taken: set[UUID]) -> DonationOrder:
        """The order with another made receipt number, when the one made for it is taken.

        A gift that came with its number is refused when that number is taken (a duplicate
        receipt). A made number is random (32 bits a day): with tens of thousands of gifts a
        day two orders draw the same one now and then, and that gift is no duplicate. Only
        here, at a batch's first decision, before any save of this order was tried: decided
        again after a commit whose answer was lost (``_one_by_one``), the number may be taken
        by this very gift, which must not be stored twice. ``taken``: the numbers the batch
        has claimed; the store is asked too."""
        if order.receipt_no is not None:
            raise Duplicate("receipt", order.receipt)
        for _ in range(RENUMBER_TRIES_MAX):
            renumbered = replace(order, receipt=donations.made_receipt_no(order.received_on))
            donation_id = Donation.create_id(renumbered.receipt)
            if donation_id not in taken and not self._exists(donation_id):
                return renumbered
        raise Duplicate("receipt", order.receipt)

    def _replayed_in_group(self, group: _Group, index: int, record_id: UUID) -> bool:
        """Whether this order repeats one before it in the batch or one already stored (its
        answer then being that one's); a different command under the same key is refused."""
        order = group.orders[index]
        assert order.idempotency_key is not None
        if record_id in group.keys_claimed:
            first = group.keys_claimed[record_id]
            if group.fingerprints[first] != group.fingerprints[index]:
                raise IdempotencyConflict(order.idempotency_key)
            group.replays_of[index] = first  # answered with the first one's result
            return True
        if record_id in group.records_stored:
            replay = self._replay(order.actor, order.idempotency_key, group.fingerprints[index])
            if replay is not None:
                group.outcomes[index] = replay
                return True
        return False

    def _reader(
        self, group: _Group, cls: type[R], what: str, check: Callable[[R], None]
    ) -> Callable[[str], R]:
        """Reads an aggregate at the version the batch read, checked (a donor not forgotten,
        a project still open)."""

        def find(key: str) -> R:
            found = self._current(cls, key, what, group.versions)
            check(found)
            return found

        return find

    def _one_by_one(self, group: _Group, pending: list[int]) -> list[Receipt | LedgerError]:
        for index in sorted(pending):
            try:
                group.outcomes[index] = self.record_donation_order(group.orders[index])
            except LedgerError as error:
                group.outcomes[index] = error
        return group.answered()
