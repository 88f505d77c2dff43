"""Many gifts at once, all or none: a batch from the API, or an import of a whole file.

A batch of up to ``BATCH_SIZE_MAX`` gifts is one command in one transaction. An import of a
file of any size is checked first (``preflight_donations``: every problem of every row, before
anything is recorded); then on PostgreSQL every gift goes in with one COPY in one transaction
(``ledger.store.bulk``), elsewhere in batches that the preflight makes all or nothing in
practice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any, Unpack
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain import Channel, Donation, Donor, Fund, Meta, Project
from ledger.domain.checks import (
    BATCH_SIZE_MAX,
    RECEIPT_CHARS_MAX,
    TEXT_CHARS_MAX,
    check_choice,
    check_date,
    check_optional_text,
)
from ledger.domain.donations import new_donation
from ledger.domain.errors import Duplicate, InvalidInput, LedgerError, NotFound
from ledger.domain.money import check_amount_fen
from ledger.service.donations import DonationCommands, made_receipt_no
from ledger.service.kernel import Actor, Decision, Keyed, Receipt, permitted
from ledger.store import bulk


class ReceiptsTaken(Duplicate):
    """An import met receipts already recorded: (index of the gift, what), as the preflight
    lists them; nothing was recorded."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__("receipt", ", ".join(problem for _, problem in problems[:10]))
        self.problems = problems


def _plain_receipt(receipt: object) -> bool:
    """Whether a receipt number passes ``check_optional_text`` without a closer look: text,
    not blank, short enough, no control characters (nor any other unprintable one)."""
    return (
        type(receipt) is str
        and 0 < len(receipt) <= RECEIPT_CHARS_MAX
        and receipt.isprintable()
        and not receipt.isspace()
    )


