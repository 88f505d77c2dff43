"""Domain errors: each expected refusal names itself and carries the facts that explain it."""

from __future__ import annotations

from typing import ClassVar

from ledger.domain.yuan import format_yuan, format_yuan_grouped


class LedgerError(Exception):
    """Base of every expected refusal.

    ``kind`` says what sort of refusal it is (the API maps kinds to HTTP statuses in one place);
    ``code`` names the rule; ``facts`` are the figures a person needs to understand it.
    """

    kind: ClassVar[str] = "conflict"
    code: ClassVar[str] = "ledger-error"
    title: ClassVar[str] = "The ledger refused the command"

    def __init__(self, detail: str, **facts: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.facts = facts


class InvalidInput(LedgerError):
    kind = "invalid"
    code = "invalid-input"
    title = "Invalid input"

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field} {reason} (given: {value})", field=field, value=value)
        self.field = field
        self.value = value
        self.reason = reason

    def within(self, prefix: str) -> InvalidInput:
        """The same refusal for a field inside a list, e.g. ``donations[3].amount``."""
        return type(self)(f"{prefix}.{self.field}", self.value, self.reason)


class InvalidAmount(InvalidInput):
    code = "invalid-amount"
    title = "Invalid amount"


class NotFound(LedgerError):
    kind = "not_found"
    code = "not-found"
    title = "Not found"

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"no {what} {key}", what=what, key=str(key))


class NotPermitted(LedgerError):
    kind = "forbidden"
    code = "not-permitted"
    title = "Not permitted for this role"

    def __init__(self, action: str, role: str, allowed: tuple[str, ...]) -> None:
        super().__init__(
            f"{action} needs the role {' or '.join(allowed)}; the caller is {role}",
            action=action,
            role=role,
            allowed=list(allowed),
        )


class TokenNotValid(LedgerError):
    """A write was checked against a token the Directory no longer holds (revoked or reissued
    after the request was let in): the write is refused as if the token had been refused."""

    kind = "unauthenticated"
    code = "bad-token"
    title = "Authentication required"

    def __init__(self, user_id: str) -> None:
        super().__init__("the token is malformed, unknown or revoked", user_id=user_id)


class NotTheAuthor(LedgerError):
    kind = "forbidden"
    code = "not-the-author"
    title = "Only its author supersedes an opinion"

    def __init__(self, opinion_id: object, author_id: object, member_id: object) -> None:
        super().__init__(
            f"opinion {opinion_id} is {author_id}'s; {member_id} cannot supersede it",
            opinion_id=str(opinion_id),
            author_id=str(author_id),
            member_id=str(member_id),
        )


class SelfApproval(LedgerError):
    kind = "forbidden"
    code = "self-approval"
    title = "Nobody approves their own proposal"

    def __init__(self, grant_id: object, member_id: object) -> None:
        super().__init__(
            f"member {member_id} proposed grant {grant_id} and cannot approve it",
            grant_id=str(grant_id),
            member_id=str(member_id),
        )


class AlreadyApproved(LedgerError):
    code = "already-approved"
    title = "A member approves a grant at most once"

    def __init__(self, grant_id: object, member_id: object) -> None:
        super().__init__(
            f"member {member_id} has already approved grant {grant_id}",
            grant_id=str(grant_id),
            member_id=str(member_id),
        )


class InsufficientFunds(LedgerError):
    code = "insufficient-funds"
    title = "Not enough money available"

    def __init__(self, project: str, available_fen: int, requested_fen: int) -> None:
        super().__init__(
            f"not enough money available for project {project}: "
            f"available: {format_yuan_grouped(available_fen)}, "
            f"asked: {format_yuan_grouped(requested_fen)}",
            project=project,
            available=format_yuan(available_fen),
            requested=format_yuan(requested_fen),
        )


