"""The Nanhu demo: a year of the Nanhu Future Community common-prosperity fund.

``cast`` says who and what it is made of; ``year`` records the year through the ledger's
commands, as a treasurer and a committee would.
"""

from ledger.demo.cast import ADVISER, AUDITOR, COMMITTEE, INSTITUTIONS, RESIDENTS, TREASURER
from ledger.demo.year import DemoUsers, load_demo

__all__ = [
    "ADVISER",
    "AUDITOR",
    "COMMITTEE",
    "INSTITUTIONS",
    "RESIDENTS",
    "TREASURER",
    "DemoUsers",
    "load_demo",
]
