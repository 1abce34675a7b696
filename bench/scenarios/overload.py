"""overload: the replaced system's own load test (the seed's load-test-500-users.js), at its
full 500 users, and scaled to the peak this machine can carry (overload-carry).

Runs before the scenario had this name wrote meta-seed.json, summary-seed.json and
raw/seed.*, and the same with seed-carry: the section reads those when a folder has no
overload files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.harness import BenchError
from bench.harness.bench import Bench
from bench.harness.document import Document, fmt, ratio, table
from bench.harness.machine import TIERS
from bench.harness.results import (
    k6_start_offset,
    metric,
    peak_rate,
    raw_series,
    read_csv_rows,
    threshold_results,
)

# The seed's stages (seconds) up to the end of its 500-user hold: the "peak" ends there; it
# holds 500 users from SEED_PEAK_START_S.
SEED_PEAK_START_S = 60 + 120 + 300
SEED_PEAK_END_S = SEED_PEAK_START_S + 300
SEED_TOTAL_S = SEED_PEAK_END_S + 120 + 60
# A seed iteration whose job finishes fast: submit, one or two polls 500 ms apart, sleep 1 s.
SEED_ITERATION_S = 1.6


def carry_peak(bench: Bench) -> tuple[int, str]:
    if bench.overload_peak_override:
        return bench.overload_peak_override, "--overload-peak"
    if bench.sustained_rate:
        rate, source = bench.sustained_rate, "saturation's highest sustained rate"
    elif bench.limits.get("bcrypt_per_s"):
        rate, source = bench.limits["bcrypt_per_s"], "the bcrypt limit"
    else:
        raise BenchError("overload-carry needs the bcrypt limit or the saturation result")
    peak = max(5, int(0.8 * rate * SEED_ITERATION_S))
    return peak, (f"0.8 x {source} ({rate:.1f}/s) x {SEED_ITERATION_S} s per seed iteration")


def run(bench: Bench) -> None:
    runs = [("overload", bench.mode.overload_peak, "the seed's own peak")]
    if bench.mode.overload_carry:
        try:
            peak, why = carry_peak(bench)
            runs.append(("overload-carry", peak, why))
        except BenchError as err:
            with bench.scenario("overload-carry") as meta:
                raise err
    for name, peak, why in runs:
        with bench.scenario(name) as meta:
            scale = bench.mode.overload_time_scale
            meta.update(
                peak=peak,
                peak_source=why,
                time_scale=scale,
                peak_end_s=round(SEED_PEAK_END_S * scale, 1),
                total_s=round(SEED_TOTAL_S * scale, 1),
            )
            env = {"TIME_SCALE": str(scale), "PEAK": str(peak)}
            bench.queue_run(
                name,
                "overload.js",
                env,
                SEED_TOTAL_S * scale + 30,
                meta,
                probe=True,
                derive=derived,
            )


# ─── its section of the report ────────────────────────────────────────────


def derived(name: str, meta: dict[str, Any], out: Path) -> dict[str, Any]:
    """The figures the section reads from raw/ (not kept in git), computed while raw/ is there:
    the runner stores them in the scenario's meta, so the report can be made again later (on a
    clone, beside newer runs of other scenarios) without raw/."""
    raw_path = out / "raw" / f"{name}.csv.gz"
    t0 = meta.get("t0_epoch")
    return {
        "recovery": seed_recovery(meta, out, name),
        "peak_completions_per_s": peak_completions(meta, out, name),
        "peak_cpu": peak_cpu(meta, out, name),
        "demand_peak": peak_rate(raw_series(raw_path, t0 * 1000 if t0 else None)["submits"])
        if raw_path.exists()
        else None,
    }


def peak_window(meta: dict[str, Any], out: Path, name: str) -> tuple[float, float]:
    """Seconds from the runner's t0 while the peak's users are all there."""
    scale = meta.get("time_scale") or 1.0
    offset = k6_start_offset(out, name, meta)
    return offset + SEED_PEAK_START_S * scale, offset + SEED_PEAK_END_S * scale


def peak_completions(meta: dict[str, Any], out: Path, name: str) -> float | None:
    """Jobs finished a second while the peak's users are all there (the queue timeline)."""
    rows = read_csv_rows(out / meta.get("queue_csv", "-"))
    start, end = peak_window(meta, out, name)
    if not rows or end <= start:
        return None
    finished = sum(r["finished"] for r in rows if start < r["t"] <= end)
    return round(finished / (end - start), 2)


