"""The machine the bench runs on: CPU seconds of a process and of the whole machine (psutil),
load, CPU model and memory, and the versions of the code and the tools a run records."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path

import psutil

from bench.harness import ROOT


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process and of the children it reaped; None when
    the process is gone or not ours to read."""
    try:
        cpu = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return cpu.user + cpu.system + cpu.children_user + cpu.children_system


# The parts of the system a process belongs to, for CPU per tier (pollers.CpuPoller).
TIERS = ("PostgreSQL", "app", "workers", "HAProxy", "pgbouncer", "k6", "other")


def process_tier(name: str, cmdline: list[str]) -> str:
    """The tier of a process from its name and command line: PostgreSQL's processes (the
    cluster's and the machine's), the app (`guestlist serve`, app.py, uvicorn), standalone
    workers (`guestlist worker`), HAProxy, pgbouncer, k6, or other (the bench itself, the
    machine's services)."""
    line = " ".join(cmdline)
    if name in ("postgres", "postmaster") or line.startswith("postgres:"):
        return "PostgreSQL"
    if name in ("haproxy", "pgbouncer", "k6"):
        return {"haproxy": "HAProxy", "pgbouncer": "pgbouncer", "k6": "k6"}[name]
    if "guestlist" in line and " worker" in line:
        return "workers"
    if ("guestlist" in line and " serve" in line) or "app.py" in line or "uvicorn" in line:
        return "app"
    return "other"


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    cpu = psutil.cpu_times()
    total = sum(cpu)
    return total - cpu.idle - getattr(cpu, "iowait", 0.0), total


def loadavg() -> list[float]:
    return list(psutil.getloadavg())


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        # results of earlier runs are not the code under test
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", ".", ":!bench/results"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev or 'none'}{' (uncommitted changes)' if dirty else ''}"


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else "missing"


def app_env_value(name: str, default: str) -> str:
    return os.environ.get(name) or default


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_gb() -> float | None:
    return round(psutil.virtual_memory().total / 1024**3, 1)
