"""Benchmarks: fund-ledger against the plain CRUD table it replaces, measured side by side."""
