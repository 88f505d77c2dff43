"""The hot path of single donations (the payment platforms' webhooks) as a plain ASGI route.

``POST /v1/donations`` is declared once, as a FastAPI route (``api.routes.commands``): that
declaration is the OpenAPI document's and the reference behaviour. In front of it sits this
route, which answers the common request (a JSON body, a token the service already knows)
without FastAPI's dependency solving: pydantic validates the body straight from its bytes
with the same model, the token is found in the table last read (``api.deps.signed_in_writer``
explains why that is safe), and the order goes to the same group commit and the same wait
for the views. Anything else (another content type, a body or header the model refuses, an
unknown token, no token) is handed, with its body, to the FastAPI route, so every refusal is
the one the document states, word for word.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope, Send

from api.deps import known_writer
from api.models import HEADER_TEXT_PATTERN, DonationCreate, Written
from api.services import Services
from ledger.domain.money import parse_yuan

PATH = "/v1/donations"
IDEMPOTENCY_KEY_CHARS_MAX = 200
_HEADER_TEXT = re.compile(HEADER_TEXT_PATTERN)


class HotDonations:
    """The ASGI endpoint; ``declared`` is the FastAPI route it stands in front of."""

    def __init__(self, declared: Route) -> None:
        self.declared = declared
        # How many requests each way: the evidence (metrics, tests) that the hot path is taken.
        self.answered = 0
        self.handed_on = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.declared  # metrics and logs name the route as usual
        body = await _read_body(receive)
        answer = await self._answer(scope, body)
        if answer is None:
            self.handed_on += 1
            await self._declared(scope, body, send)
            return
        self.answered += 1
        await answer(scope, _replay(body), send)

    async def _answer(self, scope: Scope, body: bytes) -> Response | None:
        """The answer when the request is the common case, else None."""
        headers = Request(scope).headers
        content_type = headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            return None
        key = headers.get("idempotency-key")
        if key is not None and not (
            0 < len(key) <= IDEMPOTENCY_KEY_CHARS_MAX and _HEADER_TEXT.fullmatch(key)
        ):
            return None
        services: Services = scope["app"].state.services
        known = known_writer(services, headers.get("authorization"))
        if known is None:
            return None
        try:
            gift = DonationCreate.model_validate_json(body)
        except ValidationError:
            return None
        # From here on, refusals are the ledger's (LedgerError), answered by the app's
        # handlers exactly as for the declared route.
        order = services.ledger.donation_order(
            known.actor,
            gift.donor_id,
            parse_yuan(gift.amount),
            gift.received_on,
            gift.channel,
            gift.receipt_no,
            gift.project_id,
            gift.note,
            idempotency_key=key,
        )
        order = replace(order, token_sha256=known.token_sha256)
        receipt = await services.record_donation_async(order)
        await services.gift_answered(receipt.position)
        written = Written(
            id=receipt.id, ids=None, position=receipt.position, replayed=receipt.replayed
        )
        return Response(written.model_dump_json(), status_code=201, media_type="application/json")

    async def _declared(self, scope: Scope, body: bytes, send: Send) -> None:
        match, child = self.declared.matches(scope)
        assert match is Match.FULL, match
        await self.declared.handle({**scope, **child}, _replay(body), send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: the declared route sees the same
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A ``receive`` that gives the body already read, then waits as a live one would."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def install(routes: list[Any], declared_in: list[Any]) -> HotDonations:
    """Put the hot route first in ``routes``, in front of the declared ``POST /v1/donations``
    found in ``declared_in`` (its router's routes: the app's list holds included routers)."""
    for route in declared_in:
        if getattr(route, "path", None) == PATH and "POST" in (route.methods or ()):
            hot = HotDonations(route)
            routes.insert(0, Route(PATH, hot, methods=["POST"], include_in_schema=False))
            return hot
    raise LookupError(f"no POST {PATH} route to stand in front of")
