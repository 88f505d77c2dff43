"""How the values of the fund's events are written into stored JSON beyond eventsourcing's own."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from ledger.domain.base import Meta


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class MetaAsDict(Transcoding):
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


def register(transcoder: JSONTranscoder) -> None:
    transcoder.register(DateAsISO())
    transcoder.register(MetaAsDict())
