"""The books view: the journal, and account balances and commitments by day.

``tables`` holds its DDL, ``writes`` how each event changes it.
"""
