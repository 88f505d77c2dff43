"""Who may call each route: one table of rights for every route the app serves, pages included.

The ledger's ``RIGHTS`` guard the commands; the API's own guards (``signed_in``,
``reader_of_everything``, the full journal's token) guard some reads. This table states the
outcome for every caller in one place, and ``tests/test_api_access.py`` checks each route's
answers against it, and that no route of the app is missing from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain import Role

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
    ("POST", "/v1/periods/{month}/close"): _write("close_period", Role.COMMITTEE),
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
    # The whole event log holds personal data: those who oversee the fund, not who keeps it.
    ("GET", "/v1/events"): Access(frozenset({Role.AUDITOR, Role.COMMITTEE, Role.ADVISER})),
    # -- exports: the full journal for token holders, open data for everyone -------------------
    ("GET", "/v1/exports/beancount"): Access(TOKEN_HOLDERS),
    ("GET", "/v1/exports/360giving"): READ,
    ("GET", "/v1/exports/donations.csv"): READ,
    ("GET", "/v1/exports/grants.csv"): READ,
    ("GET", "/v1/exports/expenses.csv"): READ,
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
