"""Read models built from the event log, and the reports and exports built on them."""