class GrantExceeded(LedgerError):
    code = "grant-exceeded"
    title = "The expense exceeds what remains of its grant"

    def __init__(self, grant_id: object, remaining_fen: int, requested_fen: int) -> None:
        super().__init__(
            f"grant {grant_id} has {format_yuan_grouped(remaining_fen)} remaining, "
            f"asked: {format_yuan_grouped(requested_fen)}",
            grant_id=str(grant_id),
            remaining=format_yuan(remaining_fen),
            requested=format_yuan(requested_fen),
        )


class WrongState(LedgerError):
    code = "wrong-state"
    title = "Not possible in the current state"

    def __init__(self, what: str, key: object, state: str, needed: str) -> None:
        super().__init__(
            f"{what} {key} is {state}; this needs it to be {needed}",
            what=what,
            key=str(key),
            state=state,
            needed=needed,
        )


class NotAPerson(LedgerError):
    code = "not-a-person"
    title = "Organisations are not people: there is no personal data to erase"

    def __init__(self, what: str, key: object) -> None:
        super().__init__(
            f"{what} {key} is an organisation, and organisations are not people: its name "
            "stays published and nothing is erased (the right to erasure is a person's)",
            what=what,
            key=str(key),
        )


class ReversalUncovered(LedgerError):
    code = "reversal-uncovered"
    title = "The reversal would leave commitments uncovered"

    def __init__(self, donation_id: object, available_fen: int, amount_fen: int) -> None:
        super().__init__(
            f"reversing donation {donation_id} would leave approved grants uncovered: "
            f"uncommitted: {format_yuan_grouped(available_fen)}, "
            f"donation: {format_yuan_grouped(amount_fen)}",
            donation_id=str(donation_id),
            available=format_yuan(available_fen),
            requested=format_yuan(amount_fen),
        )


class PeriodClosed(LedgerError):
    code = "period-closed"
    title = "The month is closed"

    def __init__(self, closed_through: str, effective_on: str) -> None:
        super().__init__(
            f"the books are closed through {closed_through}; nothing may be dated {effective_on}",
            closed_through=closed_through,
            effective_on=effective_on,
        )


class Duplicate(LedgerError):
    code = "duplicate"
    title = "Already exists"

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key} already exists", what=what, key=key)


class IdempotencyConflict(LedgerError):
    code = "idempotency-key-reused"
    title = "The idempotency key was used for another command"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was first used with a different command",
            idempotency_key=key,
        )


class Contention(LedgerError):
    kind = "unavailable"
    code = "contention"
    title = "Too many concurrent changes; try again"

    def __init__(self, attempts: int) -> None:
        super().__init__(
            f"the command met concurrent changes {attempts} times in a row", attempts=attempts
        )


class DatedTooEarly(LedgerError):
    # A conflict with what is recorded (the grant approved, the donor registered later), not a
    # malformed date: the same request is right against other records (HTTP 409, not 422).
    kind = "conflict"
    code = "dated-too-early"
    title = "Dated before what it depends on"

    def __init__(self, what: str, key: object, earliest: str, given: str) -> None:
        super().__init__(
            f"this must be dated on or after {earliest}, when {what} {key} took effect "
            f"(given: {given})",
            what=what,
            key=str(key),
            earliest=earliest,
            given=given,
        )


class KeyEncryptionKeyMissing(LedgerError):
    kind = "unavailable"
    code = "no-key-encryption-key"
    title = "The key-encryption key is missing: personal data cannot be sealed or read"

    def __init__(self, where: str) -> None:
        super().__init__(
            "the per-person keys are kept wrapped under a key-encryption key, and there is "
            f"none: {where}; set FUND_LEDGER_KEK or FUND_LEDGER_KEK_FILE to it, or make one "
            "for a store with no keys yet with `fund-ledger keys init-kek`",
            where=where,
        )


