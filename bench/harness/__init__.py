"""The bench's harness: what every scenario shares. Databases (database.py), the servers under
test (servers.py), the machine and its CPU (machine.py), the timelines taken while k6 runs
(pollers.py), k6 itself (k6.py), the modes' durations (modes.py), the limits every result is
stated against (limits.py), and `Bench` (bench.py), which ties them together for one run.
Each scenario (bench/scenarios/) says what it runs and how its section of the report reads."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent

_T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"bench [{time.monotonic() - _T0:6.1f} s] {msg}", flush=True)


class BenchError(RuntimeError):
    """A scenario could not run; the message says why."""


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
