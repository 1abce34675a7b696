"""The bench report: `python -m bench.report <results folder>` (bench/run.sh calls it).

Reads what the runner left in the folder — k6 summaries (summary-*.json, --summary-export),
the runner's meta-*.json and run.json, raw/ (k6 per-request CSV, queue and probe timelines) —
and writes report.md with the targets as PASS/FAIL lines, every result as a ratio to the
limit measured in the same run, and PNG plots (matplotlib): latency percentiles and
throughput over time per queue scenario, the saturation curve, the verify-phone comparison.
Nothing here asserts anything: a target that fails is a line that says FAIL.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import json
import math
import os
import re
import statistics
import sys
import urllib.parse
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Requests that wait for the job by design (k6 names): the submits as the page sends them
# (?wait=25, held until the job ends) and the status long-poll. Judged as submit→QR.
HELD = ("register-v2-wait", "login-v2-wait", "status-wait")
SUBMITS = ("register-v2", "login-v2", "register-v2-wait", "login-v2-wait")

# ─── reading ───────────────────────────────────────────────────────────────


def load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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


# ─── derived figures ───────────────────────────────────────────────────────


def finished_in_window(
    journeys: list[tuple[float, float, str, str]], step: int, window_s: float
) -> int | None:
    """Journeys of any step that ended with their QR code during step `step`'s judged window
    (from its first counted start, `window_s` long); None without the step's journeys."""
    starts = [start for start, _, tag, _ in journeys if tag == str(step)]
    if not starts:
        return None
    w0 = min(starts)
    w1 = w0 + 1000 * window_s
    return sum(1 for _, end, _, outcome in journeys if outcome == "ok" and w0 <= end < w1)


def saturation_steps(out: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Per step: offered rate, journeys counted, completions/s, p95 time to QR; and the highest
    step sustained (p95 < max_ttq, no failed journey, every lower step sustained too).

    completions/s is what the system kept up with: the step's journeys that completed, but no
    more than the journeys that ended with a QR code inside the window (from the raw CSV), so
    a queue that grows through the step does not count as keeping up."""
    summary = load(out / "summary-saturation.json")
    rates = meta.get("rates") or []
    window = max(1e-9, meta.get("hold_s", 1) * (1 - meta.get("settle", 0.34)))
    max_ttq = meta.get("max_ttq_ms", 2000)
    journeys: list[tuple[float, float, str, str]] = []
    raw_path, t0 = out / "raw" / "saturation.csv.gz", meta.get("t0_epoch")
    if raw_path.exists():
        with contextlib.suppress(OSError, ValueError, EOFError, KeyError):
            journeys = raw_series(raw_path, t0 * 1000 if t0 else None)["journeys"]
    # raw/ is not kept in the repo: a report rebuilt without it uses the counts the run kept
    kept = {s.get("step"): s.get("finished_in_window") for s in meta.get("steps") or []}
    steps, sustained, broken = [], None, False
    for i, rate in enumerate(rates):
        submits = metric(summary, f"submits{{step:{i}}}", "count", 0) or 0
        if submits == 0:
            break  # the run ended (or aborted) before this step was measured
        done = metric(summary, f"completions{{step:{i}}}", "count", 0) or 0
        failed = metric(summary, f"journeys_failed{{step:{i}}}", "count", 0) or 0
        p95 = metric(summary, f"time_to_qr{{step:{i}}}", "p(95)")
        finished = finished_in_window(journeys, i, window) if journeys else kept.get(i)
        step = {
            "step": i,
            "offered_per_s": rate,
            "submits": submits,
            "arrivals_per_s": round(submits / window, 2),
            "completions": done,
            "failed": failed,
            "finished_in_window": finished,
            "completions_per_s": round(
                min(done, finished if finished is not None else done) / window, 2
            ),
            "p95_ttq_ms": None if p95 is None else round(p95, 1),
            "med_ttq_ms": metric(summary, f"time_to_qr{{step:{i}}}", "med"),
        }
        kept_up = finished is None or finished >= 0.95 * submits
        ok = (
            p95 is not None and p95 < max_ttq and failed == 0 and done >= 0.95 * submits and kept_up
        )
        step["sustained"] = ok and not broken
        if not step["sustained"]:
            broken = True
        elif sustained is None or step["completions_per_s"] > sustained["completions_per_s"]:
            sustained = step
        steps.append(step)
    return {"steps": steps, "sustained": sustained}


def journey_cpu(meta: dict[str, Any], journeys: float | None, bcrypt: float | None) -> Any:
    """A journey's CPU, in ms, from /proc over the run (`journeys`: every journey started,
    steps and ramps alike): the hash (CPUs ÷ the bcrypt limit), the database beside it (when
    the runner could measure the server: `postgres_cpu_s`), the app, k6, the whole machine and
    the rest. What the machine can complete is CPUs ÷ the whole, beside the bcrypt limit, which
    counts the hash alone."""
    ncpu = meta.get("ncpu") or os.cpu_count() or 1
    k6_cpu = sum(r.get("k6_cpu_s") or 0 for r in meta.get("runs") or [])
    app_cpu = meta.get("app_cpu_s")
    if not (journeys and bcrypt and app_cpu and k6_cpu):
        return None
    hash_ms = 1000 * ncpu / bcrypt
    app_ms, k6_ms = 1000 * app_cpu / journeys, 1000 * k6_cpu / journeys
    db_cpu = meta.get("postgres_cpu_s")
    # the server's CPU less the hash: its SQL beside the hash (the enqueue, the seed function's
    # inserts and session, the job's own row, the status read)
    db_ms = 1000 * db_cpu / journeys - hash_ms if db_cpu else None
    busy_s = (meta.get("machine_busy_pct") or 0) / 100 * (meta.get("machine_cpu_s") or 0)
    machine_ms = 1000 * busy_s / journeys if busy_s else None
    rest_ms = None
    if machine_ms is not None:
        rest_ms = machine_ms - hash_ms - app_ms - k6_ms - (db_ms or 0)
    return {
        "ncpu": ncpu,
        "hash_ms": hash_ms,
        "db_ms": db_ms,
        "app_ms": app_ms,
        "k6_ms": k6_ms,
        "machine_ms": machine_ms,
        # what else the machine did: the database beside the hash too when it was not measured
        "rest_ms": rest_ms,
    }


def journey_floor(
    ncpu: int, bcrypt: float | None, queue_path: float | None, paced: dict[str, Any] | None
) -> dict[str, float] | None:
    """The least CPU, in ms, a saturation journey can cost, from three limits of the same run:
    the hash (CPUs ÷ the bcrypt limit), the queue's SQL beside it (CPUs ÷ the queue-path limit,
    less the hash) and one request at saturation's pace to the bare route (its server's and
    k6's CPU). `ratio`: the most the CPUs could complete at that cost ÷ the bcrypt limit."""
    if not (bcrypt and queue_path and paced):
        return None
    hash_ms = 1000 * ncpu / bcrypt
    sql_ms = 1000 * ncpu / queue_path - hash_ms
    http_ms = paced["server_ms"] + paced["k6_ms"]
    floor_ms = hash_ms + sql_ms + http_ms
    return {
        "hash_ms": hash_ms,
        "sql_ms": sql_ms,
        "http_ms": http_ms,
        "floor_ms": floor_ms,
        "ratio": hash_ms / floor_ms,
    }


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


