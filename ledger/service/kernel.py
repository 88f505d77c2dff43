"""The loop every command runs through, and the reads its decisions make.

A command checks the actor's right, then its input; it then *decides* on fresh state (reading
aggregates, asking them to record events) and *saves* what it decided atomically, with the
versions of every aggregate the decision read checked under the writers' lock. A conflict
sends it back to decide again. With an idempotency key, the first result is saved in the same
transaction, so a retried command gets that result and a different one under the same key is
refused. ``Kernel.run`` is that loop, written once; each area's commands (``ledger.service``)
only validate and decide.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, TypedDict, TypeVar, Unpack
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    JSONTranscoder,
    RecordConflictError,
    Recording,
)
from eventsourcing.utils import Environment

from ledger.domain import (
    DIRECTORY_ID,
    FUND_ID,
    LEAF_FORMAT_ID,
    Directory,
    Fund,
    IdempotencyRecord,
    LeafFormat,
    Meta,
    Project,
    Role,
)
from ledger.domain.base import today
from ledger.domain.checks import check_date, check_idempotency_key
from ledger.domain.errors import Contention, IdempotencyConflict, NotFound, NotPermitted
from ledger.domain.records import LEAF_FORMAT_CURRENT
from ledger.domain.treasury import Treasury
from ledger.domain.vouchers import VoucherYear
from ledger.service.tally import DonationTally
from ledger.store import sql, transcodings
from ledger.store.database import DEFAULT_DATABASE_URL, persistence_env, tune_postgres_pool
from ledger.store.kek import KEK_ENV, KEK_FILE_ENV, kek_file, load_kek
from ledger.store.keyring import Keyring, keyring_for

RETRIES_MAX = 8
UNCHANGED_KEPT_MAX = 10_000

T = TypeVar("T", bound=Aggregate)
# What a decision returns: the id the command made or acted on, and what it changed.
Decision = tuple[str, list[Aggregate]]


class Keyed(TypedDict, total=False):
    """What a client may add to any command: a key that makes retrying it safe."""

    idempotency_key: str | None


class Options(Keyed, total=False):
    """... and, for a command that acts in the world on a day, that day (default: today)."""

    on: date | None


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


# Who may give which command. The API and the CLI both go through these checks.
RIGHTS: dict[str, tuple[Role, ...]] = {
    "establish_fund": (Role.OPERATOR,),
    "add_user": (Role.OPERATOR,),
    "revoke_user": (Role.OPERATOR,),
    "reissue_token": (Role.OPERATOR,),
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
    "explain_warning": (Role.COMMITTEE,),
    "answer_opinion": (Role.COMMITTEE,),
    "supersede_opinion": (Role.ADVISER,),
    "close_period": (Role.COMMITTEE,),
    "close_year": (Role.COMMITTEE,),
    "receive_bill": (Role.TREASURER,),
    "pay_bill": (Role.TREASURER,),
    "pay_advance": (Role.TREASURER,),
    "settle_advance": (Role.TREASURER,),
    "receive_custody": (Role.TREASURER,),
    "pass_on_custody": (Role.TREASURER,),
    "value_in_kind": (Role.TREASURER,),
    "use_in_kind": (Role.TREASURER,),
    "depreciate": (Role.TREASURER,),
    "record_service_hours": (Role.TREASURER,),
    "register_beneficiary": (Role.TREASURER,),
    "propose_subsidy_rules": (Role.COMMITTEE,),
    "approve_subsidy_rules": (Role.COMMITTEE,),
    "reject_subsidy_rules": (Role.COMMITTEE,),
    "settle_meals": (Role.TREASURER,),
    "record_attendance": (Role.TREASURER,),
    # A person's right to erasure (PIPL art. 47): decided by the committee, or at the console.
    "forget_person": (Role.COMMITTEE, Role.OPERATOR),
}

F = TypeVar("F", bound=Callable[..., Any])


def check_right(actor: Actor, command: str) -> None:
    allowed = RIGHTS[command]
    if actor.role not in allowed:
        raise NotPermitted(command, actor.role, tuple(allowed))


def permitted(command: str) -> Callable[[F], F]:
    """Check the actor's right first, before looking at the input: a caller without the
    right learns nothing about what would have been accepted."""
    RIGHTS[command]  # a command missing from the table fails at import, not at run time

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def checked(self: Kernel, actor: Actor, *args: Any, **kwargs: Any) -> Any:
            check_right(actor, command)
            return method(self, actor, *args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def fingerprint(command: str, args: dict[str, Any], on: date | None) -> str:
    """What an idempotency key is bound to. The effective date is part of the command: the
    same key dated differently is refused."""
    return hashlib.sha256(
        json.dumps([command, args, on], sort_keys=True, default=str).encode()
    ).hexdigest()


def uuids(texts: Iterable[str | None]) -> set[UUID]:
    """The well-formed ids among these; the others are refused later, one at a time."""
    found: set[UUID] = set()
    for text in texts:
        try:
            found.add(UUID(str(text)))
        except ValueError:
            continue
    return found


class Kernel(Application[UUID]):
    """The store, the reads a decision makes, and the command loop; the base of every area."""

    # Aggregates that every decision of a kind reads and that grow all year: the Treasury
    # (every cash move), a year's vouchers (every expense) are read from a snapshot.
    snapshotting_intervals: ClassVar[dict[Any, int]] = {
        Fund: 100,
        Directory: 100,
        Treasury: 50,
        VoucherYear: 50,
    }
    # Active users by token hash, with the Directory version they were read at.
    _tokens: tuple[int, dict[str, Actor]] | None = None

    def __init__(self, store: str | Mapping[str, str] = DEFAULT_DATABASE_URL) -> None:
        """Open the store named by a database URL, or by an eventsourcing environment.

        eventsourcing's ProjectionRunner constructs the application from an environment, so
        both are accepted; people and configuration use URLs.
        """
        env = persistence_env(store) if isinstance(store, str) else dict(store)
        env.setdefault("CREATE_TABLE", "y")
        self.persistence_env = env
        super().__init__(env)
        self.tally = DonationTally(self.recorder, self.mapper)
        # Aggregates group commits only read (the Fund, donors, projects), checked by version.
        self._unchanged: dict[UUID, Aggregate] = {}
        self._unchanged_lock = threading.Lock()
        # What the command running in this thread has read, for the save to check.
        self._reads = threading.local()
        # The key-encryption key, from FUND_LEDGER_KEK or its file (ledger.store.kek).
        kek_env = {name: self.env.get(name) or "" for name in (KEK_ENV, KEK_FILE_ENV)}
        self.kek_file = kek_file(kek_env)
        kek_source = f"{KEK_ENV} is not set and {self.kek_file} does not exist"
        self.keyring: Keyring = keyring_for(
            getattr(self.recorder, "datastore", None),
            load_kek(kek_env),
            kek_source,
            create=env["CREATE_TABLE"].lower() in {"y", "yes", "1"},
        )

    # Whether this process has seen the store's leaf format recorded (see ``save``).
    _leaf_format_recorded: bool = False

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, after recording the log's leaf format if the store has none yet.

        ``Application.save`` with its events collected more cheaply: eventsourcing asks each
        object ``isinstance(obj, DomainEventProtocol)``, a runtime-checkable protocol whose
        check costs tens of microseconds, a seventh of the group-commit writer's time for a
        batch of gifts. An ``Aggregate``'s pending events are taken directly; anything else
        is collected as the library does, in the same order."""
        self.adopt_leaf_format()
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated in eventsourcing, still called
        return recordings

    def adopt_leaf_format(self) -> None:
        """Record ``LeafFormat.Adopted`` once per store, before anything else this code writes:
        a fresh store's first event, or an older store's first after the upgrade. Its position
        is where the log's leaves change format, the same on every rebuild. Every write path
        calls this first (``save``, and the bulk import that bypasses it)."""
        if self._leaf_format_recorded:
            return
        if not self._exists(LEAF_FORMAT_ID):
            adopted = LeafFormat(
                leaf_format=LEAF_FORMAT_CURRENT,
                meta=Meta(OPERATOR.id, OPERATOR.role.value, today()),
            )
            # Another process may record it first; then its record stands.
            with contextlib.suppress(RecordConflictError):
                super().save(adopted)
        self._leaf_format_recorded = True

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        # Before the tables are made, so that even the first pooled connections are tuned.
        factory = super().construct_factory(env)
        tune_postgres_pool(getattr(factory, "datastore", None))
        return factory

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcodings.register(transcoder)

    # -- reads a decision makes --------------------------------------------------------------

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
        return sql.versions(self.recorder, aggregate_ids)

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

    def _open_fund(self, day: date) -> Fund:
        """The Fund, with ``day`` checked to fall in a month still open."""
        fund = self.fund()
        fund.check_open(day)
        return fund

    def _open_project(self, project_id: str, what: str = "project") -> Project:
        project = self._get(Project, project_id, what)
        project.check_open()
        return project

    def known_actor(self, token: str) -> tuple[Actor, str] | None:
        """The holder of this token in the table last read, and the token's hash; no query.

        For the hot write path only: the group commit checks the hash again against the
        Directory's version it reads for the batch (``tokens_at``), so a token revoked
        meanwhile, by this process or another, still writes nothing. None when the token is
        not in the table (unknown, or a user added since it was read): ask ``authenticate``.
        """
        cached = self._tokens
        if cached is None:
            return None
        presented = hashlib.sha256(token.encode()).hexdigest()
        actor = cached[1].get(presented)
        return None if actor is None else (actor, presented)

    def tokens_at(self, version: int) -> dict[str, Actor]:
        """The active tokens as of the Directory's ``version`` (read once per version)."""
        cached = self._tokens
        if cached is not None and cached[0] == version:
            return cached[1]
        return self._active_tokens()

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

    def directory(self) -> Directory:
        try:
            found: object = self.repository.get(DIRECTORY_ID)
        except AggregateNotFoundError:
            return Directory(meta=Meta(OPERATOR.id, OPERATOR.role, today()))
        assert isinstance(found, Directory)
        return found

    # -- the loop ----------------------------------------------------------------------------

    def _run(
        self,
        actor: Actor,
        command: str,
        args: dict[str, Any],
        decide: Callable[[Meta], Decision],
        **options: Unpack[Options],
    ) -> Receipt:
        """Check the actor's right, decide on fresh state, save atomically; retry on conflict.

        With an idempotency key the first result is saved in the same transaction as the
        command's events, so a retried command returns it and a different one is refused.
        """
        on, idempotency_key = options.get("on"), options.get("idempotency_key")
        check_right(actor, command)
        check_idempotency_key(idempotency_key)
        if on is not None:
            check_date("on", on)
        meta = Meta(actor.id, actor.role.value, on or today(), idempotency_key)
        bound_to = fingerprint(command, args, on)
        for _attempt in range(RETRIES_MAX):
            if idempotency_key is not None:
                replay = self._replay(actor, idempotency_key, bound_to)
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
                        fingerprint=bound_to,
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

    def _replay(self, actor: Actor, key: str, bound_to: str) -> Receipt | None:
        record_id = IdempotencyRecord.create_id(actor.id, key)
        stored = self.recorder.select_events(record_id, limit=1)
        if not stored:
            return None
        record = self._get(IdempotencyRecord, record_id, "idempotency record")
        if record.fingerprint != bound_to:
            raise IdempotencyConflict(key)
        return Receipt(record.result_id, 0, replayed=True)
