"""The directory's commands: users added and revoked, and who holds a bearer token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date
from uuid import uuid4

from ledger.domain import Meta, Role
from ledger.domain.checks import NAME_CHARS_MAX, check_choice, check_text
from ledger.domain.errors import InvalidInput, NotFound, WrongState
from ledger.service.kernel import Actor, Decision, Kernel, Receipt, permitted


class UserCommands(Kernel):
    @permitted("add_user")
    def add_user(
        self, actor: Actor, name: str, role: str, *, on: date | None = None
    ) -> tuple[Receipt, str]:
        """Add a person; returns the receipt and their bearer token (only its hash is kept)."""
        check_text("name", name, NAME_CHARS_MAX)
        user_role = check_choice("role", role, Role)
        if user_role is Role.OPERATOR:
            raise InvalidInput("role", role, "is reserved for the console")
        token = secrets.token_urlsafe(32)
        token_sha256 = hashlib.sha256(token.encode()).hexdigest()
        user_id = str(uuid4())

        def decide(meta: Meta) -> Decision:
            directory = self.directory()
            directory.add_user(user_id, name, user_role.value, token_sha256, meta)
            return user_id, [directory]

        receipt = self._run(actor, "add_user", {"name": name, "role": role}, decide, on=on)
        return receipt, token

    @permitted("revoke_user")
    def revoke_user(self, actor: Actor, name: str) -> Receipt:
        def decide(meta: Meta) -> Decision:
            directory = self.directory()
            user_id = directory.user_named(name)
            if user_id is None:
                raise NotFound("user", name)
            directory.revoke(user_id, meta)
            return user_id, [directory]

        return self._run(actor, "revoke_user", {"name": name}, decide)

    @permitted("reissue_token")
    def reissue_token(self, actor: Actor, name: str) -> tuple[Receipt, str]:
        """A new bearer token for a person (only its hash is kept): the old one stops working
        at once, and a revoked person is active again with the new one."""
        token = secrets.token_urlsafe(32)
        token_sha256 = hashlib.sha256(token.encode()).hexdigest()

        def decide(meta: Meta) -> Decision:
            directory = self.directory()
            user_id = directory.user_named(name)
            if user_id is None:
                raise NotFound("user", name)
            directory.reissue_token(user_id, token_sha256, meta)
            return user_id, [directory]

        return self._run(actor, "reissue_token", {"name": name}, decide), token

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
