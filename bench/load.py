"""Load from wrk, and the figures read from what it and the server's metrics print."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def wrk_post(base: str, seconds: int, connections: int, token: str, donor: str) -> dict[str, float]:
    script = ["-s", str(HERE / "post.lua"), base, "--", token, donor, f"r{time.time_ns()}"]
    return _wrk(connections, seconds, script)


def wrk_get(url: str, seconds: int, connections: int = 1) -> dict[str, float]:
    """Latency of one client (p99 is the target), then throughput with eight."""
    latency = _wrk(connections, seconds, [url])
    loaded = _wrk(8, seconds, [url])
    return latency | {"rps_8": loaded["rps"], "p99_ms_8": loaded["p99_ms"]}


def _wrk(connections: int, seconds: int, target: list[str]) -> dict[str, float]:
    """Run wrk (two threads, latency distribution) and read its figures."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            *target,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    return _figures(out)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _figures(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    return {
        "rps": rps,
        "errors": float(errors.group(1)) if errors else 0.0,
        "p99_ms": _ms(p99.group(1)) if p99 else float("nan"),
        "p50_ms": _ms(p50.group(1)) if p50 else float("nan"),
    }


def view_wait_p99_s(metrics: str) -> float | None:
    buckets = [
        (float(le), int(n))
        for le, n in re.findall(
            r'fund_ledger_view_wait_seconds_bucket\{le="([\d.]+)"\} (\d+)', metrics
        )
    ]
    total = re.search(r"fund_ledger_view_wait_seconds_count (\d+)", metrics)
    if not buckets or not total or not int(total.group(1)):
        return None
    count = int(total.group(1))
    for le, n in sorted(buckets):
        if n >= 0.99 * count:
            return le
    return float("inf")
