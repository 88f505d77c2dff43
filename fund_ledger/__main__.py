"""``python -m fund_ledger`` runs the command line."""

from fund_ledger.cli import app

app()
