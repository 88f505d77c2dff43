"""Request dependencies: the services, the caller, and the guards on roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from api.clients import client_address
from api.models import HEADER_TEXT_PATTERN
from api.problems import ApiProblem
from api.services import Services
from ledger.app import Actor
from ledger.domain import Role

TOKEN_CHARS_MAX = 200


async def get_services(request: Request) -> Services:
    # async: a plain function would take a worker thread, and /healthz must not need one.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_actor(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[
        str | None,
        Header(
            description="`Bearer TOKEN` from `fund-ledger users add`; omit to read as the public."
        ),
    ] = None,
) -> Actor | None:
    """The caller, or None for the public. A token that does not match is refused, not ignored,
    and counted against its address (``AuthThrottle``).

    async, so that a caller without a token takes no worker thread here; a token is checked
    against the store in one.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    actor = None
    if scheme.lower() == "bearer" and token and len(token) <= TOKEN_CHARS_MAX:
        actor = await run_in_threadpool(services.ledger.authenticate, token.strip())
    if actor is not None:
        return actor  # a valid token always gets in, whatever its address's failures
    wait_s = services.auth_throttle.failed(client_address(request, services.trusted_proxies))
    if wait_s:
        raise ApiProblem(
            429,
            "too-many-failures",
            "too many failed authentications from this address; wait and try again",
            retry_after_s=wait_s,
        )
    raise ApiProblem(401, "bad-token", "the token is malformed, unknown or revoked")


CurrentActor = Annotated[Actor | None, Depends(current_actor)]


@dataclass(frozen=True)
class Writer:
    """The caller of a hot write path, and the hash of its token when it was let in on the
    token table last read, without a query: the write checks that hash again against the
    Directory it reads (``ledger.service.group_commit``), so a revoked token writes nothing."""

    actor: Actor
    token_sha256: str | None


async def signed_in_writer(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[
        str | None,
        Header(
            description="`Bearer TOKEN` from `fund-ledger users add`; omit to read as the public."
        ),
    ] = None,
) -> Writer:
    """``signed_in`` without a query or a worker thread for a token already known."""
    known = known_writer(services, authorization)
    if known is not None:
        return known
    return Writer(signed_in(await current_actor(request, services, authorization)), None)


def known_writer(services: Services, authorization: str | None) -> Writer | None:
    """The caller of a ``Bearer`` token in the table last read (no query), else None."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > TOKEN_CHARS_MAX:
        return None
    known = services.ledger.known_actor(token.strip())
    return None if known is None else Writer(*known)


SignedWriter = Annotated[Writer, Depends(signed_in_writer)]


def signed_in(actor: CurrentActor) -> Actor:
    """Writes need a token; the ledger itself then checks the role for the command."""
    if actor is None:
        raise ApiProblem(401, "token-required", "this needs a token: Authorization: Bearer TOKEN")
    return actor


SignedIn = Annotated[Actor, Depends(signed_in)]

READERS_OF_EVERYTHING = (Role.AUDITOR, Role.COMMITTEE, Role.ADVISER)


def reader_of_everything(actor: SignedIn) -> Actor:
    if actor.role not in READERS_OF_EVERYTHING:
        raise ApiProblem(
            403,
            "not-permitted",
            f"the full event log is for {', '.join(READERS_OF_EVERYTHING)};"
            f" the caller is {actor.role}",
            role=actor.role,
            allowed=list(READERS_OF_EVERYTHING),
        )
    return actor


FullReader = Annotated[Actor, Depends(reader_of_everything)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        # What ``check_idempotency_key`` takes (not blank, no control character), as a header.
        pattern=HEADER_TEXT_PATTERN,
        description=(
            "Any unique string of 1 to 200 visible ASCII characters (spaces inside). The same "
            "key with the same body returns the first answer; with another body it is refused "
            "(409). "
            "同一键同一请求返回首次结果。"
        ),
    ),
]