class WrongKeyEncryptionKey(LedgerError):
    kind = "unavailable"
    code = "wrong-key-encryption-key"
    title = "The key-encryption key is not the one the keys are wrapped under"

    def __init__(self, wrapped_under: str, given: str) -> None:
        super().__init__(
            f"the per-person keys are wrapped under key-encryption key {wrapped_under}, but "
            f"the key given is {given}: set FUND_LEDGER_KEK or FUND_LEDGER_KEK_FILE to the "
            "key they were wrapped under",
            wrapped_under=wrapped_under,
            given=given,
        )


class ErasureIncomplete(LedgerError):
    kind = "unavailable"
    code = "erasure-incomplete"
    title = "Forgotten, but the old bytes of the key are not yet overwritten"

    def __init__(self, person_id: str) -> None:
        super().__init__(
            f"{person_id} is forgotten and their key destroyed, but the database's write-ahead "
            "log still holds its old bytes (readers were busy); run forget again to overwrite "
            "them",
            person_id=person_id,
        )


class CashShort(LedgerError):
    code = "cash-short"
    title = "Cash would go below zero"

    def __init__(self, account: str, on: str, available_fen: int, requested_fen: int) -> None:
        super().__init__(
            f"{account} holds at least {format_yuan_grouped(available_fen)} on every day from "
            f"{on} on, asked: {format_yuan_grouped(requested_fen)}",
            account=account,
            on=on,
            available=format_yuan(available_fen),
            requested=format_yuan(requested_fen),
        )


class NumberTaken(LedgerError):
    """A voucher or receipt number already used: the earlier record is named."""

    code = "number-taken"
    title = "The number is already used"

    def __init__(self, what: str, number: str, earlier_kind: str, earlier_id: str) -> None:
        super().__init__(
            f"{what} {number} is already used by {earlier_kind} {earlier_id}",
            what=what,
            number=number,
            earlier_kind=earlier_kind,
            earlier_id=earlier_id,
        )


class AttachmentMissing(LedgerError):
    kind = "invalid"
    code = "attachment-missing"
    title = "The voucher needs an attachment's SHA-256"

    def __init__(self, amount_fen: int, threshold_fen: int) -> None:
        super().__init__(
            f"a voucher of {format_yuan_grouped(amount_fen)} needs the SHA-256 of at least one "
            f"attachment (invoice, receipt, contract) from {format_yuan_grouped(threshold_fen)}",
            amount=format_yuan(amount_fen),
            threshold=format_yuan(threshold_fen),
        )


class RulesRetroactive(LedgerError):
    kind = "invalid"
    code = "rules-retroactive"
    title = "Subsidy rules never take effect before they are decided"

    def __init__(self, rules_id: object, effective_from: str, decided_on: str) -> None:
        super().__init__(
            f"subsidy rules {rules_id} would take effect on {effective_from}, before they are "
            f"decided on {decided_on}: rules are never retroactive",
            rules_id=str(rules_id),
            effective_from=effective_from,
            decided_on=decided_on,
        )


class AlreadySettled(LedgerError):
    code = "already-settled"
    title = "The canteen's month is already settled from another file"

    def __init__(self, project_code: str, month: str, settled_sha256: str, given_sha256: str):
        super().__init__(
            f"{project_code} {month} is already settled from the file with SHA-256 "
            f"{settled_sha256}; the file given ({given_sha256}) is another: a correction is a "
            "reversal of the settlement's expense, not a second settlement",
            project_code=project_code,
            month=month,
            settled_sha256=settled_sha256,
            given_sha256=given_sha256,
        )


class MealsRefused(LedgerError):
    kind = "invalid"
    code = "meals-refused"
    title = "The canteen's file has rows the rules refuse: nothing was recorded"

    def __init__(self, month: str, bad_rows: int, first: list[str]) -> None:
        super().__init__(
            f"{bad_rows} rows of the meals file for {month} are refused, so nothing is recorded; "
            f"first: {'; '.join(first)}",
            month=month,
            bad_rows=bad_rows,
            first=first,
        )
