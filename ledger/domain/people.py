"""The people of the fund: its users (the directory) and its donors."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id
from ledger.domain.errors import Duplicate, WrongState


class Role(StrEnum):
    TREASURER = "treasurer"
    COMMITTEE = "committee"
    ADVISER = "adviser"
    AUDITOR = "auditor"
    # The person at the server's console (init, users add, demo); never handed out as a token.
    OPERATOR = "operator"


class DonorKind(StrEnum):
    GOVERNMENT = "government"
    FOUNDATION = "foundation"
    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"
    COMMUNITY_ORG = "community_org"


class Disclosure(StrEnum):
    NAMED = "named"
    MASKED = "masked"
    ANONYMOUS = "anonymous"


DIRECTORY_ID = derived_id("directory")


class Directory(FundAggregate):
    """The people who may act on the fund, with the SHA-256 of their bearer tokens."""

    @event("Created")
    def __init__(self, meta: Meta) -> None:
        self.users: dict[str, dict[str, Any]] = {}

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    def add_user(self, user_id: str, name: str, role: str, token_sha256: str, meta: Meta) -> None:
        if any(user["name"] == name for user in self.users.values()):
            raise Duplicate("user", name)
        self._user_added(user_id, name, role, token_sha256, meta)

    @event("UserAdded")
    def _user_added(
        self, user_id: str, name: str, role: str, token_sha256: str, meta: Meta
    ) -> None:
        self.users[user_id] = {
            "name": name,
            "role": role,
            "token_sha256": token_sha256,
            "revoked": False,
        }

    def revoke(self, user_id: str, meta: Meta) -> None:
        if self.users[user_id]["revoked"]:
            raise WrongState("user", user_id, "revoked", "active")
        self._user_revoked(user_id, meta)

    @event("UserRevoked")
    def _user_revoked(self, user_id: str, meta: Meta) -> None:
        self.users[user_id]["revoked"] = True

    def reissue_token(self, user_id: str, token_sha256: str, meta: Meta) -> None:
        """A new token for a user, active from now on: the old one stops working, and a
        revoked user is active again (same id, name and role)."""
        self._token_reissued(user_id, token_sha256, meta)

    @event("TokenReissued")
    def _token_reissued(self, user_id: str, token_sha256: str, meta: Meta) -> None:
        self.users[user_id]["token_sha256"] = token_sha256
        self.users[user_id]["revoked"] = False

    def user_named(self, name: str) -> str | None:
        return next((uid for uid, user in self.users.items() if user["name"] == name), None)

    def committee(self) -> list[str]:
        return [
            uid
            for uid, user in self.users.items()
            if user["role"] == Role.COMMITTEE and not user["revoked"]
        ]


class Donor(FundAggregate):
    """Someone who gives. ``contact`` is kept apart from what may ever be published.

    An individual's name and any contact details arrive sealed under the donor's own key
    (ledger.domain.sealing); forgetting the donor records who decided it, and the key is destroyed.
    """

    @event("Registered")
    def __init__(
        self,
        name: str,
        kind: str,
        disclosure: str,
        contact: dict[str, str] | str | None,
        meta: Meta,
    ) -> None:
        self.name = name
        self.kind = kind
        self.disclosure = disclosure
        self.contact = contact or {}
        self.forgotten = False

    def check_not_forgotten(self) -> None:
        if self.forgotten:
            raise WrongState("donor", self.id, "forgotten", "registered")

    @event("Forgotten")
    def forget(self, meta: Meta) -> None:
        self.forgotten = True
