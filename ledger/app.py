"""The application service: every command the fund's people give, checked and stored as events."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    JSONTranscoder,
    RecordConflictError,
    Transcoding,
)
from eventsourcing.utils import Environment, get_topic

from ledger.books import Position, fold
from ledger.domain import (
    DIRECTORY_ID,
    FUND_ID,
    Category,
    Channel,
    Directory,
    Disclosure,
    Donation,
    Donor,
    DonorKind,
    Expense,
    Fund,
    Grant,
    GrantStatus,
    IdempotencyRecord,
    Meta,
    Opinion,
    PayeeKind,
    Project,
    ReceivedTotals,
    Role,
    derived_id,
    month_of,
)
from ledger.errors import (
    Contention,
    Duplicate,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    LedgerError,
    NotFound,
    NotPermitted,
    WrongState,
)
from ledger.money import check_amount_fen
from ledger.personal import Keyring, MemoryKeyring, SQLKeyring, is_sealed, seal
from ledger.storage import DEFAULT_DATABASE_URL, persistence_env, tune_postgres_pool

# China keeps one time zone all year; the fund's days are Beijing days.
FUND_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

RETRIES_MAX = 8
PAGE_SIZE_MAX = 1000
BATCH_SIZE_MAX = 10_000
TEXT_CHARS_MAX = 2000
NAME_CHARS_MAX = 200
OPINION_CHARS_MAX = 10_000
IDEMPOTENCY_KEY_CHARS_MAX = 200
QUORUM_MAX = 99
UNCHANGED_KEPT_MAX = 10_000

_PROJECT_CODE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

T = TypeVar("T", bound=Aggregate)


def today() -> date:
    return datetime.now(FUND_TZ).date()


@dataclass(frozen=True)
class Actor:
    """Who gives a command: a user of the directory, or the operator at the console."""

    id: str
    role: Role
    name: str = ""


OPERATOR = Actor(id="operator", role=Role.OPERATOR, name="operator")


@dataclass(frozen=True)
class Receipt:
    """What a command returns: the id it made or acted on, and the log position of its events."""

    id: str
    position: int
    replayed: bool = False
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DonationOrder:
    """One ``record_donation`` command, checked and ready to run alone or in a group commit."""

    actor: Actor
    donor_id: str
    amount_fen: int
    received_on: date
    channel: str
    receipt_no: str | None  # as given: part of the idempotency fingerprint
    receipt: str  # as given, or made for this order
    project_id: str | None
    note: str | None
    idempotency_key: str | None

    def args(self) -> dict[str, Any]:
        return {
            "donor_id": self.donor_id,
            "amount_fen": self.amount_fen,
            "received_on": self.received_on,
            "channel": self.channel,
            "receipt_no": self.receipt_no,
            "project_id": self.project_id,
            "note": self.note,
        }

    def donation(
        self, donor: Donor, project: Project | None, meta: Meta, sealed_note: str | None
    ) -> Donation:
        """The gift's aggregate; its note sealed beforehand under the donor's key."""
        return Donation(
            donor_id=str(donor.id),
            donor_kind=donor.kind,
            amount_fen=self.amount_fen,
            channel=self.channel,
            receipt_no=self.receipt,
            project_id=str(project.id) if project else None,
            project_code=project.code if project else None,
            in_kind=self.channel == Channel.IN_KIND,
            note=sealed_note,
            meta=meta,
        )


class _DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class _MetaAsDict(Transcoding):
    type = Meta
    name = "meta"

    def encode(self, obj: Meta) -> dict[str, Any]:
        return {
            "actor_id": obj.actor_id,
            "actor_role": obj.actor_role,
            "effective_on": obj.effective_on,
            "idempotency_key": obj.idempotency_key,
        }

    def decode(self, data: dict[str, Any]) -> Meta:
        return Meta(**data)


# Who may give which command. The API and the CLI both go through these checks.
RIGHTS: dict[str, tuple[Role, ...]] = {
    "establish_fund": (Role.OPERATOR,),
    "add_user": (Role.OPERATOR,),
    "revoke_user": (Role.OPERATOR,),
    "register_donor": (Role.TREASURER,),
    "open_project": (Role.TREASURER,),
    "close_project": (Role.COMMITTEE,),
    "record_donation": (Role.TREASURER,),
    "reverse_donation": (Role.COMMITTEE,),
    "propose_grant": (Role.COMMITTEE,),
    "approve_grant": (Role.COMMITTEE,),
    "reject_grant": (Role.COMMITTEE,),
    "close_grant": (Role.COMMITTEE,),
    "record_expense": (Role.TREASURER,),
    "reverse_expense": (Role.COMMITTEE,),
    "record_opinion": (Role.ADVISER,),
    "close_period": (Role.COMMITTEE,),
    # A person's right to erasure (PIPL art. 47): decided by the committee, or at the console.
    "forget_person": (Role.COMMITTEE, Role.OPERATOR),
}


F = TypeVar("F", bound=Callable[..., Any])


def _permitted(command: str) -> Callable[[F], F]:
    """Check the actor's right first, before looking at the input: a caller without the
    right learns nothing about what would have been accepted."""
    allowed = RIGHTS[command]

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def checked(self: FundLedger, actor: Actor, *args: Any, **kwargs: Any) -> Any:
            if actor.role not in allowed:
                raise NotPermitted(command, actor.role, tuple(allowed))
            return method(self, actor, *args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


class DonationTally:
    """Running totals of cash donations received, read forward from the notification log.

    Donations are never routed through the Fund aggregate, so a check that needs them reads
    the log from where it last stopped. Totals only ever grow, so a tally that is a moment
    old understates what is available: the safe side.
    """

    def __init__(self, app: FundLedger) -> None:
        self._app = app
        self._topic = get_topic(Donation.Received)  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self._position = 0
        self._unrestricted_fen = 0
        self._restricted_fen: defaultdict[str, int] = defaultdict(int)

    def current(self) -> ReceivedTotals:
        with self._lock:
            if self._position == 0:
                self._sum_in_sql()
            while True:
                batch = self._app.recorder.select_notifications(
                    start=self._position + 1, limit=PAGE_SIZE_MAX, topics=[self._topic]
                )
                for notification in batch:
                    received = self._app.mapper.to_domain_event(notification)
                    self._position = notification.id
                    if received.in_kind:  # type: ignore[attr-defined]
                        continue
                    project_id = received.project_id  # type: ignore[attr-defined]
                    amount_fen: int = received.amount_fen  # type: ignore[attr-defined]
                    if project_id is None:
                        self._unrestricted_fen += amount_fen
                    else:
                        self._restricted_fen[project_id] += amount_fen
                if len(batch) < PAGE_SIZE_MAX:
                    break
            return ReceivedTotals(self._unrestricted_fen, dict(self._restricted_fen))

    def _sum_in_sql(self) -> None:
        """The first reading, summed by the database over the stored JSON: reading a million
        gifts through the mapper took a minute; the database sums them in a second or two.
        The reading forward from the log carries on from the last gift summed here."""
        recorder: Any = self._app.recorder
        table = getattr(recorder, "events_table_name", None)
        mapper = self._app.mapper
        if table is None or mapper.cipher or mapper.compressor:  # read forward as usual
            return
        if hasattr(recorder.datastore, "schema"):
            state = "(convert_from(state, 'UTF8')::jsonb)"
            sql = (
                f"WITH upto AS (SELECT MAX(notification_id) AS last FROM"  # noqa: S608
                f' "{recorder.datastore.schema}"."{table}" WHERE topic = %s)'
                f" SELECT (SELECT last FROM upto) AS last, {state} ->> 'project_id' AS project,"
                f" SUM(({state} ->> 'amount_fen')::bigint) AS amount_fen"
                f' FROM "{recorder.datastore.schema}"."{table}"'
                f" WHERE topic = %s AND notification_id <= (SELECT last FROM upto)"
                f" AND NOT ({state} ->> 'in_kind')::boolean GROUP BY 2"
            )
        else:  # SQLite serialises writers: one statement sees one state of the table
            state = "CAST(state AS TEXT)"
            sql = (
                f"WITH upto AS (SELECT MAX(rowid) AS last FROM {table} WHERE topic = ?)"  # noqa: S608
                f" SELECT (SELECT last FROM upto) AS last,"
                f" json_extract({state}, '$.project_id') AS project,"
                f" SUM(json_extract({state}, '$.amount_fen')) AS amount_fen FROM {table}"
                f" WHERE topic = ? AND rowid <= (SELECT last FROM upto)"
                f" AND NOT json_extract({state}, '$.in_kind') GROUP BY 2"
            )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, (self._topic, self._topic))
            rows = cursor.fetchall()
        for row in rows:
            if row["project"] is None:
                self._unrestricted_fen += int(row["amount_fen"])
            else:
                self._restricted_fen[str(row["project"])] += int(row["amount_fen"])
            self._position = max(self._position, int(row["last"]))


class _Group:
    """What a group commit of donations reads once, and what its orders have claimed so far."""

    def __init__(self, ledger: FundLedger, orders: Sequence[DonationOrder]) -> None:
        self.orders = orders
        self.fingerprints = [
            _fingerprint(
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
        read = {FUND_ID, *_uuids(o.donor_id for o in orders)}
        read.update(_uuids(o.project_id for o in orders if o.project_id))
        # One query tells which keys and receipts are taken and how new the rest is.
        self.versions = ledger._versions(
            list(read | {r for r in self.record_ids if r} | set(self.donation_ids))
        )
        if FUND_ID not in self.versions:
            raise NotFound("fund", "(run `fund-ledger init` first)")
        self.fund = ledger._current(Fund, FUND_ID, "fund", self.versions)
        self.records_stored = {r for r in self.record_ids if r in self.versions}
        # Receipts in the store, then also those this batch's orders record.
        self.receipts_taken = {d for d in self.donation_ids if d in self.versions}
        self.donors: dict[str, Any] = {}
        self.projects: dict[str, Any] = {}
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
        for cache in (self.donors, self.projects):
            read.update((a.id, a.version) for a in cache.values() if isinstance(a, Aggregate))
        return read

    def answered(self) -> list[Receipt | LedgerError]:
        assert all(outcome is not None for outcome in self.outcomes), self.outcomes
        return [outcome for outcome in self.outcomes if outcome is not None]


class FundLedger(Application[UUID]):
    """The fund's books: commands in, events stored, positions out."""

    name = "FundLedger"
    snapshotting_intervals: ClassVar[dict[Any, int]] = {Fund: 100, Directory: 100}

    def __init__(self, store: str | Mapping[str, str] = DEFAULT_DATABASE_URL) -> None:
        """Open the store named by a database URL, or by an eventsourcing environment.

        eventsourcing's ProjectionRunner constructs the application from an environment, so
        both are accepted; people and configuration use URLs.
        """
        env = persistence_env(store) if isinstance(store, str) else dict(store)
        env.setdefault("CREATE_TABLE", "y")
        self.persistence_env = env
        super().__init__(env)
        self.tally = DonationTally(self)
        # Active users by token hash, with the Directory version they were read at.
        self._tokens: tuple[int, dict[str, Actor]] | None = None
        # Aggregates group commits only read (the Fund, donors, projects), checked by version.
        self._unchanged: dict[UUID, Aggregate] = {}
        self._unchanged_lock = threading.Lock()
        # What the command running in this thread has read, for the save to check.
        self._reads = threading.local()
        datastore = getattr(self.recorder, "datastore", None)
        self.keyring: Keyring = (
            MemoryKeyring()
            if datastore is None
            else SQLKeyring(datastore, create=env["CREATE_TABLE"].lower() in {"y", "yes", "1"})
        )

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        # Before the tables are made, so that even the first pooled connections are tuned.
        factory = super().construct_factory(env)
        tune_postgres_pool(getattr(factory, "datastore", None))
        return factory

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_DateAsISO())
        transcoder.register(_MetaAsDict())

    # -- plumbing ----------------------------------------------------------------------------

    def _get(self, cls: type[T], aggregate_id: str | UUID, what: str) -> T:
        try:
            key = aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
        except ValueError:
            raise NotFound(what, aggregate_id) from None
        try:
            found: object = self.repository.get(key)
        except AggregateNotFoundError:
            raise NotFound(what, aggregate_id) from None
        if not isinstance(found, cls):
            raise NotFound(what, aggregate_id)
        self._noted(found)
        return found

    def _noted(self, found: Aggregate) -> None:
        """Within a command's decision: the save checks this aggregate is still at the
        version first read (a project still open, a donor not forgotten, the Fund's months)."""
        versions: dict[UUID, int] | None = getattr(self._reads, "versions", None)
        if versions is not None:
            versions[found.id] = min(versions.get(found.id, found.version), found.version)

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _existing(self, aggregate_ids: list[UUID]) -> set[UUID]:
        """Which of these aggregates exist, in one query per thousand ids, not one each."""
        return set(self._versions(aggregate_ids))

    def _versions(self, aggregate_ids: list[UUID]) -> dict[UUID, int]:
        """The stored version of each of these aggregates that exists, a query per thousand."""
        recorder: Any = self.recorder
        found: dict[UUID, int] = {}
        table = getattr(recorder, "events_table_name", None)
        if table is None:  # the in-memory store, for unit tests
            for i in aggregate_ids:
                last = self.recorder.select_events(i, desc=True, limit=1)
                if last:
                    found[i] = last[0].originator_version
            return found
        postgres = hasattr(recorder.datastore, "schema")
        for start in range(0, len(aggregate_ids), PAGE_SIZE_MAX):
            chunk = aggregate_ids[start : start + PAGE_SIZE_MAX]
            with recorder.datastore.transaction(commit=False) as cursor:
                if postgres:
                    cursor.execute(
                        "SELECT originator_id, max(originator_version) AS version FROM "  # noqa: S608
                        f'"{recorder.datastore.schema}"."{table}" '
                        "WHERE originator_id = ANY(%s) GROUP BY originator_id",
                        (chunk,),
                    )
                    found.update(
                        (UUID(str(row["originator_id"])), int(row["version"]))
                        for row in cursor.fetchall()
                    )
                else:
                    marks = ",".join("?" * len(chunk))
                    cursor.execute(
                        "SELECT originator_id, max(originator_version) AS version "  # noqa: S608
                        f"FROM {table} WHERE originator_id IN ({marks}) GROUP BY originator_id",
                        [i.hex for i in chunk],
                    )
                    found.update(
                        (UUID(row["originator_id"]), int(row["version"]))
                        for row in cursor.fetchall()
                    )
        return found

    def _current(
        self, cls: type[T], aggregate_id: str | UUID, what: str, versions: Mapping[UUID, int]
    ) -> T:
        """An aggregate the caller only reads, at the stored version given; kept between calls
        while that version stays the newest, so a batch need not replay it again."""
        try:
            key = aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
        except ValueError:
            raise NotFound(what, aggregate_id) from None
        version = versions.get(key)
        if version is None:
            raise NotFound(what, aggregate_id)
        with self._unchanged_lock:
            kept = self._unchanged.get(key)
        if isinstance(kept, cls) and kept.version == version:
            return kept
        found = self._get(cls, key, what)
        with self._unchanged_lock:
            if len(self._unchanged) >= UNCHANGED_KEPT_MAX:
                self._unchanged.clear()
            self._unchanged[key] = found
        return found

    def _require_fund(self) -> None:
        """The fund must exist; a decision that needs nothing else of it does not read it (so
        its save is not sent back to decide by an unrelated change to the Fund)."""
        if not self._exists(FUND_ID):
            raise NotFound("fund", "(run `fund-ledger init` first)")

    def fund(self) -> Fund:
        try:
            found: object = self.repository.get(FUND_ID)
        except AggregateNotFoundError:
            raise NotFound("fund", "(run `fund-ledger init` first)") from None
        assert isinstance(found, Fund)
        self._noted(found)
        return found

    def directory(self) -> Directory:
        try:
            found: object = self.repository.get(DIRECTORY_ID)
        except AggregateNotFoundError:
            return Directory(meta=Meta(OPERATOR.id, OPERATOR.role, today()))
        assert isinstance(found, Directory)
        return found

    def _run(
        self,
        actor: Actor,
        command: str,
        args: dict[str, Any],
        decide: Callable[[Meta], tuple[str, list[Aggregate]]],
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Check the actor's right, decide on fresh state, save atomically; retry on conflict.

        With an idempotency key the first result is saved in the same transaction as the
        command's events, so a retried command returns it and a different one is refused.
        """
        allowed = RIGHTS[command]
        if actor.role not in allowed:
            raise NotPermitted(command, actor.role, tuple(allowed))
        if idempotency_key is not None:
            _text("Idempotency-Key", idempotency_key, IDEMPOTENCY_KEY_CHARS_MAX)
        if on is not None:
            _check_date("on", on)
        meta = Meta(actor.id, actor.role.value, on or today(), idempotency_key)
        fingerprint = _fingerprint(command, args, on)
        for _attempt in range(RETRIES_MAX):
            if idempotency_key is not None:
                replay = self._replay(actor, idempotency_key, fingerprint)
                if replay is not None:
                    return replay
            self._reads.versions = {}  # what this decision reads, at which versions
            try:
                result_id, aggregates = decide(meta)
                expected = self._reads.versions
            finally:
                self._reads.versions = None
            if idempotency_key is not None:
                aggregates.append(
                    IdempotencyRecord(
                        key=idempotency_key,
                        actor_id=actor.id,
                        fingerprint=fingerprint,
                        result_id=result_id,
                        meta=meta,
                    )
                )
            # A decision holds only if what it read has not moved since (the Fund's closed
            # months and commitments, a project still open, a donor not forgotten): checked
            # under the writers' lock, before the events go in.
            try:
                recordings = self.save(*aggregates, expected_versions=expected)
            except RecordConflictError:
                continue  # someone else changed what this decision read: decide again
            position = max(r.notification.id for r in recordings) if recordings else 0
            return Receipt(result_id, position)
        raise Contention(RETRIES_MAX)

    def _replay(self, actor: Actor, key: str, fingerprint: str) -> Receipt | None:
        record_id = IdempotencyRecord.create_id(actor.id, key)
        stored = self.recorder.select_events(record_id, limit=1)
        if not stored:
            return None
        record = self._get(IdempotencyRecord, record_id, "idempotency record")
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(key)
        return Receipt(record.result_id, 0, replayed=True)

    # -- the fund and its people ---------------------------------------------------------------

    @_permitted("establish_fund")
    def establish_fund(
        self, actor: Actor, name: str, quorum: int = 3, *, on: date | None = None
    ) -> Receipt:
        _text("name", name, NAME_CHARS_MAX)
        if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= QUORUM_MAX:
            raise InvalidInput(
                "quorum", repr(quorum), f"must be a whole number from 1 to {QUORUM_MAX}"
            )

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            if self._exists(FUND_ID):
                raise Duplicate("fund", self.fund().name)
            return str(FUND_ID), [Fund(name=name, currency="CNY", quorum=quorum, meta=meta)]

        return self._run(actor, "establish_fund", {"name": name, "quorum": quorum}, decide, on=on)

    @_permitted("add_user")
    def add_user(
        self, actor: Actor, name: str, role: str, *, on: date | None = None
    ) -> tuple[Receipt, str]:
        """Add a person; returns the receipt and their bearer token (only its hash is kept)."""
        _text("name", name, NAME_CHARS_MAX)
        user_role = _choice("role", role, Role)
        if user_role is Role.OPERATOR:
            raise InvalidInput("role", role, "is reserved for the console")
        token = secrets.token_urlsafe(32)
        token_sha256 = hashlib.sha256(token.encode()).hexdigest()
        user_id = str(uuid4())

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            directory = self.directory()
            directory.add_user(user_id, name, user_role.value, token_sha256, meta)
            return user_id, [directory]

        receipt = self._run(actor, "add_user", {"name": name, "role": role}, decide, on=on)
        return receipt, token

    @_permitted("revoke_user")
    def revoke_user(self, actor: Actor, name: str) -> Receipt:
        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            directory = self.directory()
            user_id = directory.user_named(name)
            if user_id is None:
                raise NotFound("user", name)
            directory.revoke(user_id, meta)
            return user_id, [directory]

        return self._run(actor, "revoke_user", {"name": name}, decide)

    def actor_named(self, name: str) -> Actor:
        directory = self.directory()
        user_id = directory.user_named(name)
        if user_id is None:
            raise NotFound("user", name)
        user = directory.users[user_id]
        if user["revoked"]:
            raise WrongState("user", name, "revoked", "active")
        return Actor(user_id, Role(user["role"]), name)

    def authenticate(self, token: str) -> Actor | None:
        """The active user holding this bearer token, found by the token's hash.

        Looking the hash up in a table leaks nothing useful through timing: a caller chooses
        the token, not its SHA-256. The table is rebuilt whenever the Directory has a newer
        stored version, checked on every call, so a revocation by this process or any other
        takes effect at the next request.
        """
        presented = hashlib.sha256(token.encode()).hexdigest()
        return self._active_tokens().get(presented)

    def _active_tokens(self) -> dict[str, Actor]:
        last = self.recorder.select_events(DIRECTORY_ID, desc=True, limit=1)
        version = last[0].originator_version if last else 0
        cached = self._tokens
        if cached is not None and cached[0] == version:
            return cached[1]
        # Keyed by the version read before loading: a Directory loaded newer than that is
        # only reloaded once more, never served stale.
        table = {
            user["token_sha256"]: Actor(user_id, Role(user["role"]), user["name"])
            for user_id, user in self.directory().users.items()
            if not user["revoked"]
        }
        self._tokens = (version, table)
        return table

    # -- donors, projects, donations -----------------------------------------------------------

    @_permitted("register_donor")
    def register_donor(
        self,
        actor: Actor,
        name: str,
        kind: str,
        disclosure: str,
        contact: dict[str, str] | None = None,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        _text("name", name, NAME_CHARS_MAX)
        donor_kind = _choice("kind", kind, DonorKind)
        donor_disclosure = _choice("disclosure", disclosure, Disclosure)
        contact = dict(contact or {})
        if len(contact) > 10:
            raise InvalidInput("contact", str(len(contact)), "has more than 10 entries")
        for contact_key, contact_value in contact.items():
            _text("contact key", contact_key, 50)
            _text("contact", contact_value, NAME_CHARS_MAX)

        # With an idempotency key a retry names the same donor, so its fingerprint opens alike.
        donor_id = derived_id("donor", actor.id, idempotency_key) if idempotency_key else uuid4()

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            self._require_fund()
            # Sealed under the donor's own key, made before the event that needs it is stored.
            key = self.keyring.key_for(str(donor_id))
            assert key is not None
            donor = _created(
                Donor,
                "Registered",
                donor_id,
                name=name
                if donor_kind is not DonorKind.INDIVIDUAL
                else seal(key, str(donor_id), name),
                kind=donor_kind.value,
                disclosure=donor_disclosure.value,
                contact=seal(key, str(donor_id), contact) if contact else {},
                meta=meta,
            )
            return str(donor.id), [donor]

        args = {
            "name": self._blinded(str(donor_id), name, idempotency_key),
            "kind": kind,
            "disclosure": disclosure,
            "contact": self._blinded(str(donor_id), contact, idempotency_key),
        }
        return self._run(
            actor, "register_donor", args, decide, on=on, idempotency_key=idempotency_key
        )

    @_permitted("open_project")
    def open_project(
        self,
        actor: Actor,
        code: str,
        name: str,
        name_en: str | None = None,
        description: str | None = None,
        organisation: str | None = None,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        if not isinstance(code, str) or not _PROJECT_CODE.match(code):
            raise InvalidInput(
                "code", repr(code), "must be 2-32 lower-case letters, digits or hyphens"
            )
        _text("name", name, NAME_CHARS_MAX)
        _optional_text("name_en", name_en, NAME_CHARS_MAX)
        _optional_text("description", description, TEXT_CHARS_MAX)
        _optional_text("organisation", organisation, NAME_CHARS_MAX)

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            self._require_fund()
            project_id = Project.create_id(code)
            if self._exists(project_id):
                raise Duplicate("project", code)
            project = Project(
                code=code,
                name=name,
                name_en=name_en,
                description=description,
                organisation=organisation,
                meta=meta,
            )
            return str(project_id), [project]

        args = {
            "code": code,
            "name": name,
            "name_en": name_en,
            "description": description,
            "organisation": organisation,
        }
        return self._run(
            actor, "open_project", args, decide, on=on, idempotency_key=idempotency_key
        )

    @_permitted("close_project")
    def close_project(
        self, actor: Actor, project_id: str, *, idempotency_key: str | None = None
    ) -> Receipt:
        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            project = self._get(Project, project_id, "project")
            project.close(meta)
            return project_id, [project]

        return self._run(
            actor,
            "close_project",
            {"project_id": project_id},
            decide,
            idempotency_key=idempotency_key,
        )

    def project_by_code(self, code: str) -> Project:
        return self._get(Project, Project.create_id(code), "project")

    @_permitted("record_donation")
    def record_donation(
        self,
        actor: Actor,
        donor_id: str,
        amount_fen: int,
        received_on: date,
        channel: str,
        receipt_no: str | None = None,
        project_id: str | None = None,
        note: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Record a gift; ``project_id`` restricts it, channel ``in_kind`` records goods."""
        order = self.donation_order(
            actor,
            donor_id,
            amount_fen,
            received_on,
            channel,
            receipt_no,
            project_id,
            note,
            idempotency_key=idempotency_key,
        )
        return self.record_donation_order(order)

    @_permitted("record_donation")
    def donation_order(
        self,
        actor: Actor,
        donor_id: str,
        amount_fen: int,
        received_on: date,
        channel: str,
        receipt_no: str | None = None,
        project_id: str | None = None,
        note: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> DonationOrder:
        """A ``record_donation`` command checked for everything that needs no stored state,
        to be run alone or in a group commit (``record_donation_orders``)."""
        check_amount_fen(amount_fen)
        _check_date("received_on", received_on)
        donation_channel = _choice("channel", channel, Channel)
        _optional_text("receipt_no", receipt_no, 64)
        _optional_text("note", note, TEXT_CHARS_MAX)
        if idempotency_key is not None:
            _text("Idempotency-Key", idempotency_key, IDEMPOTENCY_KEY_CHARS_MAX)
        return DonationOrder(
            actor=actor,
            donor_id=donor_id,
            amount_fen=amount_fen,
            received_on=received_on,
            channel=donation_channel.value,
            receipt_no=receipt_no,
            # Made once, so that a retry of the same order keeps its number.
            receipt=receipt_no or f"NH{received_on:%Y%m%d}-{secrets.token_hex(4).upper()}",
            project_id=project_id,
            note=note,
            idempotency_key=idempotency_key,
        )

    def record_donation_order(self, order: DonationOrder) -> Receipt:
        """One donation in a transaction of its own."""

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            self.fund().check_open(order.received_on)
            donor = self._get(Donor, order.donor_id, "donor")
            donor.check_not_forgotten()
            project = self._open_project(order.project_id)
            donation_id = Donation.create_id(order.receipt)
            if self._exists(donation_id):
                raise Duplicate("receipt", order.receipt)
            note = self._sealed_note(donor, order.note)
            return str(donation_id), [order.donation(donor, project, meta, note)]

        [args] = self._blinded_notes([order.args()], order.idempotency_key)
        return self._run(
            order.actor,
            "record_donation",
            args,
            decide,
            on=order.received_on,
            idempotency_key=order.idempotency_key,
        )

    def _open_project(self, project_id: str | None) -> Project | None:
        return _open(self._get(Project, project_id, "project")) if project_id else None

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
        fingerprint = group.fingerprints[index]
        record_id = group.record_ids[index]
        if record_id is not None and record_id in group.keys_claimed:
            first = group.keys_claimed[record_id]
            if group.fingerprints[first] != fingerprint:
                raise IdempotencyConflict(str(order.idempotency_key))
            group.replays_of[index] = first  # answered with the first one's result
            return
        if record_id is not None and record_id in group.records_stored:
            assert order.idempotency_key is not None
            replay = self._replay(order.actor, order.idempotency_key, fingerprint)
            if replay is not None:
                group.outcomes[index] = replay
                return
        group.fund.check_open(order.received_on)
        donor = group.looked_up(
            group.donors,
            order.donor_id,
            lambda key: _not_forgotten(self._current(Donor, key, "donor", group.versions)),
        )
        project = (
            group.looked_up(
                group.projects,
                order.project_id,
                lambda key: _open(self._current(Project, key, "project", group.versions)),
            )
            if order.project_id
            else None
        )
        donation_id = group.donation_ids[index]
        if donation_id in group.receipts_taken:
            raise Duplicate("receipt", order.receipt)
        meta = Meta(
            order.actor.id, order.actor.role.value, order.received_on, order.idempotency_key
        )
        made: list[Aggregate] = [
            order.donation(donor, project, meta, self._sealed_note(donor, order.note))
        ]
        if record_id is not None:
            assert order.idempotency_key is not None
            made.append(
                IdempotencyRecord(
                    key=order.idempotency_key,
                    actor_id=order.actor.id,
                    fingerprint=fingerprint,
                    result_id=str(donation_id),
                    meta=meta,
                )
            )
            group.keys_claimed[record_id] = index
        group.receipts_taken.add(donation_id)
        group.made[index] = made

    def _one_by_one(self, group: _Group, pending: list[int]) -> list[Receipt | LedgerError]:
        for index in sorted(pending):
            try:
                group.outcomes[index] = self.record_donation_order(group.orders[index])
            except LedgerError as error:
                group.outcomes[index] = error
        return group.answered()

    @_permitted("record_donation")
    def record_donations(
        self,
        actor: Actor,
        items: list[dict[str, Any]],
        *,
        idempotency_key: str | None = None,
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
        generated = [
            c["receipt_no"] or f"NH{c['received_on']:%Y%m%d}-{secrets.token_hex(5).upper()}"
            for c in checked
        ]
        duplicates = sorted({r for r in receipts if receipts.count(r) > 1})
        if duplicates:
            raise Duplicate("receipt", ", ".join(duplicates[:10]))

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            fund = self.fund()
            ids: list[str] = []
            donors: dict[str, Donor] = {}
            projects: dict[str, Project] = {}
            made: list[Aggregate] = []
            for index, item in enumerate(checked):
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
                    if not project.is_open:
                        raise WrongState("project", project.code, "closed", "open")
                donation = self._new_donation(
                    donors[donor_id], project, {**item, "receipt_no": generated[index]}, meta
                )
                ids.append(str(donation.id))
                made.append(donation)
            existing = self._existing([UUID(i) for i in ids])
            if existing:
                taken = sorted(d.receipt_no for d in made if d.id in existing)  # type: ignore[attr-defined]
                raise Duplicate("receipt", ", ".join(taken[:10]))
            # A batch's result is its ids, comma-separated, kept whole for idempotent replays.
            return ",".join(ids), made

        receipt = self._run(
            actor,
            "record_donation",
            {"batch": self._blinded_notes(checked, idempotency_key)},
            decide,
            idempotency_key=idempotency_key,
        )
        ids = receipt.id.split(",")
        return Receipt(ids[0], receipt.position, receipt.replayed, tuple(ids))

    @property
    def imports_atomically(self) -> bool:
        """Whether ``import_donations`` stores all in one transaction (PostgreSQL's COPY)."""
        return hasattr(self.recorder, "copy_events")

    @_permitted("record_donation")
    def import_donations(
        self,
        actor: Actor,
        items: Iterable[dict[str, Any]],
        *,
        progress: Callable[[int], None] = lambda done: None,
    ) -> int:
        """Record many donations, all or none; returns how many. Run the preflight first.

        On PostgreSQL every gift goes in with one COPY in one transaction (see ledger.bulk);
        elsewhere in transactions of ``BATCH_SIZE_MAX``, which the preflight makes all or
        nothing in practice. Gifts without a receipt number get one, as ``record_donations``
        gives them.
        """
        from ledger import bulk

        if not self.imports_atomically:
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
        funds: list[Fund] = []  # read on the first gift, under the COPY's table lock
        open_days: set[date] = set()
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
                project = self._get(Project, project_id, "project")
                if not project.is_open:
                    raise WrongState("project", project.code, "closed", "open")
                projects[project_id] = project
            return projects[project_id]

        def checked() -> Iterator[dict[str, Any]]:
            for index, item in enumerate(items):
                gift = self._check_donation(index, item)
                if gift["received_on"] not in open_days:
                    if not funds:
                        funds.append(self.fund())
                    funds[0].check_open(gift["received_on"])
                    open_days.add(gift["received_on"])
                if not gift["receipt_no"]:
                    gift["receipt_no"] = (
                        f"NH{gift['received_on']:%Y%m%d}-{secrets.token_hex(5).upper()}"
                    )
                yield gift

        encoder = bulk.DonationEncoder(self, actor.id, actor.role.value)
        return bulk.copy_into_postgres(
            self, bulk.stored_donations(encoder, checked(), donor_for, project_for), progress
        )

    def preflight_donations(self, items: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """Problems (item index, what) that would refuse these donations, found before any is
        recorded, so an import of many batches is all or nothing."""
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
        for index, item in enumerate(items):
            try:
                fund.check_open(item["received_on"])
            except LedgerError as error:
                problems.append((index, error.detail))
            if item.get("channel") not in channels:
                problems.append((index, f"channel {item.get('channel')!r} is not known"))
            if not exists(Donor, item["donor_id"]):
                problems.append((index, f"no donor {item['donor_id']}"))
            if item.get("project_id") and not exists(Project, item["project_id"]):
                problems.append((index, f"no open project {item['project_id']}"))
        given = [
            (i, item["receipt_no"], Donation.create_id(item["receipt_no"]))
            for i, item in enumerate(items)
            if item.get("receipt_no")
        ]
        taken = self._existing([donation_id for _, _, donation_id in given])
        problems += [
            (i, f"receipt {receipt} is already recorded")
            for i, receipt, donation_id in given
            if donation_id in taken
        ]
        return sorted(problems)

    def _check_donation(self, index: int, item: dict[str, Any]) -> dict[str, Any]:
        try:
            amount_fen = check_amount_fen(item.get("amount_fen"))  # type: ignore[arg-type]
            received_on = item.get("received_on")
            _check_date("received_on", received_on)
            assert isinstance(received_on, date)
            channel = _choice("channel", item.get("channel"), Channel)
            _optional_text("receipt_no", item.get("receipt_no"), 64)
            _optional_text("note", item.get("note"), TEXT_CHARS_MAX)
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
        self, donor: Donor, project: Project | None, item: dict[str, Any], meta: Meta
    ) -> Donation:
        return Donation(
            donor_id=str(donor.id),
            donor_kind=donor.kind,
            amount_fen=item["amount_fen"],
            channel=item["channel"],
            receipt_no=item["receipt_no"],
            project_id=str(project.id) if project else None,
            project_code=project.code if project else None,
            in_kind=item["channel"] == Channel.IN_KIND,
            note=self._sealed_note(donor, item["note"]),
            meta=Meta(meta.actor_id, meta.actor_role, item["received_on"], meta.idempotency_key),
        )

    def _blinded(self, person_id: str, value: object, idempotency_key: str | None) -> object:
        """What a command's fingerprint takes of a person's data: a hash keyed with their key.

        The fingerprint is stored with the idempotency record, for good; a plain hash would let
        anyone holding the store confirm a guess of the data, even after the person is forgotten.
        """
        if idempotency_key is None or value in (None, "", {}):
            return value
        key = self.keyring.key_for(person_id)
        if key is None:
            raise WrongState("person", person_id, "forgotten", "registered")
        return _keyed_hash(key, value)

    def _blinded_notes(
        self, items: list[dict[str, Any]], idempotency_key: str | None
    ) -> list[dict[str, Any]]:
        """Gifts as their fingerprint takes them: each note hashed with its donor's key."""
        noted = {str(i["donor_id"]) for i in items if i["note"] is not None}
        if idempotency_key is None or not noted:
            return items
        ids = []
        for donor_id in noted:
            try:
                ids.append(UUID(donor_id))
            except ValueError:
                continue  # no such donor: the command is refused and stores nothing
        # Only donors that exist get a key made for them.
        keys = {str(i): self.keyring.key_for(str(i)) for i in self._existing(ids)}
        return [
            {**item, "note": _keyed_hash(key, item["note"])}
            if item["note"] is not None and (key := keys.get(str(item["donor_id"])))
            else item
            for item in items
        ]

    def _sealed_note(self, donor: Donor, note: str | None) -> str | None:
        """A note on a gift may say anything about the giver: sealed under the donor's key."""
        if note is None:
            return None
        key = self.keyring.key_for(str(donor.id))
        if key is None:
            raise WrongState("donor", donor.id, "forgotten", "registered")
        return seal(key, str(donor.id), note)

    @_permitted("reverse_donation")
    def reverse_donation(
        self,
        actor: Actor,
        donation_id: str,
        reason: str,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        _text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            fund = self.fund()
            fund.check_open(meta.effective_on)
            donation = self._get(Donation, donation_id, "donation")
            donation.reverse(reason, meta)
            if donation.in_kind:
                return donation_id, [donation]
            fund.reverse_donation(
                donation_id, donation.project_id, donation.amount_fen, self.tally.current(), meta
            )
            return donation_id, [donation, fund]

        args = {"donation_id": donation_id, "reason": reason}
        return self._run(
            actor, "reverse_donation", args, decide, on=on, idempotency_key=idempotency_key
        )

    # -- grants ------------------------------------------------------------------------------

    @_permitted("propose_grant")
    def propose_grant(
        self,
        actor: Actor,
        project_id: str,
        amount_fen: int,
        purpose: str,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        check_amount_fen(amount_fen)
        _text("purpose", purpose, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            fund = self.fund()
            fund.check_open(meta.effective_on)
            project = self._get(Project, project_id, "project")
            if not project.is_open:
                raise WrongState("project", project.code, "closed", "open")
            # Checked again, and reserved, when the quorum approves; this refuses early.
            restricted_fen, unrestricted_fen = fund.available_fen(
                str(project.id), self.tally.current()
            )
            if amount_fen > restricted_fen + unrestricted_fen:
                raise InsufficientFunds(project.code, restricted_fen + unrestricted_fen, amount_fen)
            grant = Grant(
                project_id=str(project.id),
                project_code=project.code,
                amount_fen=amount_fen,
                purpose=purpose,
                meta=meta,
            )
            return str(grant.id), [grant]

        args = {"project_id": project_id, "amount_fen": amount_fen, "purpose": purpose}
        return self._run(
            actor, "propose_grant", args, decide, on=on, idempotency_key=idempotency_key
        )

    @_permitted("approve_grant")
    def approve_grant(
        self,
        actor: Actor,
        grant_id: str,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Record one member's approval; the quorum's last approval commits the money."""

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            fund = self.fund()
            fund.check_open(meta.effective_on)
            grant = self._get(Grant, grant_id, "grant")
            grant.approve(actor.id, meta)
            if not grant.reaches(fund.quorum):
                return grant_id, [grant]
            restricted_fen, unrestricted_fen = fund.commit(
                grant_id,
                grant.project_id,
                grant.project_code,
                grant.amount_fen,
                self.tally.current(),
                meta,
            )
            grant.mark_approved(grant.project_code, restricted_fen, unrestricted_fen, meta)
            return grant_id, [grant, fund]

        return self._run(
            actor,
            "approve_grant",
            {"grant_id": grant_id},
            decide,
            on=on,
            idempotency_key=idempotency_key,
        )

    @_permitted("reject_grant")
    def reject_grant(
        self,
        actor: Actor,
        grant_id: str,
        reason: str,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        _text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            self.fund().check_open(meta.effective_on)
            grant = self._get(Grant, grant_id, "grant")
            grant.reject(reason, meta)
            return grant_id, [grant]

        args = {"grant_id": grant_id, "reason": reason}
        return self._run(
            actor, "reject_grant", args, decide, on=on, idempotency_key=idempotency_key
        )

    @_permitted("close_grant")
    def close_grant(
        self,
        actor: Actor,
        grant_id: str,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            fund = self.fund()
            fund.check_open(meta.effective_on)
            grant = self._get(Grant, grant_id, "grant")
            restricted_fen, unrestricted_fen = grant.close(meta)
            fund.release(grant_id, grant.project_id, restricted_fen, unrestricted_fen, meta)
            return grant_id, [grant, fund]

        return self._run(
            actor,
            "close_grant",
            {"grant_id": grant_id},
            decide,
            on=on,
            idempotency_key=idempotency_key,
        )

    # -- expenses ----------------------------------------------------------------------------

    @_permitted("record_expense")
    def record_expense(
        self,
        actor: Actor,
        grant_id: str,
        amount_fen: int,
        paid_on: date,
        payee: str,
        category: str,
        description: str,
        voucher_no: str | None = None,
        voucher_sha256: str | None = None,
        payee_kind: str = PayeeKind.ORGANISATION.value,
        *,
        idempotency_key: str | None = None,
    ) -> Receipt:
        check_amount_fen(amount_fen)
        _check_date("paid_on", paid_on)
        _text("payee", payee, NAME_CHARS_MAX)
        expense_category = _choice("category", category, Category)
        expense_payee_kind = _choice("payee_kind", payee_kind, PayeeKind)
        _text("description", description, TEXT_CHARS_MAX)
        _optional_text("voucher_no", voucher_no, 64)
        if voucher_sha256 is not None and not _SHA256_HEX.match(voucher_sha256):
            raise InvalidInput(
                "voucher_sha256", voucher_sha256, "must be 64 lower-case hexadecimal digits"
            )

        expense_id = (
            derived_id("expense", actor.id, idempotency_key) if idempotency_key else uuid4()
        )

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            self.fund().check_open(paid_on)
            grant = self._get(Grant, grant_id, "grant")
            restricted_fen, unrestricted_fen = grant.split(amount_fen, meta)
            sealed_payee = payee
            if expense_payee_kind is PayeeKind.INDIVIDUAL:
                # A person paid has no register of their own: the expense is their id.
                key = self.keyring.key_for(str(expense_id))
                assert key is not None
                sealed_payee = seal(key, str(expense_id), payee)
            expense = _created(
                Expense,
                "Paid",
                expense_id,
                grant_id=grant_id,
                project_id=grant.project_id,
                project_code=grant.project_code,
                amount_fen=amount_fen,
                restricted_fen=restricted_fen,
                unrestricted_fen=unrestricted_fen,
                payee=sealed_payee,
                payee_kind=expense_payee_kind.value,
                category=expense_category.value,
                description=description,
                voucher_no=voucher_no,
                voucher_sha256=voucher_sha256,
                meta=meta,
            )
            grant.charge(str(expense.id), restricted_fen, unrestricted_fen, meta)
            return str(expense.id), [grant, expense]

        args = {
            "grant_id": grant_id,
            "amount_fen": amount_fen,
            "paid_on": paid_on,
            "payee": payee
            if expense_payee_kind is PayeeKind.ORGANISATION
            else self._blinded(str(expense_id), payee, idempotency_key),
            "payee_kind": payee_kind,
            "category": category,
            "description": description,
            "voucher_no": voucher_no,
            "voucher_sha256": voucher_sha256,
        }
        return self._run(
            actor, "record_expense", args, decide, on=paid_on, idempotency_key=idempotency_key
        )

    @_permitted("reverse_expense")
    def reverse_expense(
        self,
        actor: Actor,
        expense_id: str,
        reason: str,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        _text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            fund = self.fund()
            fund.check_open(meta.effective_on)
            expense = self._get(Expense, expense_id, "expense")
            grant = self._get(Grant, expense.grant_id, "grant")
            grant_closed = grant.status == GrantStatus.CLOSED
            expense.reverse(reason, grant_closed, meta)
            grant.uncharge(expense_id, expense.restricted_fen, expense.unrestricted_fen, meta)
            if not grant_closed:
                return expense_id, [expense, grant]
            # The grant's leftover was already released; this money goes back to the fund too.
            fund.release(
                expense.grant_id,
                grant.project_id,
                expense.restricted_fen,
                expense.unrestricted_fen,
                meta,
            )
            return expense_id, [expense, grant, fund]

        args = {"expense_id": expense_id, "reason": reason}
        return self._run(
            actor, "reverse_expense", args, decide, on=on, idempotency_key=idempotency_key
        )

    # -- personal data -------------------------------------------------------------------------

    @_permitted("forget_person")
    def forget_person(self, actor: Actor, person_id: str) -> Receipt:
        """Erase a donor's or an individual payee's personal data for good, by destroying the key
        it is sealed under. The amounts, the books and the transparency log are untouched.

        ``person_id`` is a donor's id, or the id of an expense paid to an individual. The
        decision is recorded as an event naming who took it; doing it again changes nothing.
        """

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            try:
                donor = self._get(Donor, person_id, "donor or expense")
            except NotFound:
                expense = self._get(Expense, person_id, "donor or expense")
                if expense.payee_kind != PayeeKind.INDIVIDUAL:
                    raise WrongState(
                        "payee of expense", person_id, "an organisation", "a person"
                    ) from None
                if expense.payee_forgotten:
                    return person_id, []
                expense.forget_payee(meta)
                return person_id, [expense]
            unsealed_name = donor.kind == DonorKind.INDIVIDUAL and not is_sealed(donor.name)
            if unsealed_name or (donor.contact and not is_sealed(donor.contact)):
                # Recorded before personal data was sealed: its plaintext is in the events.
                raise WrongState("donor", person_id, "recorded unsealed", "sealed")
            if donor.forgotten:
                return person_id, []
            donor.forget(meta)
            return person_id, [donor]

        # Dated today, never back: a closed month's frozen report must not change.
        receipt = self._run(actor, "forget_person", {"person_id": person_id}, decide)
        # After the event, so that a crash in between leaves a decision that a retry completes.
        self.keyring.destroy(receipt.id)
        return receipt

    # -- the panel and the calendar ----------------------------------------------------------

    @_permitted("record_opinion")
    def record_opinion(
        self,
        actor: Actor,
        subject_id: str,
        text: str,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        _text("text", text, OPINION_CHARS_MAX)

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            self.fund().check_open(meta.effective_on)
            subject_kind = self._subject_kind(subject_id)
            opinion = Opinion(
                subject_id=subject_id, subject_kind=subject_kind, text=text, meta=meta
            )
            return str(opinion.id), [opinion]

        args = {"subject_id": subject_id, "text": text}
        return self._run(
            actor, "record_opinion", args, decide, on=on, idempotency_key=idempotency_key
        )

    def _subject_kind(self, subject_id: str) -> str:
        try:
            self._get(Grant, subject_id, "grant")
        except NotFound:
            self._get(Project, subject_id, "grant or project")
            return "project"
        return "grant"

    @_permitted("close_period")
    def close_period(
        self,
        actor: Actor,
        month: str,
        *,
        on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        match = _MONTH.match(month) if isinstance(month, str) else None
        if match is None:
            raise InvalidInput("month", repr(month), "must be YYYY-MM")

        def decide(meta: Meta) -> tuple[str, list[Aggregate]]:
            if month >= month_of(meta.effective_on):
                raise WrongState("month", month, "not yet ended", "ended")
            fund = self.fund()
            fund.close_period(month, meta)
            return str(FUND_ID), [fund]

        return self._run(
            actor,
            "close_period",
            {"month": month},
            decide,
            on=on,
            idempotency_key=idempotency_key,
        )

    # -- reading -----------------------------------------------------------------------------

    def read_events(self, after: int = 0, limit: int = PAGE_SIZE_MAX) -> list[tuple[int, Any]]:
        """Up to ``limit`` stored events after a log position, with their positions."""
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        notifications = self.recorder.select_notifications(start=after + 1, limit=limit)
        return [(n.id, self.mapper.to_domain_event(n)) for n in notifications]

    def iter_events(self, after: int = 0) -> Iterator[tuple[int, Any]]:
        while batch := self.read_events(after):
            yield from batch
            after = batch[-1][0]

    def position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def summary(self, as_of: date | None = None) -> Position:
        """The fund's position, folded from the whole log (the projections do this faster)."""
        return fold((e for _, e in self.iter_events()), as_of).position()


def _keyed_hash(key: bytes, value: object) -> str:
    plain = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()
    return "hmac-sha256:" + hmac.new(key, plain, hashlib.sha256).hexdigest()


def _created(cls: type[T], event: str, aggregate_id: UUID, **kwargs: Any) -> T:
    """A new aggregate under an id chosen beforehand: a person's key is made under it first."""
    made: T = cls._create(getattr(cls, event), id=aggregate_id, **kwargs)
    return made


def _not_forgotten(donor: Donor) -> Donor:
    donor.check_not_forgotten()
    return donor


def _open(project: Project) -> Project:
    if not project.is_open:
        raise WrongState("project", project.code, "closed", "open")
    return project


def _uuids(texts: Iterable[str | None]) -> set[UUID]:
    """The well-formed ids among these; the others are refused later, one order at a time."""
    found: set[UUID] = set()
    for text in texts:
        try:
            found.add(UUID(str(text)))
        except ValueError:
            continue
    return found


def _fingerprint(command: str, args: dict[str, Any], on: date | None) -> str:
    """What an idempotency key is bound to. The effective date is part of the command: the
    same key dated differently is refused."""
    return hashlib.sha256(
        json.dumps([command, args, on], sort_keys=True, default=str).encode()
    ).hexdigest()


def _text(field: str, value: object, chars_max: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, repr(value), "must be non-empty text")
    if len(value) > chars_max:
        raise InvalidInput(
            field, f"{len(value)} characters", f"must be at most {chars_max} characters"
        )
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise InvalidInput(field, repr(value[:40]), "must not contain control characters")
    return value


def _optional_text(field: str, value: object, chars_max: int) -> None:
    if value is not None:
        _text(field, value, chars_max)


E = TypeVar("E", bound=Any)


def _choice(field: str, value: object, choices: type[E]) -> E:
    try:
        chosen: E = choices(value)
    except ValueError:
        allowed = ", ".join(member.value for member in choices)
        raise InvalidInput(field, repr(value), f"must be one of {allowed}") from None
    return chosen


DATE_MIN = date(2000, 1, 1)


def _check_date(field: str, value: object) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(field, repr(value), "must be a date")
    if value < DATE_MIN:
        raise InvalidInput(field, value.isoformat(), f"must not be before {DATE_MIN}")
    if value > today() + timedelta(days=1):
        raise InvalidInput(field, value.isoformat(), "must not be in the future")
