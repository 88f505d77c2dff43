"""Servers and commands the benchmark starts: on loopback, timed, always stopped."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


STARTED: list[Server] = []


class Server:
    """A server process on loopback, stopped on exit."""

    def __init__(self, args: list[str], env: dict[str, str], probe: str, cwd: Path) -> None:
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*args, "--port", str(self.port)],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        STARTED.append(self)
        _wait_up(self.base + probe, self.process)

    def rss_mb(self) -> float:
        """Resident memory of the server and the processes it started (serve's views worker
        on PostgreSQL)."""
        return sum(_rss_mb(pid) for pid in (self.process.pid, *self.children()))

    def children(self) -> list[int]:
        """The processes the server started, whichever of its threads started them."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        found: list[int] = []
        for task in tasks.iterdir() if tasks.exists() else ():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                found.extend(int(pid) for pid in (task / "children").read_text().split())
        return found

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # a process that ended meanwhile holds no memory
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def uvicorn(factory: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
    ]


def timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        args,
        check=False,
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=7200,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return elapsed, done.stdout + done.stderr


def fund_ledger(*args: str) -> list[str]:
    """A ``fund-ledger`` command run by this Python."""
    return [sys.executable, "-m", "fund_ledger", *args]
