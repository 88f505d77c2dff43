"""The monthly view: account movements and grants per month, and reports frozen at close.

``tables`` holds its DDL, ``writes`` how each event changes it, ``reports`` a month's report
(computed live, or frozen when the books close), ``queries`` what is read from it.
"""