def peak_cpu(meta: dict[str, Any], out: Path, name: str) -> dict[str, float] | None:
    """CPUs each tier kept busy while the peak's users are all there (the CPU timeline:
    pollers.CpuPoller), or None without one."""
    rows = read_csv_rows(out / meta.get("cpu_csv", "-"))
    start, end = peak_window(meta, out, name)
    inside = [r for r in rows if start <= r["t"] <= end]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    seconds = last["t"] - first["t"]
    return {k: round((last[k] - first[k]) / seconds, 2) for k in TIERS if k in first}


def cpu_rows(doc: Document, meta: dict[str, Any], kept: dict[str, Any]) -> list[list[Any]]:
    """The peak's CPU per tier, the hashes' share of PostgreSQL's estimated from the bcrypt
    limit (its pgbench clients keep every CPU hashing: one hash costs CPUs ÷ limit seconds),
    what the rest (the peak's requests, k6's included) took, and the most they could take for
    the jobs finished to reach 0.8 x saturation's rate."""
    cpu, completions, ncpu = (
        kept.get("peak_cpu"),
        kept.get("peak_completions_per_s"),
        meta.get("ncpu"),
    )
    if not cpu:
        return []
    rows: list[list[Any]] = [
        ["CPUs busy while the peak's users are all there, by tier", fmt(sum(cpu.values()), 2)]
    ]
    hashes = completions * ncpu / doc.bcrypt if doc.bcrypt and ncpu and completions else None
    for tier, used in sorted(cpu.items(), key=lambda kv: -kv[1]):
        rows.append([f"… {tier}", fmt(used, 2)])
        if tier == "PostgreSQL" and hashes is not None:
            label = "… … of which the hashes (jobs finished/s x CPUs ÷ bcrypt limit)"
            rows.append([label, fmt(hashes, 2)])
    _, base, _ = peak_vs_saturation(doc, kept)
    if hashes is not None and base:
        budget = ncpu - 0.8 * base * ncpu / doc.bcrypt
        rows.append(
            [
                "CPUs the rest took: the peak's requests, k6's included",
                fmt(sum(cpu.values()) - hashes, 2),
            ]
        )
        rows.append(
            [
                "… the most they could take for 0.8 x saturation's rate "
                "(CPUs - 0.8 x that rate x CPUs ÷ bcrypt limit)",
                fmt(budget, 2),
            ]
        )
    return rows


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
    "seed at full scale: p99 accepted submit → job finished < 30 s",
    "seed at full scale: completions/s during the peak ≥ 0.8 x saturation's",
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


# The scenario's names in runs before it was called overload (the replaced system's name).
OLD_NAMES = {"overload": "seed", "overload-carry": "seed-carry"}


