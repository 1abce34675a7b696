"""k6, the load generator: where it is, how its summaries are exported, and what one run of it
left (RunResult)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from bench.harness import BENCH, ROOT, BenchError

K6_DIR = BENCH / "k6"
TREND_STATS = "avg,min,med,max,p(90),p(95),p(99),count"
# k6's Go runtime in saturation, where its CPU is taken from the system under test (ms of k6
# CPU a journey at a fixed 34/s, 2 runs each): at most ~50 requests/s need no second thread,
# which Go's scheduler would wake for each request (GOMAXPROCS=1: 1.6 -> 1.3), and a collection
# when the heap has grown 4 x past its live size rather than 1 x (GOGC=400: 1.65 -> 1.4).
SATURATION_GO_ENV = {"GOMAXPROCS": "1", "GOGC": "400"}


def find_k6() -> str:
    venv_k6 = ROOT / ".venv" / "bin" / "k6"
    if venv_k6.exists():
        return str(venv_k6)
    found = shutil.which("k6")
    if not found:
        raise BenchError("k6 not found (make install puts it in .venv/bin/k6)")
    return found


@dataclass
class RunResult:
    """One k6 run."""

    name: str
    script: str
    rc: int
    wall_s: float
    k6_cpu_s: float
    summary: str
    raw: str | None
    env: dict[str, str] = field(default_factory=dict)
    thresholds_failed: bool = False
    go_env: dict[str, str] = field(default_factory=dict)  # Go runtime settings k6 ran with
