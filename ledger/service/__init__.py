"""The application service: each area's commands, and the loop they all run through.

``kernel`` holds the loop (rights, decide, save with the versions read, retry, idempotency)
and the reads a decision makes; each other module holds one area's commands as a class whose
methods only check input and decide. ``ledger.app.FundLedger`` composes them.
"""
