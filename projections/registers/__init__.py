"""The registers view: the listings of fund, people, projects, donors, donations, grants,
expenses and opinions.

``tables`` holds its DDL, ``writes`` how each event changes it; its queries are ``listings``
(paged registers, personal data opened), ``donors``, ``projects`` and ``grouped`` sums.
"""