def ideal_burst_s(n: int, bcrypt_per_s: float, ncpu: int) -> float:
    """Seconds the last of n jobs sent at once needs when the CPUs do nothing but hash: n /
    the bcrypt limit, counted in whole hashes per CPU (each CPU hashes one job at a time at
    ncpu / limit seconds a hash), so 1 job costs one hash time, not a share of one."""
    per_cpu = max(1, ncpu)
    return math.ceil(n / per_cpu) * per_cpu / bcrypt_per_s


def doors_completion_rate(meta: dict[str, Any], out: Path) -> tuple[float | None, str]:
    """Jobs finished per minute in the settled part of the hold (queue timeline)."""
    rows = read_csv_rows(out / meta.get("queue_csv", "-"))
    if not rows:
        return None, "no queue timeline"
    offset = k6_start_offset(out, "doors-open", meta)
    start = offset + meta.get("ramp_s", 0) + (meta.get("think_s") or [0, 0])[1]
    end = offset + meta.get("ramp_s", 0) + meta.get("hold_s", 0)
    if end - start < 10:  # short runs: the whole k6 run
        start, end = 0.0, float(meta.get("k6_end_s") or rows[-1]["t"])
    finished = sum(r["finished"] for r in rows if start < r["t"] <= end)
    span = end - start
    return (
        round(60 * finished / span, 1) if span > 0 else None,
        f"jobs finished between t={start:.0f} s and t={end:.0f} s",
    )


def derived(name: str, meta: dict[str, Any], out: Path) -> dict[str, Any]:
    """The figures a section reads from raw/ (not kept in git), computed while raw/ is there:
    the runner stores them in the scenario's meta, so the report can be made again later (on a
    clone, beside newer runs of other scenarios) without raw/."""
    if name in ("seed", "seed-carry"):
        raw_path = out / "raw" / f"{name}.csv.gz"
        t0 = meta.get("t0_epoch")
        return {
            "recovery": seed_recovery(meta, out, name),
            "demand_peak": peak_rate(raw_series(raw_path, t0 * 1000 if t0 else None)["submits"])
            if raw_path.exists()
            else None,
        }
    if name == "doors-open":
        return {"completion_rate": doors_completion_rate(meta, out)}
    return {}


def seed_recovery(meta: dict[str, Any], out: Path, name: str) -> dict[str, Any]:
    """From the probe (one phone check a second): when, after the peak ended, the server
    answered normally again (5 probes in a row 200 in < 100 ms)."""
    rows = read_csv_rows(out / meta.get("probe_csv", "-"))
    peak_end = meta.get("peak_end_s", 0) + k6_start_offset(out, name, meta)
    res: dict[str, Any] = {"probes": len(rows)}
    if not rows:
        return res
    res["probe_non_200"] = sum(1 for r in rows if r["status"] != 200)
    res["probe_max_ms"] = max(r["ms"] for r in rows)
    after = [r for r in rows if r["t"] >= peak_end]
    good = [r["status"] == 200 and r["ms"] < 100 for r in after]
    for i in range(len(after)):
        if all(good[i : i + 5]) and len(good[i : i + 5]) == 5:
            res["normal_after_peak_s"] = round(after[i]["t"] - peak_end, 1)
            break
    else:
        res["normal_after_peak_s"] = None
    return res


SEED_FULL_TARGETS = (
    "seed at full scale: no 5xx but 503 + Retry-After; queue drained",
    "seed at full scale: answers normally within a minute after the peak",
)
SEED_CARRY_TARGETS = (
    "seed scaled to this machine: its thresholds (as meant) pass with 0 unfinished jobs",
    "seed scaled to this machine: the seed's `errors` threshold as written (no check fails)",
)


def threshold_value(summary: dict[str, Any] | None, name: str, expr: str) -> str:
    """The value a threshold expression was judged on, e.g. p(95) or rate."""
    stat = expr.split("<")[0].split(">")[0].strip()
    key = "value" if stat == "rate" else stat
    v = metric(summary, name, key)
    if v is None:
        return "-"
    if stat == "rate":
        return f"{100 * v:.2f}%"
    return f"{v:,.1f}"


def jobs_summary(meta: dict[str, Any]) -> dict[str, int]:
    out = {"total": 0, "completed_ok": 0, "completed_refused": 0, "failed": 0, "pending": 0}
    for row in meta.get("jobs") or []:
        n = int(row["jobs"])
        out["total"] += n
        if row["status"] == "completed":
            out["completed_ok" if row["success"] == "true" else "completed_refused"] += n
        elif row["status"] == "failed":
            out["failed"] += n
        else:
            out["pending"] += n
    return out


