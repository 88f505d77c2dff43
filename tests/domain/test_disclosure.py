"""The one masking rule for published donor names, and the disclosure calendar."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.domain.disclosure import ANONYMOUS_EN, ANONYMOUS_ZH, mask_name, public_name
from projections.calendar import calendar


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),  # two characters
        ("张三丰", "张**"),  # three
        ("欧阳明华", "欧阳**"),  # four, with a compound surname
        ("司马文", "司马*"),  # three, with a compound surname
        ("李秀英", "李**"),
        ("王", "*"),  # a single character reveals nothing
        ("David Chen", "D**** C***"),  # Latin names keep each word's initial
        ("Ann", "A**"),
    ],
)
def test_a_masked_name_keeps_only_the_surname_or_initials(name: str, masked: str) -> None:
    assert mask_name(name) == masked
    assert public_name(name, "individual", "masked") == masked


def test_named_donors_in_full_anonymous_ones_as_caring_people() -> None:
    assert public_name("顾阿姨", "individual", "named") == "顾阿姨"
    assert public_name("顾阿姨", "individual", "anonymous") == ANONYMOUS_ZH
    assert public_name("顾阿姨", "individual", "anonymous", lang="en") == ANONYMOUS_EN


def test_a_masked_organisation_keeps_its_first_two_characters() -> None:
    shown = public_name("禾城科技有限公司", "enterprise", "masked")
    assert shown.startswith("禾城")
    assert "科技" not in shown
    assert len(shown) == len("禾城科技有限公司")


def test_disclosure_calendar_marks_published_overdue_and_upcoming() -> None:
    projects = [("noodles", date(2025, 12, 1)), ("new", date(2026, 10, 1))]
    dues = calendar(projects, date(2025, 12, 2), "2026-02", today=date(2026, 7, 15))
    by_period = {(d.what, d.period): d for d in dues}
    assert by_period[("noodles", "2025-12..2026-02")].state == "published"
    assert by_period[("noodles", "2026-03..2026-05")].state == "overdue"
    assert by_period[("noodles", "2026-03..2026-05")].due_on == date(2026, 6, 30)
    assert by_period[("annual", "2025")].due_on == date(2026, 5, 31)
    assert by_period[("annual", "2025")].state == "published"  # closed through 2026-02
    # A project younger than six months owes no progress report yet.
    assert not any(d.what == "new" for d in dues)
    before = calendar(projects, date(2025, 12, 2), None, today=date(2026, 3, 1))
    assert {d.state for d in before if d.what == "annual"} == {"upcoming"}
    after = calendar(projects, date(2025, 12, 2), None, today=date(2026, 6, 1))
    assert {d.state for d in after if d.what == "annual"} == {"overdue"}


def test_the_quarter_under_way_is_listed_as_upcoming_with_its_months_and_date() -> None:
    dues = calendar(
        [("noodles", date(2025, 12, 1))], date(2025, 12, 2), "2026-05", date(2026, 7, 15)
    )
    under_way = [d for d in dues if d.first_month == "2026-06"]
    assert [(d.period, d.last_month, d.due_on, d.state) for d in under_way] == [
        ("2026-06..2026-08", "2026-08", date(2026, 9, 30), "upcoming")
    ]
    # Published what is closed, overdue only what is past its date and not closed.
    assert {d.first_month: d.state for d in dues if d.what == "noodles"} == {
        "2025-12": "published",
        "2026-03": "published",
        "2026-06": "upcoming",
    }
    assert all(d.due_on < date(2026, 7, 15) for d in dues if d.state == "overdue")
