"""Reading stored events back for the views: the uniform gifts (and the idempotency records
the service saves with keyed gifts) straight from their JSON.

eventsourcing's mapper decodes each stored event with a hook called on every JSON object and
resolves its topic, about 20 µs an event; a rebuild of a million gifts pays it in every process.
A gift received (``Donation.Received``, nearly every event of an imported log) is stored as flat
JSON with three typed values (its timestamp, its meta and the meta's date): here it is read with
the plain C decoder and those three made as the mapper makes them, into an event of the same
class with the same ``__dict__`` in the same order. The views then compute the same rows from it.

Anything else goes through the mapper: other kinds, a state of another shape (older or newer
fields, a ``class_version``, a note, which is sealed), a mapper with a cipher or compressor.
The first gift and the first record of every batch are decoded both ways and compared; the
first difference stops the fast path for good, in this process.

The caches of moments and metas are bounded and emptied when full: keyed gifts each bring a
moment and a meta of their own, and must not leave the next million imported gifts, which
share a handful, without a cache.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from eventsourcing.persistence import Mapper, Notification

from ledger.domain import Donation, Meta
from ledger.domain.records import IdempotencyRecord

# The stored fields of a gift received, as the service and the bulk import write them.
_GIFT_FIELDS = (
    "timestamp",
    "originator_topic",
    "donor_id",
    "donor_kind",
    "amount_fen",
    "channel",
    "receipt_no",
    "project_id",
    "project_code",
    "in_kind",
    "note",
    "meta",
    "donor_ref",
    "account",
)
# Its event's fields, as the mapper gives them back.
GIFT_EVENT_FIELDS = (*_GIFT_FIELDS, "originator_id", "originator_version")
_OPTIONAL_TEXT = ("project_id", "project_code", "donor_ref", "account")
# The stored fields of an idempotency record (ledger.domain.records).
_RECORD_FIELDS = (
    "timestamp",
    "originator_topic",
    "key",
    "actor_id",
    "fingerprint",
    "result_id",
    "meta",
)
RECORD_EVENT_FIELDS = (*_RECORD_FIELDS, "originator_id", "originator_version")
CACHED_MAX = 10_000
_META_FIELDS = ("actor_id", "actor_role", "effective_on", "idempotency_key")
_decode_json = json.JSONDecoder().decode


class EventDecoder:
    """Decodes a batch of notifications, the uniform gifts without the mapper."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        self.gift_class: type = Donation.Received  # type: ignore[attr-defined]
        self.gift_topic = _topic_known(self.gift_class)
        self.record_class: type = IdempotencyRecord.Recorded  # type: ignore[attr-defined]
        self.record_topic = _topic_known(self.record_class)
        # Trusted until an event decoded here differs from the mapper's.
        self.trusted = (
            getattr(mapper, "cipher", None) is None and getattr(mapper, "compressor", None) is None
        )
        self.fast = 0
        self._moments: dict[str, datetime] = {}
        self._metas: dict[tuple[Any, ...], Meta] = {}
        self._days: dict[str, date] = {}

    def decode(self, notifications: Sequence[Notification]) -> list[tuple[int, Any]]:
        """(position, domain event) for each notification, in order."""
        batch: list[tuple[int, Any]] = []
        checked: set[str] = set()
        to_domain_event = self.mapper.to_domain_event
        gift_topic, record_topic = self.gift_topic, self.record_topic
        for n in notifications:
            event = None
            if self.trusted:
                topic = n.topic
                if topic == gift_topic:
                    event = self._gift(n)
                elif topic == record_topic:
                    event = self._record(n)
                if event is not None and topic not in checked:
                    checked.add(topic)
                    if not self._same_as_mapper(event, n):
                        self.trusted = False
                        event = None
            if event is None:
                event = to_domain_event(n)
            else:
                self.fast += 1
            batch.append((n.id, event))
        return batch

    def _same_as_mapper(self, event: Any, n: Notification) -> bool:
        expected = self.mapper.to_domain_event(n)
        return type(event) is type(expected) and list(vars(event).items()) == list(
            vars(expected).items()
        )

    def _gift(self, n: Notification) -> Any:
        """The gift's event, or None when its state is not the uniform shape."""
        try:
            state = _decode_json(n.state.decode("utf-8"))
        except ValueError:
            return None
        if type(state) is not dict or tuple(state) != _GIFT_FIELDS:
            return None
        moment = _moment(state["timestamp"], self._moments)
        meta = _meta(state["meta"], self._metas, self._days)
        if moment is None or meta is None or not _plain_gift(state):
            return None
        state["timestamp"] = moment
        state["meta"] = meta
        state["originator_id"] = n.originator_id
        state["originator_version"] = n.originator_version
        event: Any = object.__new__(self.gift_class)
        object.__setattr__(event, "__dict__", state)
        return event

    def _record(self, n: Notification) -> Any:
        """The idempotency record's event, or None when its state is not the uniform shape."""
        try:
            state = _decode_json(n.state.decode("utf-8"))
        except ValueError:
            return None
        if type(state) is not dict or tuple(state) != _RECORD_FIELDS:
            return None
        moment = _moment(state["timestamp"], self._moments)
        meta = _meta(state["meta"], self._metas, self._days)
        if moment is None or meta is None or not _plain_record(state):
            return None
        state["timestamp"] = moment
        state["meta"] = meta
        state["originator_id"] = n.originator_id
        state["originator_version"] = n.originator_version
        event: Any = object.__new__(self.record_class)
        object.__setattr__(event, "__dict__", state)
        return event