# ─── plots ─────────────────────────────────────────────────────────────────


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_timeseries(out: Path, name: str, meta: dict[str, Any]) -> list[str]:
    raw_path = out / "raw" / f"{name}.csv.gz"
    if not raw_path.exists():
        return []
    t0 = meta.get("t0_epoch")
    series = raw_series(raw_path, t0 * 1000 if t0 else None)
    last = max([*series["lat"], *series["reqs"], 1])
    step = max(1, math.ceil(last / 300))  # at most ~300 points per line
    plt = _plt()
    made = []
    lat = rebin_lists(series["lat"], step)
    ttq = rebin_lists(series["ttq"], step)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    secs = sorted(lat)
    for p, style in ((50, "-"), (95, "-"), (99, ":")):
        ax.plot(secs, [pct(lat[s], p) for s in secs], style, label=f"p{p} all routes")
    ttq_secs = sorted(ttq)
    if ttq_secs:
        ax.plot(ttq_secs, [pct(ttq[s], 95) for s in ttq_secs], "--", label="p95 submit→QR")
    if meta.get("peak_end_s"):
        peak_end = meta["peak_end_s"] + series["start_offset_s"]
        ax.axvline(peak_end, color="grey", lw=0.8, ls="--", label="end of peak")
    ax.set_yscale("log")
    ax.set_xlabel("seconds")
    ax.set_ylabel(f"ms (per {step} s of the run)")
    ax.set_title(f"{name}: latency percentiles over time (held submits and long-polls excluded)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fname = f"{name}-latency.png"
    fig.savefig(out / fname, dpi=90)
    plt.close(fig)
    made.append(fname)

    fig, ax = plt.subplots(figsize=(10, 4.5))
    reqs = rebin_rate(series["reqs"], step)
    ax.plot(sorted(reqs), [reqs[s] for s in sorted(reqs)], label="HTTP requests/s", lw=0.8)
    if any(series["fails"].values()):
        fails = rebin_rate(series["fails"], step)
        ax.plot(sorted(fails), [fails[s] for s in sorted(fails)], label="failed requests/s", lw=0.8)
    queue = read_csv_rows(out / meta.get("queue_csv", "-"))
    if queue:
        done: dict[int, float] = defaultdict(float)
        for r in queue:
            done[int(r["t"])] += r["finished"]
        done_b = rebin_rate(done, step)
        ax.plot(
            sorted(done_b),
            [done_b[s] for s in sorted(done_b)],
            label="jobs finished/s (jobs table)",
            lw=0.8,
        )
    ax.set_xlabel("seconds")
    ax.set_ylabel("per second")
    ax2 = ax.twinx()
    vsecs = sorted(series["vus"])
    ax2.plot(vsecs, [series["vus"][s] for s in vsecs], color="black", lw=0.8, ls=":", label="VUs")
    if queue:
        ax2.plot(
            [r["t"] for r in queue],
            [r["pending"] for r in queue],
            color="red",
            lw=0.8,
            ls="--",
            label="jobs pending",
        )
    ax2.set_ylabel("VUs / jobs pending")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title(f"{name}: throughput over time")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fname = f"{name}-throughput.png"
    fig.savefig(out / fname, dpi=90)
    plt.close(fig)
    made.append(fname)
    return made


def plot_saturation(out: Path, sat: dict[str, Any], bcrypt: float | None) -> str | None:
    steps = sat.get("steps") or []
    if not steps:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = [s["offered_per_s"] for s in steps]
    ax.plot(x, [s["completions_per_s"] for s in steps], "o-", label="completions/s")
    ax.plot(x, x, color="grey", lw=0.8, ls=":", label="offered = completed")
    if bcrypt:
        ax.axhline(bcrypt, color="red", lw=0.8, ls="--", label=f"bcrypt limit {bcrypt:.1f}/s")
        ax.axhline(0.9 * bcrypt, color="red", lw=0.6, ls=":", label="0.9 x bcrypt limit")
    ax.set_xlabel("registrations offered per second")
    ax.set_ylabel("completed per second")
    ax2 = ax.twinx()
    ax2.plot(
        x,
        [s["p95_ttq_ms"] or math.nan for s in steps],
        "s--",
        color="purple",
        label="p95 submit→QR (ms)",
    )
    ax2.axhline(2000, color="purple", lw=0.6, ls=":")
    ax2.set_ylabel("p95 submit→QR, ms")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title("saturation: registrations at a rising arrival rate")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "saturation-curve.png", dpi=90)
    plt.close(fig)
    return "saturation-curve.png"


def plot_verify(out: Path, rows: list[dict[str, Any]], ceiling: dict[str, float]) -> str | None:
    if not rows:
        return None
    plt = _plt()
    levels = sorted({r["vus"] for r in rows})
    targets = ["ours", "bare", "postgraphile"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.2
    for j, target in enumerate(targets):
        vals = [
            next((r["rps"] for r in rows if r["target"] == target and r["vus"] == v), 0)
            for v in levels
        ]
        ax.bar([i + (j - 1) * width for i in range(len(levels))], vals, width, label=target)
    for i, v in enumerate(levels):
        c = ceiling.get(str(v)) or ceiling.get(v)  # type: ignore[call-overload]
        if c:
            ax.plot([i - 1.6 * width, i + 1.6 * width], [c, c], color="black", lw=0.8, ls="--")
    ax.set_xticks(range(len(levels)), [f"{v} VUs" for v in levels])
    ax.set_ylabel("requests/s (dashed: HTTP ceiling)")
    ax.set_title("verify-phone-v2: our route, bare Starlette, PostGraphile 4")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "verify-phone.png", dpi=90)
    plt.close(fig)
    return "verify-phone.png"


# ─── the report ────────────────────────────────────────────────────────────


def fmt(v: Any, nd: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def ratio(a: Any, b: Any) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}"


def pf(ok: bool | None) -> str:
    return "NOT RUN" if ok is None else ("PASS" if ok else "FAIL")


def table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return lines