def section(doc: Document, name: str) -> None:
    carry = name == "overload-carry"
    if name not in doc.meta and OLD_NAMES[name] in doc.meta:
        name = OLD_NAMES[name]  # a run from before the rename: its files say seed
    title = (
        "## The seed's load test, scaled to the peak this machine can carry"
        if carry
        else "## The seed's load test (load-test-500-users.js)"
    )
    doc.w(title, "")
    meta = doc.meta.get(name)
    doc.use_limits(meta)
    if not meta:
        doc.w("Not run.", "")
        for text in SEED_CARRY_TARGETS if carry else SEED_FULL_TARGETS:
            doc.target(text, None)
        return
    if doc.failed_to_run(name):
        return
    s = doc.summary(name)
    jobs = jobs_summary(meta)
    kept = meta.get("derived") or derived(name, meta, doc.out)
    rec = kept["recovery"]
    doc.w(
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
            ratio(accepted / duration, doc.bcrypt),
        ],
        [
            "accepted submit → job finished, p50 / p95 / p99 / max ms",
            " / ".join(
                fmt((meta.get("job_latency") or {}).get(k))
                for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")
            ),
        ],
        [
            "jobs finished/s while the peak's users are all there",
            kept.get("peak_completions_per_s"),
        ],
        *cpu_rows(doc, meta, kept),
        ["peak submits/s (best 10 s)", demand],
        ["… ÷ bcrypt limit (how much bcrypt the peak asks for)", ratio(demand, doc.bcrypt)],
        ["probe (1 phone check/s): non-200 answers", rec.get("probe_non_200")],
        ["probe: slowest answer, ms", rec.get("probe_max_ms")],
        [
            "answers normally again after the peak, s (5 probes in a row 200 in < 100 ms)",
            rec.get("normal_after_peak_s"),
        ],
    ]
    doc.w(*table(["", "value"], rows), "")
    d = "http_req_duration"
    doc.w(
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
    doc.w(
        *table(
            ["seed threshold", "value", "result"],
            [[f"{m} {e}", threshold_value(s, m, e), "pass" if ok else "FAIL"] for m, e, ok in ths],
        ),
        "",
    )
    doc.w(
        "`errors` is the seed's Rate as written: it only ever records 1 "
        "(`check(...) || errorRate.add(1)`), so one failed check anywhere (one request over "
        "100 ms) makes it 100%. `errors_as_meant` (added) records every check group, passed "
        "or not: the 1% the seed meant. The targets judge the thresholds as meant.",
        "",
    )
    refusals = [
        r for r in meta.get("jobs") or [] if r["status"] == "completed" and r["success"] != "true"
    ]
    if refusals:
        doc.w(*table(["refusal code", "jobs"], [[r["code"], r["jobs"]] for r in refusals]), "")
    doc.jobs_table(meta)
    doc.plots(name, meta)
    other5xx = metric(s, "http_5xx_other", "count", 0) or 0
    no_ra = metric(s, "submit_503_without_retry_after", "count", 0) or 0
    normal = rec.get("normal_after_peak_s")
    if carry:
        meant = [(m, e, ok) for m, e, ok in ths if m != "errors"]
        as_written = [ok for m, _, ok in ths if m == "errors"]
        unfinished = jobs["pending"] + jobs["failed"]
        doc.target(
            SEED_CARRY_TARGETS[0],
            bool(meant) and all(ok for _, _, ok in meant) and unfinished == 0,
            f"peak {meta.get('peak')} VUs; "
            + ", ".join(f"{m} {e} {'pass' if ok else 'FAIL'}" for m, e, ok in meant)
            + f"; {unfinished} unfinished jobs",
        )
        doc.target(
            SEED_CARRY_TARGETS[1],
            None if not as_written else all(as_written),
            f"errors = {threshold_value(s, 'errors', 'rate')}",
        )
    else:
        doc.target(
            SEED_FULL_TARGETS[0],
            other5xx == 0 and no_ra == 0 and meta.get("drain_s") is not None,
            f"{other5xx} other 5xx, {no_ra} 503 without Retry-After, drain "
            f"{fmt(meta.get('drain_s'))} s",
        )
        doc.target(
            SEED_FULL_TARGETS[1],
            None if not rec.get("probes") else (normal is not None and normal <= 60),
            f"after {fmt(normal)} s",
        )
        p99 = (meta.get("job_latency") or {}).get("p99_ms")
        doc.target(
            SEED_FULL_TARGETS[2], None if p99 is None else p99 < 30_000, f"p99 {fmt(p99)} ms"
        )
        peak_rate, base, base_name = peak_vs_saturation(doc, kept)
        doc.target(
            SEED_FULL_TARGETS[3],
            None if peak_rate is None or base is None else peak_rate >= 0.8 * base,
            f"{fmt(peak_rate)}/s during the peak, {ratio(peak_rate, base)} {base_name}",
        )


def peak_vs_saturation(
    doc: Document, kept: dict[str, Any]
) -> tuple[float | None, float | None, str]:
    """Completions/s during the peak, and what they are judged against: saturation's highest
    sustained rate of the same run, else the bcrypt limit (said so)."""
    sat = (doc.meta.get("saturation") or {}).get("sustained") or {}
    if sat.get("completions_per_s"):
        base, base_name = sat["completions_per_s"], "of saturation's sustained rate"
    else:
        base, base_name = doc.bcrypt, "of the bcrypt limit (saturation not run)"
    return kept.get("peak_completions_per_s"), base, base_name
