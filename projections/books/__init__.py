"""The books view: the journal, and account balances and commitments by day.

``tables`` holds its DDL, ``writes`` how each event changes it, ``queries`` the balances and
positions read from it, ``statements`` the financial statements built on those.
"""
