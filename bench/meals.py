"""The canteen's month: ``fund-ledger import meals`` of 100,000 citizen-card rows on PostgreSQL.

A store of its own (a schema beside the bench's), whose fund was established in September so
that October's rules were decided before they took effect: 4,000 elders, each with 25 meals in
October 2026. Timed end to end as the treasurer runs it (the command, its bars, the settlement
saved), against reading the same file alone.
"""

from __future__ import annotations

import os
import random
import resource
import time
from datetime import date

import psycopg

from bench.processes import fund_ledger, timed
from bench.report import Row
from bench.steps import POOL_SIZE, Bench, say

ROWS = 100_000
ELDERS = 4_000
MONTH = "2026-10"
TARGET_S = 10.0


def _store(b: Bench) -> str:
    """The canteen's store, set up in process: fund, project, money, grant, rules, elders."""
    from ledger.app import OPERATOR, FundLedger
    from ledger.domain.canteen import Band, NewBeneficiary, Rules

    with psycopg.connect(b.db_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS canteen")
    url = f"{b.db_url}?schema=canteen&pool_size={POOL_SIZE}"
    os.environ.setdefault("FUND_LEDGER_KEK_FILE", b.env["FUND_LEDGER_KEK_FILE"])
    ledger = FundLedger(url)
    september = date(2026, 9, 1)
    ledger.establish_fund(OPERATOR, "bench canteen fund", quorum=1, on=september)
    ledger.add_user(OPERATOR, "委员甲", "committee", on=september)
    ledger.add_user(OPERATOR, "委员乙", "committee", on=september)
    ledger.add_user(OPERATOR, "出纳", "treasurer", on=september)
    treasurer, proposer, approver = (ledger.actor_named(n) for n in ("出纳", "委员甲", "委员乙"))
    ledger.open_project(treasurer, "canteen", "社区食堂", on=september)
    donor = ledger.register_donor(treasurer, "某基金会", "foundation", "named", on=september).id
    project_id = str(ledger.project_by_code("canteen").id)
    ledger.record_donation(
        treasurer, donor, 100_000_000, september, "bank_transfer", "C1", project_id=project_id
    )
    grant = ledger.propose_grant(proposer, project_id, 100_000_000, "meals", on=september).id
    ledger.approve_grant(approver, grant, on=september)
    rules = Rules(
        date(2026, 10, 1),
        (Band(60, 69, 300), Band(70, 79, 500), Band(80, None, 800)),
        2,
        40,
        ("lunch", "dinner"),
        1500,
        "南湖宾馆餐饮部",
    )
    rules_id = ledger.propose_subsidy_rules(proposer, "canteen", rules, on=september).id
    ledger.approve_subsidy_rules(approver, rules_id, on=september)
    rng = random.Random(10)  # noqa: S311 - repeatable figures
    people = [
        NewBeneficiary(f"长者{i:04d}", date(1940 + i % 25, 1 + i % 12, 1 + i % 28), f"33{i:010d}")
        for i in range(ELDERS)
    ]
    ledger.register_beneficiaries(treasurer, people)
    b.work.joinpath("meals.csv").write_text(_file(people, rng), encoding="utf-8")
    ledger.close()
    return url


def _file(people: list[object], rng: random.Random) -> str:
    from ledger.domain.canteen import age_on

    rows = ["card_number,time,meal,price,subsidy"]
    per_elder = ROWS // ELDERS
    for person in people:
        born: date = person.birth_date  # type: ignore[attr-defined]
        for day in sorted(rng.sample(range(1, 32), per_elder)):
            age = age_on(born, date(2026, 10, day))
            subsidy = "3.00" if age < 70 else "5.00" if age < 80 else "8.00"
            when = f"2026-10-{day:02d} 11:{rng.randint(0, 59):02d}:00"
            rows.append(f"{person.card_number},{when},lunch,15.00,{subsidy}")  # type: ignore[attr-defined]
    return "\n".join(rows) + "\n"


def _children_cpu_s() -> float:
    """CPU seconds used by finished child processes: on a shared machine the wall time of a
    command says as much about the neighbours as about the command."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def import_meals(b: Bench) -> None:
    say(f"import of {ROWS:,} canteen meal rows")
    started = time.perf_counter()
    url = _store(b)
    say(f"  set up in {time.perf_counter() - started:.1f} s")
    env = {**b.env, "FUND_LEDGER_DATABASE_URL": url}
    file = b.work / "meals.csv"
    command = fund_ledger("import", "meals", str(file), "--month", MONTH, "--as", "出纳")
    cpu_before = _children_cpu_s()
    import_s, output = timed(command, env, b.work)
    cpu_s = _children_cpu_s() - cpu_before
    if f"settled {MONTH}: {ROWS} meals" not in output:
        raise RuntimeError(f"the meals were not settled: {output[-2000:]}")
    from ledger.formats.meals_csv import parse_meals

    read_started = time.perf_counter()
    parse_meals(file.read_text(encoding="utf-8"))
    read_s = time.perf_counter() - read_started
    b.add(
        Row(
            f"import meals: {ROWS:,} citizen-card rows checked and settled",
            import_s,
            "s",
            read_s,
            "reading the same file alone",
            f"< {TARGET_S:.0f} s on PostgreSQL",
            import_s < TARGET_S,
            f"{ELDERS:,} elders; the whole command with its bars, as the treasurer runs it; "
            f"its CPU time {cpu_s:.1f} s, load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores",
        )
    )
