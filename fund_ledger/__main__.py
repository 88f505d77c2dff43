"""``python -m fund_ledger`` runs the command line."""

import sys

from fund_ledger.cli import main

sys.exit(main())
