"""What a run measured: its rows beside their same-run baselines, as Markdown and JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg


@dataclass
class Row:
    what: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""
    # Its stable name in results.json's ``headline`` (``ingest_ratio_vs_crud``, ...), and what
    # that figure is: the ratio to the baseline, or the value itself scaled by ``per``.
    key: str = ""
    key_is_ratio: bool = False
    key_scale: float = 1.0

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


@dataclass
class Results:
    scale: str
    started_at: str
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)


def machine(admin_url: str) -> dict[str, Any]:
    with psycopg.connect(admin_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        fsync = conn.execute("SHOW fsync").fetchone()[0]  # type: ignore[index]
    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg,
        "fsync": fsync,
        "eventsourcing": version("eventsourcing"),
        "fastapi": version("fastapi"),
        "uvicorn": version("uvicorn"),
        "psycopg": version("psycopg"),
        "wrk": subprocess.run(
            ["wrk", "--version"], check=False, capture_output=True, text=True
        ).stdout.split("\n")[0],
    }


def headline(results: Results) -> dict[str, dict[str, Any]]:
    """The figures the targets are stated in, under names that do not change between runs,
    each with its same-run baseline beside it."""
    figures: dict[str, dict[str, Any]] = {}
    for r in results.rows:
        if not r.key:
            continue
        value = r.ratio if r.key_is_ratio else None if r.value is None else r.value * r.key_scale
        figures[r.key] = {
            "value": value,
            "measured": r.value,
            "unit": r.unit,
            "baseline": r.baseline,
            "baseline_what": r.baseline_what,
            "target": r.target,
            "met": r.met,
        }
    return figures


def write(results: Results, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(
        json.dumps(
            {
                **asdict(results),
                "headline": headline(results),
                "rows": [asdict(r) | {"ratio": r.ratio} for r in results.rows],
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    lines = [
        f"# Benchmark results ({results.scale} scale, {results.started_at})",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in results.machine.items()),
        "",
        "| what | measured | baseline (same run) | ratio | target | met | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results.rows:
        value = "n/a" if r.value is None else f"{r.value:,.2f} {r.unit}"
        base = f"{r.baseline:,.2f} ({r.baseline_what})" if r.baseline else "—"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[r.met]
        lines.append(f"| {r.what} | {value} | {base} | {ratio} | {r.target} | {met} | {r.note} |")
    missed = [r.what for r in results.rows if r.met is False]
    if missed:
        lines += [
            "",
            f"Missed: {'; '.join(missed)}. Where the time goes, with the profiles (pyinstrument,"
            " py-spy) that show it: docs/performance.md.",
        ]
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
