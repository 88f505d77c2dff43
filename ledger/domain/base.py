"""What every aggregate shares: the metadata of a command, ids from natural keys, stable topics.

Stored events name their class by a *topic*. eventsourcing derives it from where a class is
defined, so moving a class to another module would change the topic of every event stored from
then on and leave older ones unresolvable. Here each aggregate and event class is given the
topic of its public name in ``ledger.domain`` instead (``ledger.domain:Donation.Received``),
whatever module defines it: code may move, stored events never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, DomainEvent

from ledger.domain.errors import DatedTooEarly

NAMESPACE = uuid5(NAMESPACE_URL, "https://fund-ledger.invalid/ids")
# The module every stored topic names: it re-exports each aggregate class.
TOPIC_MODULE = "ledger.domain"
# China keeps one time zone all year; the fund's days are Beijing days.
FUND_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def today() -> date:
    """The fund's current day."""
    return datetime.now(FUND_TZ).date()


def derived_id(*parts: str) -> UUID:
    """A stable id from natural keys, so that uniqueness is enforced by the event store itself."""
    return uuid5(NAMESPACE, "\x1f".join(parts))


@dataclass(frozen=True)
class Meta:
    """Who did it, when it happened in the world, and the client's idempotency key."""

    actor_id: str
    actor_role: str
    effective_on: date
    idempotency_key: str | None = None


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def not_before(what: str, key: object, earliest: date, meta: Meta) -> None:
    """A follow-up is never dated before what it acts on: as-of figures would go negative."""
    if meta.effective_on < earliest:
        raise DatedTooEarly(what, key, earliest.isoformat(), meta.effective_on.isoformat())


class FundAggregate(Aggregate):
    """Base of the fund's aggregates: pins each class's stored topic to ``ledger.domain``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        setattr(cls, "TOPIC", f"{TOPIC_MODULE}:{cls.__qualname__}")  # noqa: B010
        for value in list(vars(cls).values()):
            if (
                isinstance(value, type)
                and issubclass(value, DomainEvent)
                and value.__qualname__.startswith(cls.__qualname__ + ".")
            ):
                setattr(value, "TOPIC", f"{TOPIC_MODULE}:{value.__qualname__}")  # noqa: B010


A = TypeVar("A", bound=Aggregate)


def created(cls: type[A], event_name: str, aggregate_id: UUID, **kwargs: Any) -> A:
    """A new aggregate under an id chosen beforehand (a person's key is made under it first)."""
    made: A = cls._create(getattr(cls, event_name), id=aggregate_id, **kwargs)
    return made
