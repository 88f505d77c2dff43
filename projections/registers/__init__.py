"""The registers view: the listings of fund, people, projects, donors, donations, grants,
expenses and opinions.

``tables`` holds its DDL, ``writes`` how each event changes it.
"""
