"""The verifiable log: canonical JSON, the Merkle tree, signed checkpoints, leaves, verification.

Nothing here reads a store: projections keep the log's tables, ``fund_ledger`` and auditors feed
these functions what they fetched."""
