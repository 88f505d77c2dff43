"""Who may call each route, and who may see each personal field: the two tables of rights.

Every route the app serves has a row in ``ROUTE_ACCESS``, pages included. A route serving
records gives the public their public variant, and each role the personal fields
``FIELD_READERS`` grants it, each chosen for what the role's work needs: nothing more.

The ledger's ``RIGHTS`` guard the commands; the API's own guards (``signed_in``,
``reader_of_everything``, the full journal's token) guard some reads. This table states the
outcome for every caller in one place, and ``tests/api/test_api_access.py`` checks each route's
answers against it, and that no route of the app is missing from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.app import Actor
from ledger.domain import Role
from ledger.domain.disclosure import (
    DONOR_CONTACT,
    DONOR_NAME,
    EVERY_FIELD,
    GIFT_NOTE,
    GIFT_PROOF,
    PAYEE_NAME,
    VOUCHER_HASH,
)

# A caller without a token; the roles are ``Role`` values (an operator is never given a token).
PUBLIC = "public"
TOKEN_ROLES = (Role.TREASURER, Role.COMMITTEE, Role.ADVISER, Role.AUDITOR)
EVERYONE = frozenset({PUBLIC, *TOKEN_ROLES})
TOKEN_HOLDERS = frozenset(TOKEN_ROLES)


@dataclass(frozen=True)
class Access:
    """Who is served by one route; anyone else gets 401 without a token and 403 with one."""

    callers: frozenset[str]
    # The ledger command whose RIGHTS decide it, for a write.
    command: str | None = None
    # False for documentation and static files, which never look at a token.
    checks_token: bool = True


def _write(command: str, *roles: Role) -> Access:
    return Access(frozenset(roles), command=command)


READ = Access(EVERYONE)
DOCUMENTATION = Access(EVERYONE, checks_token=False)

# (method, path) -> Access. A path is a route's template, or for a route whose rights depend on
# its parameter (the exports), each value of that parameter.
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    # -- writes: the ledger's RIGHTS, restated ---------------------------------------------------
    ("POST", "/v1/donors"): _write("register_donor", Role.TREASURER),
    ("POST", "/v1/projects"): _write("open_project", Role.TREASURER),
    ("POST", "/v1/donations"): _write("record_donation", Role.TREASURER),
    ("POST", "/v1/donations/batch"): _write("record_donation", Role.TREASURER),
    ("POST", "/v1/donations/{donation_id}/reverse"): _write("reverse_donation", Role.COMMITTEE),
    ("POST", "/v1/grants"): _write("propose_grant", Role.COMMITTEE),
    ("POST", "/v1/grants/{grant_id}/approve"): _write("approve_grant", Role.COMMITTEE),
    ("POST", "/v1/grants/{grant_id}/reject"): _write("reject_grant", Role.COMMITTEE),
    ("POST", "/v1/grants/{grant_id}/close"): _write("close_grant", Role.COMMITTEE),
    ("POST", "/v1/expenses"): _write("record_expense", Role.TREASURER),
    ("POST", "/v1/expenses/{expense_id}/reverse"): _write("reverse_expense", Role.COMMITTEE),
    ("POST", "/v1/opinions"): _write("record_opinion", Role.ADVISER),
    ("POST", "/v1/checks/{warning_id}/explain"): _write("explain_warning", Role.COMMITTEE),
    ("POST", "/v1/opinions/{opinion_id}/answer"): _write("answer_opinion", Role.COMMITTEE),
    ("POST", "/v1/opinions/{opinion_id}/supersede"): _write("supersede_opinion", Role.ADVISER),
    ("POST", "/v1/periods/{month}/close"): _write("close_period", Role.COMMITTEE),
    ("POST", "/v1/official-receipts"): _write("issue_official_receipt", Role.TREASURER),
    ("POST", "/v1/official-receipts/{receipt_no}/void"): _write(
        "void_official_receipt", Role.TREASURER
    ),
    ("POST", "/v1/reconciliation/{account}/match"): _write("reconcile_match", Role.TREASURER),
    ("POST", "/v1/reconciliation/{account}/unmatch"): _write("reconcile_unmatch", Role.TREASURER),
    ("POST", "/v1/people/{person_id}/forget"): _write(
        "forget_person", Role.COMMITTEE, Role.OPERATOR
    ),
    # -- reads: everyone, the public getting the public variant ---------------------------------
    ("GET", "/v1/summary"): READ,
    ("GET", "/v1/projects"): READ,
    ("GET", "/v1/projects/{project}"): READ,
    ("GET", "/v1/donations"): READ,
    ("GET", "/v1/grants"): READ,
    ("GET", "/v1/expenses"): READ,
    ("GET", "/v1/opinions"): READ,
    ("GET", "/v1/corrections"): READ,
    ("GET", "/v1/donors/{donor_id}/statement"): READ,
    ("GET", "/v1/reports/monthly/{month}"): READ,
    # The statements with their notes, for those who oversee the fund; the public page of a
    # closed year shows its forms.
    ("GET", "/v1/reports/statements/{year}"): Access(
        frozenset({Role.AUDITOR, Role.COMMITTEE, Role.ADVISER})
    ),
    ("GET", "/v1/reports/trial-balance"): READ,
    ("GET", "/v1/reports/balance-sheet"): READ,
    ("GET", "/v1/reports/activities"): READ,
    ("GET", "/v1/reports/functional-expenses"): READ,
    ("GET", "/v1/reports/restricted-funds"): READ,
    ("GET", "/v1/query"): READ,
    # Bank lines name the other side, often a person: those who see donors' names.
    ("GET", "/v1/reconciliation/{account}/months/{month}"): Access(
        frozenset({Role.TREASURER, Role.COMMITTEE, Role.AUDITOR})
    ),
    # The warnings add up payments per payee: for those who hold a token.
    ("GET", "/v1/checks"): Access(TOKEN_HOLDERS),
    # The whole event log holds personal data: those who oversee the fund, not who keeps it.
    ("GET", "/v1/events"): Access(frozenset({Role.AUDITOR, Role.COMMITTEE, Role.ADVISER})),
    # -- exports: the full journal for token holders, open data for everyone -------------------
    ("GET", "/v1/exports/beancount"): Access(TOKEN_HOLDERS),
    ("GET", "/v1/exports/360giving"): READ,
    **{
        ("GET", f"/v1/exports/{kind}.{suffix}"): READ
        for kind in ("donations", "grants", "expenses", "corrections", "opinions")
        for suffix in ("csv", "xlsx")
    },
    # -- the verifiable log: public by design ---------------------------------------------------
    ("GET", "/v1/log/checkpoint"): READ,
    ("GET", "/v1/log/checkpoints/{size}"): READ,
    ("GET", "/v1/log/key"): READ,
    ("GET", "/v1/log/entries"): READ,
    ("GET", "/v1/log/proof/inclusion"): READ,
    ("GET", "/v1/log/proof/consistency"): READ,
    ("GET", "/v1/donations/{donation_id}/receipt"): READ,
    # -- operations ------------------------------------------------------------------------------
    ("GET", "/healthz"): READ,
    ("GET", "/metrics"): READ,
    ("GET", "/problems/{code}"): READ,
    # -- public pages ----------------------------------------------------------------------------
    ("GET", "/"): READ,
    ("GET", "/projects/{code}"): READ,
    ("GET", "/donations"): READ,
    ("GET", "/corrections"): READ,
    ("GET", "/reports"): READ,
    ("GET", "/reports/{year}"): READ,
    ("GET", "/notice/{month}"): READ,
    # -- documentation and files -----------------------------------------------------------------
    ("GET", "/openapi.json"): DOCUMENTATION,
    ("GET", "/docs"): DOCUMENTATION,
    ("GET", "/docs/init.js"): DOCUMENTATION,
    ("GET", "/docs/assets/{path}"): DOCUMENTATION,
    ("GET", "/static/{path}"): DOCUMENTATION,
}


# Personal field -> the roles that see it; any other caller sees the public form or nothing.
# Users' token hashes are shown to nobody, in no answer, the raw event log included.
FIELD_READERS: dict[str, frozenset[str]] = {
    # The real name of a masked or anonymous person who gave: the treasurer writes their
    # receipts, the committee answers to them (erasure requests, corrections), the auditor
    # checks the gift was theirs. The expert panel judges projects, not people.
    DONOR_NAME: frozenset({Role.TREASURER, Role.COMMITTEE, Role.AUDITOR}),
    # Phone numbers and addresses: the treasurer, to thank and to send receipts; the auditor,
    # to confirm gifts with their givers. Neither the committee nor the panel needs them.
    DONOR_CONTACT: frozenset({Role.TREASURER, Role.AUDITOR}),
    # A note on a gift may say anything about the giver: those who keep and check the gift.
    GIFT_NOTE: frozenset({Role.TREASURER, Role.AUDITOR}),
    # A person paid by the fund (a household helped): the treasurer pays them, the committee
    # orders and reverses payments, the auditor checks them. The panel sees "individual".
    PAYEE_NAME: frozenset({Role.TREASURER, Role.COMMITTEE, Role.AUDITOR}),
    # The hash of a voucher's scan, to match paper to books: anyone who holds a token.
    VOUCHER_HASH: TOKEN_HOLDERS,
    # A donor's secret and a gift's opening: the treasurer hands them to the donor with the
    # receipt; with them anyone could link that donor's gifts, so nobody else gets them.
    GIFT_PROOF: frozenset({Role.TREASURER}),
}
assert set(FIELD_READERS) == EVERY_FIELD


def sight_of(actor: Actor | None) -> frozenset[str]:
    """The personal fields this caller may see (none for the public)."""
    if actor is None:
        return frozenset()
    if actor.role == Role.OPERATOR:
        return EVERY_FIELD
    return frozenset(field for field, roles in FIELD_READERS.items() if actor.role in roles)
