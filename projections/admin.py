"""Database administration for the views: read-only access for the panel's own tools."""

from __future__ import annotations

import re

from projections.runner import Views
from projections.sqlview.base import table_names
from projections.sqlview.postgres import PostgresView

_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
PERSONAL_TABLES = frozenset({"fl_donor_contacts"})


def grant_readonly_statements(views: Views, role: str, *, with_contacts: bool) -> list[str]:
    """GRANT statements giving a PostgreSQL role SELECT on every view table.

    Contact details stay out unless asked for: they are personal data the panel rarely needs.
    """
    if not _ROLE.match(role):
        msg = f"role must be a plain PostgreSQL identifier, not {role!r}"
        raise ValueError(msg)
    first = views.view(views.specs[0].name)
    if not isinstance(first, PostgresView):
        msg = "read-only roles need PostgreSQL; an SQLite file is shared by copying it"
        raise ValueError(msg)
    statements = [f'GRANT USAGE ON SCHEMA "{first.datastore.schema}" TO "{role}"']
    for spec in views.specs:
        view = views.view(spec.name)
        for table in table_names(view.ddl):
            name = table.replace("{t}", "")
            if name in PERSONAL_TABLES and not with_contacts:
                continue
            statements.append(f'GRANT SELECT ON {view.sql(table)} TO "{role}"')
    return statements
