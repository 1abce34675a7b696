"""The report as it is written: its lines and targets, the limits of the scenario's own run,
and what every section writes the same way (numbers, Markdown tables, the jobs table, the
latency and throughput plots over time)."""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.harness.results import (
    load,
    metric,
    pct,
    peak_rate,
    raw_series,
    read_csv_rows,
    rebin_lists,
    rebin_rate,
)


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


def pyplot() -> Any:
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
    plt = pyplot()
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


class Document:
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