class Report:
    def __init__(self, out: Path):
        self.out = out
        self.run = load(out / "run.json") or {}
        self.meta = {p.stem[5:]: load(p) or {} for p in sorted(out.glob("meta-*.json"))}
        self.lines: list[str] = []
        self.targets: list[tuple[str, bool | None, str]] = []
        limits = (self.meta.get("limits") or {}).get("limits") or {}
        self.global_limits = limits
        self.bcrypt = limits.get("bcrypt_per_s")
        self.lookup = limits.get("lookup_per_s")
        self.queue_path = limits.get("queue_path_per_s")
        self.paced = limits.get("paced")
        self.ceiling = {str(k): v for k, v in (limits.get("ceiling_rps") or {}).items()}

    def use_limits(self, meta: dict[str, Any] | None) -> None:
        """Ratios use the limits measured in the same run as the scenario (a folder can hold
        scenarios from several runs of the same day), and the section says when it ran."""
        limits = (meta or {}).get("limits") or self.global_limits
        self.bcrypt = limits.get("bcrypt_per_s")
        self.lookup = limits.get("lookup_per_s")
        self.queue_path = limits.get("queue_path_per_s")
        self.paced = limits.get("paced")
        self.ceiling = {str(k): v for k, v in (limits.get("ceiling_rps") or {}).items()}
        if meta:
            self.w(
                f"_Ran {meta.get('started', '?')} ({meta.get('mode')}), {meta.get('wall_s')} s; "
                f"load average before {meta.get('loadavg_before')}; limits of the same run: "
                f"bcrypt {fmt(self.bcrypt)}/s, lookups {fmt(self.lookup)}/s._",
                "",
            )

    def summary(self, name: str) -> dict[str, Any] | None:
        return load(self.out / f"summary-{name}.json")

    def target(self, text: str, ok: bool | None, detail: str = "") -> None:
        self.targets.append((text, ok, detail))

    def w(self, *lines: str) -> None:
        self.lines.extend(lines)

    def failed_to_run(self, name: str) -> bool:
        meta = self.meta.get(name)
        if meta and meta.get("ok") is False:
            self.w(f"**Could not run:** {meta.get('error')}", "")
            return True
        return False

    # -- sections ---------------------------------------------------------------------------

    def header(self) -> None:
        r = self.run
        pg = r.get("postgres") or {}
        self.w(f"# guestlist bench — {r.get('started', '?')[:10]} ({r.get('mode', '?')} run)", "")
        self.w(
            "The promise: 500+ people at once, p95 < 100 ms, 500+ registrations a minute, "
            "99.9% success. Every figure below was measured on this machine, with the load "
            "generator (k6) on the same machine as the server and the database; each is "
            "stated beside the limit measured in the same run as itself.",
            "",
        )
        earlier = {
            name: m
            for name, m in self.meta.items()
            if name != "limits" and m.get("started", "") < r.get("started", "")
        }
        if earlier:
            parts = []
            for name, m in sorted(earlier.items()):
                run = f", code {m.get('git')}, `bench/run.sh {' '.join(m.get('argv') or [])}`"
                parts.append(f"{name} (started {m.get('started')}{run if 'git' in m else ''})")
            self.w(
                "> **Scenarios from more than one run.** The table below describes the latest "
                "run; these sections come from an earlier run of the same day (each section "
                f"names its start and its own run's limits): {'; '.join(parts)}.",
                "",
            )
        if r.get("mode") != "full":
            self.w(
                f"> **{r.get('mode')} run**: shortened stages; the figures show the shape, "
                "not the promise. The promise is judged on a full run (`bench/run.sh`).",
                "",
            )
        load_start = r.get("loadavg_start") or [0]
        if load_start and load_start[0] > 0.5 * (r.get("ncpu") or 1):
            self.w(
                f"> **Noisy machine**: load average {load_start[0]:.2f} on {r.get('ncpu')} "
                "CPUs when the run started (other work was running); figures are low "
                "by an unknown amount.",
                "",
            )
        self.w(
            "| machine | |",
            "|---|---|",
            f"| CPU | {r.get('ncpu')} x {r.get('cpu_model')} |",
            f"| memory | {r.get('mem_gb')} GB |",
            f"| PostgreSQL | {str(pg.get('version', '?')).split(' on ')[0]}, "
            f"max_connections {pg.get('max_connections')}, shared_buffers "
            f"{pg.get('shared_buffers')}, fsync {pg.get('fsync')}, synchronous_commit "
            f"{pg.get('synchronous_commit')} |",
            f"| pools | app, bare app and PostGraphile: {r.get('pool_max')} connections each |",
            f"| tools | {r.get('k6')}; {r.get('pgbench')}; node {r.get('node')}; "
            f"Python {r.get('python')} |",
            f"| code | {r.get('git')} |",
            f"| load average | start {r.get('loadavg_start')}, end {r.get('loadavg_end')} |",
            f"| command | `bench/run.sh {' '.join(r.get('argv') or [])}` |",
            "",
        )

    def limits(self) -> None:
        self.w("## Limits (same run, before the scenarios)", "")
        meta = self.meta.get("limits")
        if not meta:
            self.w("Not run.", "")
            return
        if self.failed_to_run("limits"):
            return
        pgb = meta.get("pgbench") or {}
        rows = [
            [
                f"bcrypt cost 10 hashes/s (`bench/pgbench/crypt.sql`, {pgb.get('crypt_clients')}"
                " clients)",
                pgb.get("bcrypt_per_s"),
            ]
        ]
        for c, v in (pgb.get("lookup_per_s") or {}).items():
            rows.append([f"indexed lookups/s (`bench/pgbench/lookup.sql`, {c} clients)", v])
        queue_path = pgb.get("queue_path_per_s")
        if queue_path:  # older runs did not measure it
            rows.append(
                [
                    "the queue's SQL path, registrations/s: enqueue, work, status read "
                    f"(`bench/pgbench/queue_path.sql`, {pgb.get('crypt_clients')} clients; "
                    f"{ratio(queue_path, pgb.get('bcrypt_per_s'))} x bcrypt)",
                    queue_path,
                ]
            )
        rounds = meta.get("ceiling_rounds") or {}
        for vus, v in (meta.get("ceiling_rps") or {}).items():
            each = rounds.get(str(vus)) or rounds.get(vus) or []
            detail = f"; median of {' / '.join(f'{x:,.0f}' for x in each)}" if len(each) > 1 else ""
            rows.append([f"HTTP ceiling req/s (bare Starlette `GET /const`, {vus} VUs{detail})", v])
        paced = meta.get("paced")
        if paced:  # older runs did not measure it
            rows.append(
                [
                    f"one request at a time to the bare route's phone check, {fmt(paced['rate'])}"
                    "/s (`bench/k6/paced.js`, saturation's pace): CPU ms of its server + of k6",
                    f"{fmt(paced['server_ms'], 2)} + {fmt(paced['k6_ms'], 2)}",
                ]
            )
        after = meta.get("bcrypt_after_per_s")
        if after:
            rows.append(
                [
                    "bcrypt cost 10 hashes/s again, after the scenarios (drift "
                    f"{100 * (after / pgb['bcrypt_per_s'] - 1):+.0f}%: machine noise)",
                    after,
                ]
            )
        self.w(*table(["limit", "value"], rows), "")
        self.w(
            f"pgbench: {pgb.get('secs')} s per run, median of {pgb.get('runs')}. "
            "A registration or a login costs one bcrypt hash, so the bcrypt rate is the "
            "ceiling of guests added per second on this machine; the queue's SQL path adds "
            "the SQL a queued registration runs beside its hash, so it bounds saturation before "
            "any HTTP request is served; the lookup rate bounds the phone check; the HTTP "
            "ceiling bounds any route.",
            "",
        )
        ncpu = int(meta.get("ncpu") or os.cpu_count() or 1)
        floor = journey_floor(ncpu, pgb.get("bcrypt_per_s"), queue_path, paced)
        if floor:
            self.w(
                "A saturation journey (one registration through the queue, one HTTP request "
                f"held to its end) costs at least {fmt(floor['floor_ms'])} ms of CPU: the hash "
                f"{fmt(floor['hash_ms'])}, the queue's SQL beside it {fmt(floor['sql_ms'])} "
                f"({ncpu} ÷ the queue's SQL path, less the hash) and one request at saturation's "
                f"pace to the bare route {fmt(floor['http_ms'], 2)} (its server's and k6's CPU, "
                f"k6's own start and stop taken out). So {ncpu} CPUs complete at most "
                f"{floor['ratio']:.2f} x the bcrypt limit before the app "
                "does any work of its own (validation, the worker's round trip, the "
                "notification, the status read's call) and before the machine's own services "
                "(throughputs of this run: the machine's noise moves them by a few %).",
                "",
            )

    def verify_phone(self) -> None:
        self.w("## verify-phone-v2: our route vs a bare route vs PostGraphile 4", "")
        meta = self.meta.get("verify-phone")
        self.use_limits(meta)
        if not meta:
            self.w("Not run.", "")
            for vus in ("50", "200"):
                self.target(f"verify-phone-v2 ≥ 1.25 x PostGraphile's rps at {vus} VUs", None)
                self.target(f"verify-phone-v2 ≥ 0.85 x the bare route's rps at {vus} VUs", None)
            return
        if meta.get("error"):
            self.w(f"**Incomplete:** {meta['error']}", "")
        # runs grouped by (target, VUs), one per round
        groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        secs = warmup = None
        for run in meta.get("runs") or []:
            summary = load(self.out / run["summary"])
            target, vus = run["env"]["TARGET"], int(run["env"]["VUS"])
            secs = float(run["env"]["DURATION"])
            warmup = run["env"].get("WARMUP")
            count = metric(summary, "http_reqs{scenario:measure}", "count", 0) or 0
            rnd = re.search(r"-r(\d+)$", run["name"])
            groups[(target, vus)].append(
                {"round": int(rnd.group(1)) if rnd else 1, "rps": count / secs, "s": summary}
            )
        d = "http_req_duration{scenario:measure}"
        rows, plot_rows = [], []
        med: dict[tuple[str, int], float] = {}
        order = {"ours": 0, "bare": 1, "postgraphile": 2}
        for (target, vus), runs in sorted(
            groups.items(), key=lambda kv: (kv[0][1], order.get(kv[0][0], 9))
        ):
            rps = statistics.median(r["rps"] for r in runs)
            med[(target, vus)] = rps
            plot_rows.append({"target": target, "vus": vus, "rps": rps})
            fails = sum((metric(r["s"], "checks{scenario:measure}", "fails", 0) or 0) for r in runs)
            checks = fails + sum(
                (metric(r["s"], "checks{scenario:measure}", "passes", 0) or 0) for r in runs
            )
            failed = sum(
                (metric(r["s"], "http_req_failed{scenario:measure}", "passes", 0) or 0)
                for r in runs
            )

            def med_stat(stat: str, runs: list[dict[str, Any]] = runs) -> float | None:
                vals = [v for r in runs if (v := metric(r["s"], d, stat)) is not None]
                return statistics.median(vals) if vals else None

            rows.append(
                [
                    target,
                    vus,
                    rps,
                    " / ".join(f"{r['rps']:,.0f}" for r in sorted(runs, key=lambda r: r["round"])),
                    med_stat("med"),
                    med_stat("p(95)"),
                    med_stat("p(99)"),
                    failed,
                    f"{100 * (1 - fails / checks):.2f}%" if checks else "-",
                    ratio(rps, self.ceiling.get(str(vus))),
                    ratio(rps, self.lookup),
                ]
            )
        self.w(
            *table(
                [
                    "target",
                    "VUs",
                    "req/s (median)",
                    "each round",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "failed requests",
                    "right answers",
                    "÷ HTTP ceiling",
                    "÷ lookup limit",
                ],
                rows,
            ),
            "",
        )
        self.w(
            f"{meta.get('rounds', 1)} round(s); in each, every target at every VU level: "
            f"{warmup} s warm-up, then {fmt(secs)} s measured; no think time; half the phones "
            f"exist ({meta.get('phones_each_kind')} of each kind, every answer checked). The three "
            "servers run at once on the same database and take turns, so a drift in the "
            "machine's other load hits them alike; latencies are medians over the rounds. "
            "PostGraphile: `postgraphile -c … --schema api --disable-graphiql --dynamic-json "
            "--default-role guestlist_web`, mutation `checkPhoneWithCache` (the function is "
            "VOLATILE). Ratios below: median over rounds of the same-round ratio.",
            "",
        )
        vplot = plot_verify(self.out, plot_rows, self.ceiling)
        if vplot:
            self.w(f"![verify-phone]({vplot})", "")

        def round_ratio(a: str, b: str, vus: int) -> float | None:
            ra = {r["round"]: r["rps"] for r in groups.get((a, vus), [])}
            rb = {r["round"]: r["rps"] for r in groups.get((b, vus), [])}
            both = [ra[k] / rb[k] for k in ra if rb.get(k)]
            return statistics.median(both) if both else None

        for vus in sorted({v for (_, v) in groups}):
            for other, factor, label in (
                ("postgraphile", 1.25, "PostGraphile's"),
                ("bare", 0.85, "the bare route's"),
            ):
                r = round_ratio("ours", other, vus)
                self.target(
                    f"verify-phone-v2 ≥ {factor} x {label} rps at {vus} VUs",
                    None if r is None else r >= factor,
                    f"{fmt(med.get(('ours', vus)))} vs {fmt(med.get((other, vus)))} req/s; "
                    f"ratio {fmt(r, 2)}",
                )

    def saturation(self) -> None:
        self.w("## Saturation: registrations at a rising arrival rate", "")
        meta = self.meta.get("saturation")
        self.use_limits(meta)
        if not meta:
            self.w("Not run.", "")
            self.target("saturation: sustained completions ≥ 0.9 x the bcrypt limit", None)
            return
        if self.failed_to_run("saturation"):
            self.target(
                "saturation: sustained completions ≥ 0.9 x the bcrypt limit", False, "did not run"
            )
            return
        sat = saturation_steps(self.out, meta)
        rows = [
            [
                s["step"],
                s["offered_per_s"],
                s["arrivals_per_s"],
                s["submits"],
                s["completions"],
                s["failed"],
                s.get("finished_in_window"),
                s["completions_per_s"],
                s["med_ttq_ms"],
                s["p95_ttq_ms"],
                ratio(s["completions_per_s"], self.bcrypt),
                "yes" if s["sustained"] else "no",
            ]
            for s in sat["steps"]
        ]
        self.w(
            *table(
                [
                    "step",
                    "offered/s",
                    "arrived/s",
                    "journeys",
                    "completed",
                    "failed",
                    "finished in window",
                    "completed/s",
                    "p50 submit→QR ms",
                    "p95 submit→QR ms",
                    "÷ bcrypt limit",
                    "sustained",
                ],
                rows,
            ),
            "",
        )
        window = meta.get("hold_s", 0) * (1 - meta.get("settle", 0.34))
        dropped = metric(self.summary("saturation"), "dropped_iterations", "count", 0)
        self.w(
            f"Each step ramps {meta.get('ramp_s')} s then holds {meta.get('hold_s')} s; a "
            f"step is judged on journeys started in its last {window:.0f} s (`journeys`). "
            "`finished in window`: journeys of any step that got their QR code in that window; "
            "`completed/s` counts the step's completed journeys, but no more than those, ÷ the "
            "window: the rate the system kept up with, not one a growing queue still owes. "
            "Sustained = p95 submit→QR < 2 s, no failed journey, ≥ 95% completed and ≥ 95% "
            "finished in the window, and every lower step sustained too. k6 aborts the run "
            "when a step's p95 passes 2 s. `arrived/s` below "
            "`offered/s` means k6 could not start journeys fast enough (load generator short "
            f"of CPU or VUs: {fmt(dropped)} dropped iterations in the run).",
            "",
        )
        s = sat["sustained"]
        if s:
            self.w(
                f"**Highest sustained rate: {fmt(s['completions_per_s'])} registrations/s "
                f"({fmt(60 * s['completions_per_s'], 0)}/min) = "
                f"{ratio(s['completions_per_s'], self.bcrypt)} x the bcrypt limit.**",
                "",
            )
        else:
            self.w("**No step was sustained.**", "")
        if self.queue_path:
            self.w(
                "The queue's SQL path alone (limits: the enqueue, the work and the status read "
                f"by pgbench, no HTTP, no Python, no k6) completes {fmt(self.queue_path)}/s = "
                f"{ratio(self.queue_path, self.bcrypt)} x the bcrypt limit: the most this "
                "machine could sustain through the queue before one HTTP request is served.",
                "",
            )
        floor = journey_floor(
            int((meta or {}).get("ncpu") or os.cpu_count() or 1),
            self.bcrypt,
            self.queue_path,
            self.paced,
        )
        if floor:
            self.w(
                f"The limits put a floor under a journey: {fmt(floor['floor_ms'])} ms of CPU, "
                f"at most {floor['ratio']:.2f} x the bcrypt limit "
                "before the app's own work (Limits section).",
                "",
            )
        journeys = metric(load(self.out / "summary-saturation.json"), "submits", "count")
        reach = journey_cpu(meta, journeys, self.bcrypt)
        if reach and reach["machine_ms"]:
            no_k6 = reach["machine_ms"] - reach["k6_ms"]
            sql_work = (
                "the enqueue, the seed function's inserts and session, the job's own row, "
                "the status read"
            )
            if reach["db_ms"] is None:
                beside = (
                    f"and {fmt(reach['rest_ms'])} more: the database's work beside the hash "
                    f"({sql_work}) and whatever else ran."
                )
            else:
                beside = (
                    f"the database {fmt(reach['db_ms'])} beside the hash (its CPU from /proc "
                    f"less the hash: {sql_work}), and {fmt(reach['rest_ms'])} more: whatever "
                    "else ran (the machine's own services, the runner, the kernel's threads)."
                )
            self.w(
                "Where a journey's CPU went (/proc over the whole scenario ÷ the "
                f"{fmt(journeys)} journeys started): the whole machine was busy "
                f"{fmt(reach['machine_ms'])} ms per journey — the hash "
                f"{fmt(reach['hash_ms'])} ms (CPUs ÷ the bcrypt limit), the app "
                f"{fmt(reach['app_ms'])} (HTTP and the workers), k6 {fmt(reach['k6_ms'])}, "
                f"{beside} At that cost {reach['ncpu']} CPUs complete "
                f"about {reach['ncpu']} ÷ that = "
                f"{fmt(1000 * reach['ncpu'] / reach['machine_ms'])}/s = "
                f"{ratio(reach['hash_ms'], reach['machine_ms'])} x the bcrypt limit with k6 on "
                f"the machine, {ratio(reach['hash_ms'], no_k6)} x without it: a low estimate, "
                "as the quiet low steps count their idle costs too; the sustained step above "
                "is the measurement.",
                "",
            )
        plot = plot_saturation(self.out, sat, self.bcrypt)
        if plot:
            self.w(f"![saturation curve]({plot})", "")
        self.jobs_table(meta)
        self.plots("saturation", meta)
        rate = s["completions_per_s"] if s else None
        after = self.bcrypt_after(meta)
        measured = f"{fmt(rate)}/s vs bcrypt {fmt(self.bcrypt)}/s = {ratio(rate, self.bcrypt)}x"
        if after:
            measured += (
                f"; {ratio(rate, after)}x of the {fmt(after)}/s measured after the scenarios "
                "(judged on the higher of the two)"
            )
        judged = max(self.bcrypt or 0, after or 0)
        self.target(
            "saturation: sustained completions ≥ 0.9 x the bcrypt limit",
            bool(rate and judged and rate >= 0.9 * judged),
            measured,
        )

    def bcrypt_after(self, meta: dict[str, Any]) -> float | None:
        """The bcrypt rate measured again after the scenarios, when `meta`'s run did: the
        machine's speed drifts, so a ratio is claimed only against the higher of the two."""
        limits = self.meta.get("limits") or {}
        if limits.get("run_started") != meta.get("run_started"):
            return None
        return limits.get("bcrypt_after_per_s")

    def time_to_qr(self) -> None:
        self.w("## Time to QR: N registrations at the same moment (issue #4)", "")
        name = "time-to-qr"
        meta = self.meta.get(name)
        self.use_limits(meta)
        if not meta:
            self.w("Not run.", "")
            return
        if self.failed_to_run(name):
            return
        s = self.summary(name)
        levels = meta.get("levels") or []
        rounds = meta.get("rounds") or []
        slots = meta.get("slots_s") or []
        ncpu = int(meta.get("ncpu") or 1)
        rows, lags, overran = [], [], 0
        for i, n in enumerate(levels):
            ttq = f"time_to_qr{{n:{n}}}"
            p95, top = metric(s, ttq, "p(95)"), metric(s, ttq, "max")
            ideal = 1000 * ideal_burst_s(n, self.bcrypt, ncpu) if self.bcrypt else None
            overran += metric(s, f"slot_overruns{{n:{n}}}", "count", 0) or 0
            lags.append(metric(s, f"burst_start_lag{{n:{n}}}", "max"))
            rows.append(
                [
                    n,
                    rounds[i] if i < len(rounds) else None,
                    metric(s, f"registrations{{n:{n}}}", "count", 0),
                    metric(s, f"journeys_failed{{n:{n}}}", "count", 0),
                    metric(s, ttq, "med"),
                    p95,
                    top,
                    self.bcrypt,
                    ideal,
                    ratio(p95, ideal),
                    ratio(top, ideal),
                ]
            )
        self.w(
            *table(
                [
                    "concurrency",
                    "bursts",
                    "registrations",
                    "failed",
                    "p50 ms",
                    "p95 ms",
                    "max ms",
                    "bcrypt-10 hashes/s",
                    "ideal ms (last of N)",
                    "p95 ÷ ideal",
                    "max ÷ ideal",
                ],
                rows,
            ),
            "",
        )
        worst_lag = max((x for x in lags if x is not None), default=None)
        self.w(
            "Each burst: N VUs send `register-v2?wait=25` (new phones) at the same instant, "
            "the answer held until the job ends (else they long-poll `status?wait=25`), then "
            "fetch the QR SVG, as the guest page does. Time to QR: just before the POST → end "
            "of the SVG response (successful journeys; failures are counted, not timed). "
            "Bursts of a level start "
            + ", ".join(f"{x} s (N = {n})" for n, x in zip(levels, slots, strict=False))
            + " apart (3 x ideal + 1 s, at least 2 s, plus "
            f"{fmt(meta.get('pause_s'))} s for the queue to empty); a warm-up "
            "journey first, not counted. Ideal: the time the last of N needs when the "
            f"{ncpu} CPUs only hash, ⌈N ÷ {ncpu}⌉ x {ncpu} ÷ the bcrypt limit (= N ÷ the limit "
            f"when N is a multiple of {ncpu}; one job needs a whole hash). Latest start "
            f"{fmt(worst_lag)} ms after its burst's instant; {fmt(overran)} journeys still ran "
            "when the next burst began (slot overruns).",
            "",
        )
        steps = [
            (step, metric(s, f"journey_failures{{step:{step}}}", "count", 0))
            for step in ("register", "status", "job_failed", "refused", "qr")
        ]
        if any(n for _, n in steps):
            self.w(*table(["failed at step", "journeys"], [[k, v] for k, v in steps if v]), "")
        self.jobs_table(meta)
        self.plots(name, meta)

    def doors_open(self) -> None:
        self.w("## Doors open: 500 people, a real opening", "")
        name = "doors-open"
        meta = self.meta.get(name)
        self.use_limits(meta)
        texts = [
            "doors-open: 0 failed journeys",
            "doors-open: p95 < 100 ms on every route but the synchronous login/register",
            "doors-open: p95 submit→QR < 500 ms",
            "doors-open: ≥ 750 registrations+logins completed per minute",
        ]
        if not meta:
            self.w("Not run.", "")
            for t in texts:
                self.target(t, None)
            return
        if self.failed_to_run(name):
            for t in texts:
                self.target(t, False, "did not run")
            return
        s = self.summary(name)
        started = metric(s, "journeys_started", "count", 0)
        done = metric(s, "journeys_completed", "count", 0)
        failed = metric(s, "journeys_failed", "count", 0) or 0
        self.w(
            f"{meta.get('people')} VUs (people) arrive over {meta.get('ramp_s')} s and stay "
            f"{meta.get('hold_s')} s; each: page → verify-phone-v2 → "
            f"{meta.get('think_s')} s typing → register-v2?wait=25 (60%, new phone) or "
            "login-v2?wait=25 (40%, existing account), held until the job ends (long-poll "
            "status?wait=25 if not) → QR SVG; then the next person.",
            "",
        )
        per_min, how = (meta.get("derived") or derived(name, meta, self.out))["completion_rate"]
        rows = [
            ["journeys started", started],
            ["journeys completed", done],
            ["journeys failed", failed],
            ["journeys unfinished at the end", (started or 0) - (done or 0) - failed],
            ["completed per minute (" + how + ")", per_min],
            ["… ÷ bcrypt limit", ratio((per_min or 0) / 60, self.bcrypt)],
        ]
        for step in ("page", "verify", "submit", "job", "qr"):
            n = metric(s, f"journey_failures{{step:{step}}}", "count", 0)
            if n:
                rows.append([f"failed at step {step}", n])
        self.w(*table(["journeys", "value"], rows), "")
        route_rows, worst = [], []
        for route in ("page", "verify-phone-v2", "qr-svg", *HELD):
            d = f"http_req_duration{{name:{route}}}"
            p95 = metric(s, d, "p(95)")
            route_rows.append(
                [
                    route,
                    metric(s, d, "count"),
                    metric(s, d, "med"),
                    p95,
                    metric(s, d, "p(99)"),
                    metric(s, d, "max"),
                ]
            )
            if route not in HELD:
                worst.append((route, p95))
        ttq = "time_to_qr"
        route_rows.append(
            [
                "submit→QR (time_to_qr)",
                metric(s, ttq, "count"),
                metric(s, ttq, "med"),
                metric(s, ttq, "p(95)"),
                metric(s, ttq, "p(99)"),
                metric(s, ttq, "max"),
            ]
        )
        self.w(
            *table(["route", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms"], route_rows), ""
        )
        self.w(
            "`register-v2-wait` and `login-v2-wait` are the submits as the page sends them "
            "(`?wait=25`: the answer is held until the job ends) and `status-wait` the long-poll "
            "that follows one not ended in time: they wait for the job by design, so their "
            "time is judged as submit→QR.",
            "",
        )
        self.jobs_table(meta)
        self.plots(name, meta)
        self.target(texts[0], failed == 0 and (started or 0) > 0, f"{failed} of {started}")
        bad = [f"{r} {fmt(p)} ms" for r, p in worst if p is not None and p >= 100]
        measured = [r for r, p in worst if p is not None]
        self.target(
            texts[1],
            None if not measured else not bad,
            "; ".join(bad)
            if bad
            else "all under 100 ms: "
            + ", ".join(f"{r} {fmt(p)}" for r, p in worst if p is not None),
        )
        p95 = metric(s, ttq, "p(95)")
        self.target(texts[2], None if p95 is None else p95 < 500, f"p95 {fmt(p95)} ms")
        self.target(
            texts[3], None if per_min is None else per_min >= 750, f"{fmt(per_min)}/min ({how})"
        )

    def seed(self, name: str) -> None:
        carry = name == "seed-carry"
        title = (
            "## The seed's load test, scaled to the peak this machine can carry"
            if carry
            else "## The seed's load test (load-test-500-users.js)"
        )
        self.w(title, "")
        meta = self.meta.get(name)
        self.use_limits(meta)
        if not meta:
            self.w("Not run.", "")
            for text in SEED_CARRY_TARGETS if carry else SEED_FULL_TARGETS:
                self.target(text, None)
            return
        if self.failed_to_run(name):
            return
        s = self.summary(name)
        jobs = jobs_summary(meta)
        kept = meta.get("derived") or derived(name, meta, self.out)
        rec = kept["recovery"]
        self.w(
            f"Stages x {meta.get('time_scale')} in time, peak {meta.get('peak')} VUs "
            f"({meta.get('peak_source')}); the seed's checks and thresholds unchanged; "
            "phones drawn as valid Portuguese mobiles. After k6 the runner waits for the "
            "queue to drain and counts every job in the jobs table.",
            "",
        )
        accepted = metric(s, "submit_accepted", "count", 0) or 0
        duration = meta.get("total_s") or 1
        demand = kept["demand_peak"]
        rows = [
            ["iterations", metric(s, "iterations", "count")],
            ["HTTP requests", metric(s, "http_reqs", "count")],
            ["submits accepted (2xx, job id)", accepted],
            [
                "… of which a pending job's id (same phone drawn again: `duplicate`)",
                metric(s, "submit_duplicate", "count", "not counted (older run)"),
            ],
            ["submits refused 503 queue full", metric(s, "submit_refused_503", "count", 0)],
            [
                "… of which without Retry-After",
                metric(s, "submit_503_without_retry_after", "count", 0),
            ],
            ["other 5xx answers", metric(s, "http_5xx_other", "count", 0)],
            [
                "jobs the seed stopped polling (10 x 500 ms)",
                metric(s, "seed_polls_exhausted", "count", 0),
            ],
            ["jobs in the table", jobs["total"]],
            ["… completed, guest on the list", jobs["completed_ok"]],
            ["… completed with a refusal", jobs["completed_refused"]],
            ["… failed (dead letter)", jobs["failed"]],
            ["… never finished (pending after the drain wait)", jobs["pending"]],
            [
                "time to drain after k6 ended, s",
                meta.get("drain_s")
                if meta.get("drain_s") is not None
                else f"not drained in {meta.get('drain_timeout_s')} s",
            ],
            [
                "accepted jobs/s over the run ÷ bcrypt limit",
                ratio(accepted / duration, self.bcrypt),
            ],
            ["peak submits/s (best 10 s)", demand],
            ["… ÷ bcrypt limit (how much bcrypt the peak asks for)", ratio(demand, self.bcrypt)],
            ["probe (1 phone check/s): non-200 answers", rec.get("probe_non_200")],
            ["probe: slowest answer, ms", rec.get("probe_max_ms")],
            [
                "answers normally again after the peak, s (5 probes in a row 200 in < 100 ms)",
                rec.get("normal_after_peak_s"),
            ],
        ]
        self.w(*table(["", "value"], rows), "")
        d = "http_req_duration"
        self.w(
            *table(
                ["k6", "p50 ms", "p95 ms", "p99 ms", "max ms"],
                [
                    [
                        "http_req_duration (all)",
                        metric(s, d, "med"),
                        metric(s, d, "p(95)"),
                        metric(s, d, "p(99)"),
                        metric(s, d, "max"),
                    ]
                ],
            ),
            "",
        )
        ths = sorted(threshold_results(s))
        self.w(
            *table(
                ["seed threshold", "value", "result"],
                [
                    [f"{m} {e}", threshold_value(s, m, e), "pass" if ok else "FAIL"]
                    for m, e, ok in ths
                ],
            ),
            "",
        )
        self.w(
            "`errors` is the seed's Rate as written: it only ever records 1 "
            "(`check(...) || errorRate.add(1)`), so one failed check anywhere (one request over "
            "100 ms) makes it 100%. `errors_as_meant` (added) records every check group, passed "
            "or not: the 1% the seed meant. The targets judge the thresholds as meant.",
            "",
        )
        refusals = [
            r
            for r in meta.get("jobs") or []
            if r["status"] == "completed" and r["success"] != "true"
        ]
        if refusals:
            self.w(*table(["refusal code", "jobs"], [[r["code"], r["jobs"]] for r in refusals]), "")
        self.jobs_table(meta)
        self.plots(name, meta)
        other5xx = metric(s, "http_5xx_other", "count", 0) or 0
        no_ra = metric(s, "submit_503_without_retry_after", "count", 0) or 0
        normal = rec.get("normal_after_peak_s")
        if carry:
            meant = [(m, e, ok) for m, e, ok in ths if m != "errors"]
            as_written = [ok for m, _, ok in ths if m == "errors"]
            unfinished = jobs["pending"] + jobs["failed"]
            self.target(
                SEED_CARRY_TARGETS[0],
                bool(meant) and all(ok for _, _, ok in meant) and unfinished == 0,
                f"peak {meta.get('peak')} VUs; "
                + ", ".join(f"{m} {e} {'pass' if ok else 'FAIL'}" for m, e, ok in meant)
                + f"; {unfinished} unfinished jobs",
            )
            self.target(
                SEED_CARRY_TARGETS[1],
                None if not as_written else all(as_written),
                f"errors = {threshold_value(s, 'errors', 'rate')}",
            )
        else:
            self.target(
                SEED_FULL_TARGETS[0],
                other5xx == 0 and no_ra == 0 and meta.get("drain_s") is not None,
                f"{other5xx} other 5xx, {no_ra} 503 without Retry-After, drain "
                f"{fmt(meta.get('drain_s'))} s",
            )
            self.target(
                SEED_FULL_TARGETS[1],
                None if not rec.get("probes") else (normal is not None and normal <= 60),
                f"after {fmt(normal)} s",
            )

    def jobs_table(self, meta: dict[str, Any]) -> None:
        rows = [
            [
                r["status"],
                r["success"] or "-",
                r["code"] or "-",
                r["jobs"],
                r["avg_ms"],
                r["max_ms"],
            ]
            for r in meta.get("jobs") or []
        ]
        if rows:
            self.w("Jobs table after the run (created → finished):", "")
            self.w(*table(["status", "success", "code", "jobs", "avg ms", "max ms"], rows), "")
        cpu = []
        for run in meta.get("runs") or []:
            go = run.get("go_env") or (
                {"GOMAXPROCS": run["go_procs"]} if run.get("go_procs") else {}  # older runs
            )
            procs = "".join(f", {k}={v}" for k, v in go.items())
            cpu.append(f"k6 {run.get('k6_cpu_s')} CPU-s in {run.get('wall_s')} s{procs}")
        if meta.get("app_cpu_s") is not None:
            cpu.append(f"app.py {meta['app_cpu_s']} CPU-s")
        if meta.get("machine_busy_pct") is not None:
            cpu.append(f"machine {meta['machine_busy_pct']}% busy over {meta.get('ncpu')} CPUs")
        if cpu:
            self.w("CPU: " + "; ".join(cpu) + " (k6 runs on the same machine).", "")

    def plots(self, name: str, meta: dict[str, Any]) -> None:
        s = self.summary(name)
        count = metric(s, "http_reqs", "count", 0) or 0
        wall = ((meta.get("runs") or [{}])[0]).get("wall_s") or 0
        ceiling = max(self.ceiling.values(), default=None)
        raw_path = self.out / "raw" / f"{name}.csv.gz"
        peak = None
        if raw_path.exists():
            t0 = meta.get("t0_epoch")
            with contextlib.suppress(OSError, ValueError, EOFError):
                peak = peak_rate(raw_series(raw_path, t0 * 1000 if t0 else None)["reqs"])
        if count and wall:
            self.w(
                f"HTTP: {fmt(count / wall)} req/s on average, {fmt(peak)} at the busiest 10 s = "
                f"{ratio(peak, ceiling)} x the HTTP ceiling ({fmt(ceiling)} req/s).",
                "",
            )
        try:
            made = plot_timeseries(self.out, name, meta)
        except (OSError, ValueError, EOFError) as err:
            self.w(f"(plots not drawn: {err})", "")
            return
        for fname in made:
            self.w(f"![{fname}]({fname})", "")

    def build(self) -> str:
        self.header()
        self.limits()
        body_start = len(self.lines)
        self.doors_open()
        self.saturation()
        self.time_to_qr()
        self.seed("seed")
        self.seed("seed-carry")
        self.verify_phone()
        body = self.lines[body_start:]
        self.lines = self.lines[:body_start]
        self.w("## Targets", "")
        self.w(
            *table(["target", "result", "measured"], [[t, pf(ok), d] for t, ok, d in self.targets]),
            "",
        )
        self.lines += body
        self.w(
            "---",
            "Raw per-request data (k6 CSV), server and k6 logs, queue and probe "
            "timelines: `raw/` beside this file (not committed). Rebuild this report: "
            f"`.venv/bin/python -m bench.report {self.out.name}`.",
            "",
        )
        return "\n".join(self.lines)


def write_report(out: Path) -> Path:
    text = Report(out).build()
    path = out / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def write_latest(out: Path, latest: Path) -> Path:
    """bench/results/latest.md: the report with its links pointing into its folder."""
    text = (out / "report.md").read_text(encoding="utf-8")
    rel = out.relative_to(latest.parent) if out.is_relative_to(latest.parent) else out
    text = text.replace("](", f"]({rel}/").replace(f"]({rel}/http", "](http")
    latest.write_text(f"<!-- copy of {rel}/report.md -->\n" + text, encoding="utf-8")
    return latest


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.report <results folder>", file=sys.stderr)
        return 2
    out = Path(argv[0])
    if not out.is_dir():
        out = Path(__file__).resolve().parent / "results" / argv[0]
    print(write_report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
