"""saturation: registrations through the queue at a rising arrival rate, step by step, up to the
highest rate the system sustains."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

from bench.harness import BenchError, write_json
from bench.harness.bench import Bench
from bench.harness.document import Document, fmt, pyplot, ratio, table
from bench.harness.k6 import SATURATION_GO_ENV
from bench.harness.limits import journey_floor
from bench.harness.results import (
    load,
    metric,
    raw_series,
)

# saturation's arrival rates, as shares of the bcrypt limit
SATURATION_SHARES = (
    0.3, 0.5, 0.65, 0.75, 0.8, 0.85, 0.875, 0.9, 0.925, 0.95, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5
)  # fmt: skip


def arrival_rates(bench: Bench) -> list[float]:
    """Arrivals/s per step: the shares of the bcrypt limit, to a tenth (k6 takes tenths)."""
    if bench.mode.sat_rates:
        return list(bench.mode.sat_rates)
    b = bench.limits.get("bcrypt_per_s")
    if not b:
        raise BenchError("saturation needs the bcrypt limit (run limits first)")
    # fine steps around the limit, where the sustained rate is decided; coarse beyond
    rates: list[float] = []
    for share in SATURATION_SHARES:
        rate = max(1.0, round(share * b, 1))
        if not rates or rate > rates[-1]:
            rates.append(rate)
    return rates


def run(bench: Bench) -> None:
    with bench.scenario("saturation") as meta:
        rates = arrival_rates(bench)
        m = bench.mode
        meta.update(
            rates=rates,
            hold_s=m.sat_hold,
            ramp_s=m.sat_ramp,
            settle=m.sat_settle,
            max_ttq_ms=2000,
        )
        env = {
            "RATES": ",".join(map(str, rates)),
            "HOLD": str(m.sat_hold),
            "STEP_RAMP": str(m.sat_ramp),
            "SETTLE": str(m.sat_settle),
            "MAX_TTQ_MS": "2000",
        }
        expect = len(rates) * (m.sat_hold + m.sat_ramp) + 60
        bench.queue_run(
            "saturation",
            "saturation.js",
            env,
            expect,
            meta,
            drain_timeout=min(120, m.drain_timeout),
            go_env=SATURATION_GO_ENV,
        )
        sat = saturation_steps(bench.out, meta)
        meta["steps"] = sat["steps"]
        meta["sustained"] = sat["sustained"]
        if sat["sustained"]:
            bench.sustained_rate = sat["sustained"]["completions_per_s"]
        write_json(bench.out / "meta-saturation.json", meta)


# ─── its section of the report ────────────────────────────────────────────


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


def plot_saturation(out: Path, sat: dict[str, Any], bcrypt: float | None) -> str | None:
    steps = sat.get("steps") or []
    if not steps:
        return None
    plt = pyplot()
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


def section(doc: Document) -> None:
    doc.w("## Saturation: registrations at a rising arrival rate", "")
    meta = doc.meta.get("saturation")
    doc.use_limits(meta)
    if not meta:
        doc.w("Not run.", "")
        doc.target("saturation: sustained completions ≥ 0.9 x the bcrypt limit", None)
        return
    if doc.failed_to_run("saturation"):
        doc.target(
            "saturation: sustained completions ≥ 0.9 x the bcrypt limit", False, "did not run"
        )
        return
    sat = saturation_steps(doc.out, meta)
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
            ratio(s["completions_per_s"], doc.bcrypt),
            "yes" if s["sustained"] else "no",
        ]
        for s in sat["steps"]
    ]
    doc.w(
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
    dropped = metric(doc.summary("saturation"), "dropped_iterations", "count", 0)
    doc.w(
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
        doc.w(
            f"**Highest sustained rate: {fmt(s['completions_per_s'])} registrations/s "
            f"({fmt(60 * s['completions_per_s'], 0)}/min) = "
            f"{ratio(s['completions_per_s'], doc.bcrypt)} x the bcrypt limit.**",
            "",
        )
    else:
        doc.w("**No step was sustained.**", "")
    if doc.queue_path:
        doc.w(
            "The queue's SQL path alone (limits: the enqueue, the work and the status read "
            f"by pgbench, no HTTP, no Python, no k6) completes {fmt(doc.queue_path)}/s = "
            f"{ratio(doc.queue_path, doc.bcrypt)} x the bcrypt limit: the most this "
            "machine could sustain through the queue before one HTTP request is served.",
            "",
        )
    floor = journey_floor(
        int((meta or {}).get("ncpu") or os.cpu_count() or 1),
        doc.bcrypt,
        doc.queue_path,
        doc.paced,
    )
    if floor:
        doc.w(
            f"The limits put a floor under a journey: {fmt(floor['floor_ms'])} ms of CPU, "
            f"at most {floor['ratio']:.2f} x the bcrypt limit "
            "before the app's own work (Limits section).",
            "",
        )
    journeys = metric(load(doc.out / "summary-saturation.json"), "submits", "count")
    reach = journey_cpu(meta, journeys, doc.bcrypt)
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
        doc.w(
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
    plot = plot_saturation(doc.out, sat, doc.bcrypt)
    if plot:
        doc.w(f"![saturation curve]({plot})", "")
    doc.jobs_table(meta)
    doc.plots("saturation", meta)
    rate = s["completions_per_s"] if s else None
    after = bcrypt_after(doc, meta)
    measured = f"{fmt(rate)}/s vs bcrypt {fmt(doc.bcrypt)}/s = {ratio(rate, doc.bcrypt)}x"
    if after:
        measured += (
            f"; {ratio(rate, after)}x of the {fmt(after)}/s measured after the scenarios "
            "(judged on the higher of the two)"
        )
    judged = max(doc.bcrypt or 0, after or 0)
    doc.target(
        "saturation: sustained completions ≥ 0.9 x the bcrypt limit",
        bool(rate and judged and rate >= 0.9 * judged),
        measured,
    )


def bcrypt_after(doc: Document, meta: dict[str, Any]) -> float | None:
    """The bcrypt rate measured again after the scenarios, when `meta`'s run did: the
    machine's speed drifts, so a ratio is claimed only against the higher of the two."""
    limits = doc.meta.get("limits") or {}
    if limits.get("run_started") != meta.get("run_started"):
        return None
    return limits.get("bcrypt_after_per_s")