class DonationBatches(DonationCommands):
    @permitted("record_donation")
    def record_donations(
        self, actor: Actor, items: list[dict[str, Any]], **options: Unpack[Keyed]
    ) -> Receipt:
        """Record many donations in one transaction: all of them, or none.

        Each item has the arguments of ``record_donation``. The receipt's id is the first
        donation's; ``Receipt.ids`` lists them all in order.
        """
        if not isinstance(items, list) or not 1 <= len(items) <= BATCH_SIZE_MAX:
            raise InvalidInput("donations", str(len(items)), f"must be 1 to {BATCH_SIZE_MAX} items")
        checked = [self._check_donation(index, item) for index, item in enumerate(items)]
        receipts = [c["receipt_no"] for c in checked if c["receipt_no"]]
        # Numbers for gifts that came without one, made once so that retries keep them.
        numbered = [
            {**c, "receipt_no": c["receipt_no"] or made_receipt_no(c["received_on"], 5)}
            for c in checked
        ]
        duplicates = sorted({r for r in receipts if receipts.count(r) > 1})
        if duplicates:
            raise Duplicate("receipt", ", ".join(duplicates[:10]))

        def decide(meta: Meta) -> Decision:
            made = self._batch_of_donations(numbered, meta)
            ids = [str(d.id) for d in made]
            existing = self._existing([d.id for d in made])
            if existing:
                taken = sorted(d.receipt_no for d in made if d.id in existing)  # type: ignore[attr-defined]
                raise Duplicate("receipt", ", ".join(taken[:10]))
            # A batch's result is its ids, comma-separated, kept whole for idempotent replays.
            return ",".join(ids), made

        receipt = self._run(
            actor,
            "record_donation",
            {"batch": self._blinded_notes(checked, options.get("idempotency_key"))},
            decide,
            **options,
        )
        ids = receipt.id.split(",")
        return Receipt(ids[0], receipt.position, receipt.replayed, tuple(ids))

    def _batch_of_donations(self, items: list[dict[str, Any]], meta: Meta) -> list[Aggregate]:
        fund = self.fund()
        donors: dict[str, Donor] = {}
        projects: dict[str, Project] = {}
        secrets: dict[str, bytes] = {}
        made: list[Aggregate] = []
        for index, item in enumerate(items):
            fund.check_open(item["received_on"])
            donor_id = item["donor_id"]
            if donor_id not in donors:
                donors[donor_id] = self._get(Donor, donor_id, f"donor (item {index})")
                donors[donor_id].check_not_forgotten()
            project = None
            if item["project_id"]:
                if item["project_id"] not in projects:
                    projects[item["project_id"]] = self._get(
                        Project, item["project_id"], f"project (item {index})"
                    )
                project = projects[item["project_id"]]
                project.check_open()
            made.append(self._new_donation(donors[donor_id], project, item, meta, secrets))
        return made

    @property
    def imports_atomically(self) -> bool:
        """Whether ``import_donations`` stores all in one transaction (PostgreSQL's COPY)."""
        return hasattr(self.recorder, "copy_events")

    @permitted("record_donation")
    def import_donations(
        self,
        actor: Actor,
        items: Iterable[dict[str, Any]],
        *,
        progress: Callable[[int], None] = lambda done: None,
    ) -> int:
        """Record many donations, all or none; returns how many. Run the preflight first.

        On PostgreSQL every gift goes in with one COPY in one transaction (see
        ``ledger.store.bulk``); elsewhere in transactions of ``BATCH_SIZE_MAX``, which the
        preflight makes all or nothing in practice. Gifts without a receipt number get one, as
        ``record_donations`` gives them. On PostgreSQL the receipts already recorded may be
        left out of the preflight: the load refuses them all, with ``ReceiptsTaken``.
        """
        if not self.imports_atomically:
            return self._import_in_batches(actor, items, progress)
        self.adopt_leaf_format()  # the COPY below does not go through save
        donors: dict[str, Donor] = {}
        projects: dict[str, Project] = {}

        def donor_for(donor_id: str) -> Donor:
            if donor_id not in donors:
                donor = self._get(Donor, donor_id, "donor")
                donor.check_not_forgotten()
                donors[donor_id] = donor
            return donors[donor_id]

        def project_for(project_id: str) -> Project:
            if project_id not in projects:
                projects[project_id] = self._open_project(project_id)
            return projects[project_id]

        secrets: dict[str, bytes] = {}
        encoder = bulk.DonationEncoder(
            self.mapper,
            actor.id,
            actor.role.value,
            lambda donor, project, item, meta: self._new_donation(
                donor, project, item, meta, secrets
            ),
            lambda donor, donation_id: self._donor_ref(donor, donation_id, secrets),
        )
        receipts: list[str] = []
        chunks = bulk.copy_chunks(
            encoder, self._checked_for_import(items, receipts), donor_for, project_for
        )
        try:
            return bulk.copy_into_postgres(self.recorder, chunks, progress)
        except Duplicate:
            # The load is the check of the receipts taken (a preflight may leave it to the
            # load): say which, by the index of the gift, as the preflight would. (Those of
            # the gifts read before the refusal: the server reports it at the COPY's end.)
            taken = self._receipts_taken([{"receipt_no": r} for r in receipts])
            if not taken:
                raise
            raise ReceiptsTaken(taken) from None

    def _import_in_batches(
        self, actor: Actor, items: Iterable[dict[str, Any]], progress: Callable[[int], None]
    ) -> int:
        count = 0
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append(item)
            if len(batch) == BATCH_SIZE_MAX:
                count += len(self.record_donations(actor, batch).ids)
                progress(len(batch))
                batch = []
        if batch:
            count += len(self.record_donations(actor, batch).ids)
            progress(len(batch))
        return count

    def _checked_for_import(
        self, items: Iterable[dict[str, Any]], receipts: list[str]
    ) -> Iterator[dict[str, Any]]:
        """Each gift checked, numbered when it has no receipt number (listed in ``receipts``),
        its day checked open; the Fund read on the first gift, under the COPY's table lock.

        A million gifts share a few amounts, days and channels: a value checked once passes
        again without the whole check, and a plain receipt number without the scan for control
        characters. Anything else takes ``_check_donation``, which refuses as it always has.
        """
        funds: list[Fund] = []
        open_days: set[date] = set()
        amounts: set[int] = set()
        channels = {c.value: c.value for c in Channel}
        made: set[str] = set()

        def new_amount(amount_fen: int) -> bool:
            try:
                check_amount_fen(amount_fen)
            except InvalidInput:
                return False  # refused below by the whole check, in its order
            amounts.add(amount_fen)
            return True

        for index, item in enumerate(items):
            amount_fen = item.get("amount_fen")
            day = item.get("received_on")
            receipt = item.get("receipt_no")
            if (
                type(amount_fen) is int
                and (amount_fen in amounts or new_amount(amount_fen))
                and type(day) is date
                and day in open_days
                and item.get("note") is None
                and (receipt is None or _plain_receipt(receipt))
                and type(item.get("channel")) is str
                and item["channel"] in channels
            ):
                gift: dict[str, Any] = {
                    "donor_id": str(item.get("donor_id")),
                    "amount_fen": amount_fen,
                    "received_on": day,
                    "channel": channels[item["channel"]],
                    "receipt_no": receipt,
                    "project_id": item.get("project_id"),
                    "note": None,
                }
            else:
                gift = self._check_donation(index, item)
                amounts.add(gift["amount_fen"])
                if gift["received_on"] not in open_days:
                    if not funds:
                        funds.append(self.fund())
                    funds[0].check_open(gift["received_on"])
                    open_days.add(gift["received_on"])
            if not gift["receipt_no"]:
                # Made numbers are random: one made twice in a big file would refuse it all.
                number = made_receipt_no(gift["received_on"], 5)
                while number in made:
                    number = made_receipt_no(gift["received_on"], 5)
                made.add(number)
                gift["receipt_no"] = number
            receipts.append(gift["receipt_no"])
            yield gift

    def preflight_donations(
        self, items: list[dict[str, Any]], *, receipts: bool = True
    ) -> list[tuple[int, str]]:
        """Problems (item index, what) that would refuse these donations, found before any is
        recorded, so an import of many batches is all or nothing.

        ``receipts=False`` leaves out the receipts already recorded (a query over every gift's
        id): an import that stores all in one transaction finds those in its load, and refuses
        them there with ``ReceiptsTaken``, by the same index and words."""
        problems: list[tuple[int, str]] = []
        fund = self.fund()
        known: dict[str, bool] = {}

        def exists(cls: type[Aggregate], key: str) -> bool:
            if key not in known:
                try:
                    found = self._get(cls, key, cls.__name__.lower())
                    known[key] = not isinstance(found, Project) or found.is_open
                except NotFound:
                    known[key] = False
            return known[key]

        channels = {c.value for c in Channel}
        open_days: dict[Any, str | None] = {}
        for index, item in enumerate(items):
            day = item["received_on"]
            if day not in open_days:
                try:
                    fund.check_open(day)
                    open_days[day] = None
                except LedgerError as error:
                    open_days[day] = error.detail
            if open_days[day] is not None:
                problems.append((index, open_days[day]))  # type: ignore[arg-type]
            if item.get("channel") not in channels:
                problems.append((index, f"channel {item.get('channel')!r} is not known"))
            if not exists(Donor, item["donor_id"]):
                problems.append((index, f"no donor {item['donor_id']}"))
            if item.get("project_id") and not exists(Project, item["project_id"]):
                problems.append((index, f"no open project {item['project_id']}"))
        return sorted(problems + (self._receipts_taken(items) if receipts else []))

    def _receipts_taken(self, items: list[dict[str, Any]]) -> list[tuple[int, str]]:
        given: list[tuple[int, str, UUID]] = [
            (i, item["receipt_no"], UUID(bytes=bulk.receipt_id(item["receipt_no"])))
            for i, item in enumerate(items)
            if item.get("receipt_no")
        ]
        taken = self._existing([donation_id for _, _, donation_id in given])
        return [
            (i, f"receipt {receipt} is already recorded")
            for i, receipt, donation_id in given
            if donation_id in taken
        ]

    def _check_donation(self, index: int, item: dict[str, Any]) -> dict[str, Any]:
        try:
            amount_fen = check_amount_fen(item.get("amount_fen"))  # type: ignore[arg-type]
            received_on = check_date("received_on", item.get("received_on"))
            channel = check_choice("channel", item.get("channel"), Channel)
            check_optional_text("receipt_no", item.get("receipt_no"), RECEIPT_CHARS_MAX)
            check_optional_text("note", item.get("note"), TEXT_CHARS_MAX)
        except InvalidInput as error:
            raise error.within(f"donations[{index}]") from None
        return {
            "donor_id": str(item.get("donor_id")),
            "amount_fen": amount_fen,
            "received_on": received_on,
            "channel": channel.value,
            "receipt_no": item.get("receipt_no"),
            "project_id": item.get("project_id"),
            "note": item.get("note"),
        }

    def _new_donation(
        self,
        donor: Donor,
        project: Project | None,
        item: dict[str, Any],
        meta: Meta,
        secrets: dict[str, bytes] | None = None,
    ) -> Donation:
        """One gift of a batch: dated on its own day, its note sealed, its donor's reference
        made (with ``secrets``, the donors' secrets the batch has made)."""
        donation_id = str(Donation.create_id(item["receipt_no"]))
        return new_donation(
            donor,
            project,
            item["amount_fen"],
            item["channel"],
            item["receipt_no"],
            self._sealed_note(donor, item["note"]),
            Meta(meta.actor_id, meta.actor_role, item["received_on"], meta.idempotency_key),
            self._donor_ref(donor, donation_id, secrets),
        )
