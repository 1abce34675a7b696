"""Timelines taken while k6 runs: threads polling once a second, bounded by the scenario."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.harness.database import bq
from bench.harness.machine import TIERS, process_tier
from bench.harness.servers import http_call


class QueuePoller:
    """Every second: jobs pending (waiting+active+delayed) and jobs finished since the last
    poll, straight from the jobs table (what the workers really did, whatever k6 saw)."""

    def __init__(self, url: str, t0: float, reconnect: bool = False):
        # reconnect: the database may go away mid-run (bench/run.sh --cluster's events) and
        # come back, on another node; the seconds it is gone have no row
        self.url, self.t0, self.reconnect = url, t0, reconnect
        self.disconnects = 0
        self.rows: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: str | None = None

    def start(self) -> QueuePoller:
        self._thread.start()
        return self

    def _run(self) -> None:
        since: Any = None
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=3) as c:
                    if since is None:
                        row = c.execute(bq("now")).fetchone()
                        since = row[0] if row else None
                    while not self._stop.is_set():
                        pending_row = c.execute(bq("jobs_pending")).fetchone()
                        fin = c.execute(bq("jobs_finished_since"), {"since": since}).fetchone()
                        pending = int(pending_row[0]) if pending_row else 0
                        finished = int(fin[0]) if fin else 0
                        if fin and fin[1] is not None:
                            since = fin[1]
                        self.rows.append((round(time.time() - self.t0, 3), pending, finished))
                        self.error = None
                        self._stop.wait(1.0)
            except psycopg.Error as err:
                self.error = str(err).strip().splitlines()[0]
                if not self.reconnect:
                    return
                self.disconnects += 1
                self._stop.wait(0.5)

    def pending(self) -> int | None:
        return self.rows[-1][1] if self.rows else None

    def stop(self, path: Path) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as f:
            f.write("t,pending,finished\n")
            for t, p, fin in self.rows:
                f.write(f"{t},{p},{fin}\n")


class Probe:
    """Every second, one phone check as a person would do it: status and milliseconds."""

    def __init__(self, base: str, t0: float):
        self.base, self.t0 = base, t0
        self.rows: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Probe:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.time() - self.t0
            status, _, ms = http_call(
                self.base + "/api/guest/verify-phone-v2", {"phone": "+351910000001"}, timeout=10
            )
            self.rows.append((round(t, 3), status, round(ms, 1)))
            self._stop.wait(max(0.0, 1.0 - ms / 1000))

    def stop(self, path: Path) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        with path.open("w") as f:
            f.write("t,status,ms\n")
            for t, s, ms in self.rows:
                f.write(f"{t},{s},{ms}\n")


class CpuPoller:
    """Every second: the CPU seconds each tier of the machine has used since the poller
    started (machine.process_tier: PostgreSQL, app, workers, HAProxy, pgbouncer, k6, other),
    summed over its processes, those that started meanwhile included. A process that ends
    between two polls loses its last second at most."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.rows: list[tuple[float, dict[str, float]]] = []
        # (pid, start time: a reused pid is another process) → (tier, CPU at first sight, now)
        self._seen: dict[tuple[int, float], tuple[str, float, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CpuPoller:
        self._poll(baseline=True)  # what the processes used before does not count
        self._thread.start()
        return self

    def _poll(self, baseline: bool = False) -> dict[str, float]:
        used = dict.fromkeys(TIERS, 0.0)
        for proc in psutil.process_iter(["name", "cmdline", "cpu_times", "create_time"]):
            info = proc.info
            cpu = info.get("cpu_times")
            if cpu is None:
                continue
            key = (proc.pid, info.get("create_time") or 0.0)
            now = cpu.user + cpu.system
            tier, first, _ = self._seen.get(key) or (
                process_tier(info.get("name") or "", info.get("cmdline") or []),
                now if baseline else 0.0,
                now,
            )
            self._seen[key] = (tier, first, now)
        for tier, first, last in self._seen.values():
            used[tier] += last - first
        return used

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.rows.append((round(time.time() - self.t0, 3), self._poll()))

    def stop(self, path: Path) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with path.open("w") as f:
            f.write(",".join(("t", *TIERS)) + "\n")
            for t, used in self.rows:
                f.write(",".join((str(t), *(f"{used[k]:.2f}" for k in TIERS))) + "\n")
