"""fund-ledger: verifiable, event-sourced books for a community fund."""
