"""What a project page shows of the people it served: the canteen's months (meals, people,
subsidy, by age band, counts under 5 as "<5"), attendance counts, and partners' hours.

Only counts and totals: no name, card or birth date is in any table this reads.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from api.charts import Bar, bar_chart
from projections.reader import Reader

# The canteen's project code, as the demo and the command line name it.
CANTEEN = "canteen"
OCCASIONS = {
    "birthday_lunch": ("生日午宴", "Birthday lunch"),
    "clinic_visit": ("义诊", "Clinic visits"),
    "haircut": ("理发", "Haircuts"),
    "other": ("其他", "Other"),
}


def served(reader: Reader, code: str, lang: str) -> dict[str, Any]:
    """The page's context: ``canteen`` months, ``attendance``, ``hours`` and the chart."""
    months = reader.canteen_public(code)
    title = "每月助餐补贴（元）" if lang != "en" else "Meal subsidy paid per month (yuan)"
    chart = bar_chart(
        [Bar(m["month"], int(m["subsidy_fen"])) for m in months],
        title=title,
        description="; ".join(f"{m['month']}: {m['subsidy']}" for m in months),
        chart_id="canteen-months",
    )
    attendance = [
        {**row, "label": OCCASIONS[row["occasion"]][1 if lang == "en" else 0]}
        for row in reader.attendance_public(code)
    ]
    return {
        "canteen": months,
        "canteen_chart": Markup(chart),  # noqa: S704 - api/charts.py escapes every text it draws
        "attendance": attendance,
        "hours": reader.service_hours_by_month(code),
    }