def _topic_known(event_class: type) -> str:
    """The topic of a class of event decoded here; none ("") once the class has a version
    after the first, whose upcasting only the mapper knows."""
    if getattr(event_class, "class_version", 1) != 1:
        return ""
    return str(event_class.TOPIC)  # type: ignore[attr-defined]


def _plain_gift(state: dict[str, Any]) -> bool:
    """Every field of the type the mapper would give back as it is, and no note (sealed)."""
    return (
        type(state["originator_topic"]) is str
        and type(state["donor_id"]) is str
        and type(state["donor_kind"]) is str
        and type(state["amount_fen"]) is int
        and type(state["channel"]) is str
        and type(state["receipt_no"]) is str
        and type(state["in_kind"]) is bool
        and state["note"] is None
        and all(state[k] is None or type(state[k]) is str for k in _OPTIONAL_TEXT)
    )


def _plain_record(state: dict[str, Any]) -> bool:
    """Every field but the two typed ones text, as the mapper would give it back."""
    return (
        type(state["originator_topic"]) is str
        and type(state["key"]) is str
        and type(state["actor_id"]) is str
        and type(state["fingerprint"]) is str
        and type(state["result_id"]) is str
    )


def _typed(value: Any, name: str) -> Any:
    """The ``_data_`` of a value the transcoder marked as ``name``, or None."""
    if type(value) is dict and len(value) == 2 and value.get("_type_") == name:
        return value.get("_data_")
    return None


def _moment(value: Any, seen: dict[str, datetime]) -> datetime | None:
    text = _typed(value, "datetime_iso")
    if type(text) is not str:
        return None
    moment = seen.get(text)
    if moment is None:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        _keep(seen, text, moment)
    return moment


def _meta(value: Any, seen: dict[tuple[Any, ...], Meta], days: dict[str, date]) -> Meta | None:
    data = _typed(value, "meta")
    if type(data) is not dict or tuple(data) != _META_FIELDS:
        return None
    day = _typed(data["effective_on"], "date_iso")
    key = (data["actor_id"], data["actor_role"], day, data["idempotency_key"])
    if (
        type(key[0]) is not str
        or type(key[1]) is not str
        or type(day) is not str
        or not (key[3] is None or type(key[3]) is str)
    ):
        return None
    # A keyed meta is its event's own: made each time, its day shared with the others.
    meta = seen.get(key) if key[3] is None else None
    if meta is not None:
        return meta
    effective_on = days.get(day)
    if effective_on is None:
        try:
            effective_on = date.fromisoformat(day)
        except ValueError:
            return None
        _keep(days, day, effective_on)
    meta = Meta(key[0], key[1], effective_on, key[3])
    if key[3] is None:
        _keep(seen, key, meta)
    return meta


def _keep(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Cache a value, emptying the cache first when full: the values of a log come in runs
    (a day's posts, an import), so the latest are those worth keeping."""
    if len(cache) >= CACHED_MAX:
        cache.clear()
    cache[key] = value
