"""The transparency log: a leaf per event, complete-subtree hashes, and signed checkpoints.

The log is a view like the others (its rows and its tracking in one transaction), strictly
behind the events. Complete subtrees are stored as they finish, so a proof costs O(log n)
reads. ``tables`` holds its DDL, ``writes`` how each event extends it, ``tree`` the stored
tree read back, ``queries`` the ``Log`` that serves entries and proofs and signs checkpoints,
``kept`` the tables a rebuild keeps, as a backup carries them.
"""
