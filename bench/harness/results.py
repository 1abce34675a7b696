"""Reading what a run left in its results folder: k6 summaries (summary-*.json), the runner's
meta-*.json, k6's per-request CSV and the queue and probe timelines of raw/."""

from __future__ import annotations

import csv
import functools
import gzip
import json
import math
import urllib.parse
from collections import defaultdict
from pathlib import Path
from typing import Any

# Requests that wait for the job by design (k6 names): the submits as the page sends them
# (?wait=25, held until the job ends) and the status long-poll. Judged as submit→QR.
HELD = ("register-v2-wait", "login-v2-wait", "status-wait")
SUBMITS = ("register-v2", "login-v2", "register-v2-wait", "login-v2-wait")


def load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


LATENCY_HEADER = ["route", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms"]


def route_trend(route: str) -> str:
    """k6's duration trend of one tagged route."""
    return f"http_req_duration{{name:{route}}}"


def latency_row(summary: dict[str, Any] | None, label: str, trend: str) -> list[Any]:
    """A row of LATENCY_HEADER: the label, then the trend's count, p50, p95, p99 and max."""
    return [
        label,
        *(metric(summary, trend, st) for st in ("count", "med", "p(95)", "p(99)", "max")),
    ]


def metric(summary: dict[str, Any] | None, name: str, stat: str, default: Any = None) -> Any:
    if not summary:
        return default
    m = summary.get("metrics", {}).get(name)
    if not isinstance(m, dict):
        return default
    return m.get(stat, default)


def threshold_results(summary: dict[str, Any] | None) -> list[tuple[str, str, bool]]:
    """(metric, threshold, passed) for every threshold of a summary-export file (its value is
    true when the threshold was crossed, i.e. failed)."""
    out = []
    for name, m in (summary or {}).get("metrics", {}).items():
        for expr, failed in (m.get("thresholds") or {}).items():
            out.append((name, expr, not failed))
    return out


def measured_rps(summary_path: Path, seconds: float) -> float:
    """Requests/s of the `measure` scenario of a ceiling or verify-phone run."""
    summary = load(summary_path)
    count = metric(summary, "http_reqs{scenario:measure}", "count", 0) or 0
    return round(count / max(seconds, 1e-9), 1)


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def read_raw(path: Path, t0_ms: float | None) -> dict[str, Any]:
    """Per-second series from a k6 CSV (gzip or not): latencies by route name, requests,
    VUs, time_to_qr. Times in seconds from t0 (or from the first sample). Also `journeys`:
    (start ms, end ms, step tag, outcome tag) of each time_to_qr sample, k6's own clock (k6
    takes the sample as the journey ends; its value is the journey's length)."""
    opener = gzip.open if path.suffix == ".gz" else open
    lat: dict[int, list[float]] = defaultdict(list)
    lat_by_name: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    reqs: dict[int, int] = defaultdict(int)
    fails: dict[int, int] = defaultdict(int)
    vus: dict[int, float] = {}
    ttq: dict[int, list[float]] = defaultdict(list)
    journeys: list[tuple[float, float, str, str]] = []
    submits: dict[int, int] = defaultdict(int)
    first: float | None = t0_ms
    earliest = math.inf
    with opener(path, "rt", newline="") as f:  # type: ignore[operator]
        for row in csv.DictReader(f):
            name = row.get("metric_name")
            if name not in (
                "http_req_duration",
                "http_reqs",
                "vus",
                "time_to_qr",
                "http_req_failed",
            ):
                continue
            ts = float(row["timestamp"])
            earliest = min(earliest, ts)
            if first is None:
                first = ts
            sec = int((ts - first) / 1000)
            value = float(row["metric_value"])
            route = row.get("name") or ""
            if name == "http_req_duration":
                if route not in HELD:  # waits for the job by design: see time_to_qr
                    lat[sec].append(value)
                lat_by_name[route][sec].append(value)
            elif name == "http_reqs":
                reqs[sec] += 1
                if route in SUBMITS:
                    submits[sec] += 1
            elif name == "http_req_failed":
                fails[sec] += int(value)
            elif name == "vus":
                vus[sec] = value
            elif name == "time_to_qr":
                ttq[sec].append(value)
                tags = dict(urllib.parse.parse_qsl(row.get("extra_tags") or ""))
                journeys.append((ts - value, ts, tags.get("step", ""), tags.get("outcome", "")))
    return {
        "lat": lat,
        "lat_by_name": lat_by_name,
        "reqs": reqs,
        "fails": fails,
        "vus": vus,
        "ttq": ttq,
        "journeys": journeys,
        "submits": submits,
        # seconds from t0 to k6's first sample: k6 initialises its VUs before it starts
        "start_offset_s": 0.0
        if first is None or earliest is math.inf
        else (earliest - first) / 1000,
    }


def rebin_lists(series: dict[int, list[float]], step: int) -> dict[int, list[float]]:
    out: dict[int, list[float]] = defaultdict(list)
    for sec, values in series.items():
        out[(sec // step) * step].extend(values)
    return out


def rebin_rate(series: dict[int, float] | dict[int, int], step: int) -> dict[int, float]:
    """Per-second counts → mean per second over bins of `step` seconds."""
    out: dict[int, float] = defaultdict(float)
    for sec, value in series.items():
        out[(sec // step) * step] += value / step
    return out


@functools.lru_cache(maxsize=4)
def raw_series(path: Path, t0_ms: float | None) -> dict[str, Any]:
    """read_raw, once per file (the plots and the tables read the same series)."""
    return read_raw(path, t0_ms)


def peak_rate(per_sec: dict[int, int], window: int = 10) -> float:
    """The highest mean per second over `window` consecutive seconds."""
    if not per_sec:
        return 0.0
    last = max(per_sec)
    best = 0
    for start in range(0, max(1, last - window + 2)):
        best = max(best, sum(per_sec.get(t, 0) for t in range(start, start + window)))
    return best / window


def read_csv_rows(path: Path) -> list[dict[str, float]]:
    try:
        with path.open(newline="") as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (OSError, ValueError):
        return []


def k6_start_offset(out: Path, name: str, meta: dict[str, Any]) -> float:
    """Seconds between the runner's t0 (queue poller, probe) and k6's first sample."""
    raw_path = out / "raw" / f"{name}.csv.gz"
    t0 = meta.get("t0_epoch")
    if not raw_path.exists() or not t0:
        return 0.0
    try:
        return float(raw_series(raw_path, t0 * 1000)["start_offset_s"])
    except (OSError, ValueError, EOFError):
        return 0.0
