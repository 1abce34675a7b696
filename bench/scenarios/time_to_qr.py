"""time-to-qr: N registrations sent at the same moment, each timed from submit to QR code."""

from __future__ import annotations

import math
import os

from bench.harness import BenchError
from bench.harness.bench import Bench
from bench.harness.document import Document, fmt, ratio, table
from bench.harness.results import (
    metric,
)


def burst_slots(bench: Bench) -> tuple[list[float], float, list[float]]:
    """Per level: seconds from one burst to the next, and the ideal time of the burst's
    last job when the CPUs only hash (ideal_burst_s, below); plus the warm-up's slot.
    A slot is a generous bound on the burst (3 x ideal + 1 s, at least 2 s) plus the
    mode's pause, in which the queue empties before the next burst."""
    b = bench.limits.get("bcrypt_per_s")
    if not b:
        raise BenchError("time-to-qr needs the bcrypt limit (run limits first)")
    ncpu = os.cpu_count() or 1
    ideal = [ideal_burst_s(n, b, ncpu) for n in bench.mode.ttq_levels]
    slots = [round(bench.mode.ttq_pause + max(2.0, 3 * i + 1.0), 1) for i in ideal]
    return slots, slots[0], ideal


def run(bench: Bench) -> None:
    """Issue #4: register-v2 → QR code shown, N registrations sent at the same moment."""
    with bench.scenario("time-to-qr") as meta:
        m = bench.mode
        slots, warmup_slot, ideal = burst_slots(bench)
        meta.update(
            levels=list(m.ttq_levels),
            rounds=list(m.ttq_rounds),
            slots_s=slots,
            warmup_slot_s=warmup_slot,
            pause_s=m.ttq_pause,
            ideal_s=[round(i, 3) for i in ideal],
        )
        env = {
            "LEVELS": ",".join(map(str, m.ttq_levels)),
            "ROUNDS": ",".join(map(str, m.ttq_rounds)),
            "SLOTS": ",".join(map(str, slots)),
            "WARMUP_SLOT": str(warmup_slot),
        }
        expect = warmup_slot + sum(r * s for r, s in zip(m.ttq_rounds, slots, strict=True))
        bench.queue_run(
            "time-to-qr",
            "time-to-qr.js",
            env,
            expect + 30,
            meta,
            drain_timeout=min(120, m.drain_timeout),
        )


# ─── its section of the report ────────────────────────────────────────────


def ideal_burst_s(n: int, bcrypt_per_s: float, ncpu: int) -> float:
    """Seconds the last of n jobs sent at once needs when the CPUs do nothing but hash: n /
    the bcrypt limit, counted in whole hashes per CPU (each CPU hashes one job at a time at
    ncpu / limit seconds a hash), so 1 job costs one hash time, not a share of one."""
    per_cpu = max(1, ncpu)
    return math.ceil(n / per_cpu) * per_cpu / bcrypt_per_s


def section(doc: Document) -> None:
    doc.w("## Time to QR: N registrations at the same moment", "")
    name = "time-to-qr"
    meta = doc.meta.get(name)
    doc.use_limits(meta)
    if not meta:
        doc.w("Not run.", "")
        return
    if doc.failed_to_run(name):
        return
    s = doc.summary(name)
    levels = meta.get("levels") or []
    rounds = meta.get("rounds") or []
    slots = meta.get("slots_s") or []
    ncpu = int(meta.get("ncpu") or 1)
    rows, lags, overran = [], [], 0
    for i, n in enumerate(levels):
        ttq = f"time_to_qr{{n:{n}}}"
        p95, top = metric(s, ttq, "p(95)"), metric(s, ttq, "max")
        ideal = 1000 * ideal_burst_s(n, doc.bcrypt, ncpu) if doc.bcrypt else None
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
                doc.bcrypt,
                ideal,
                ratio(p95, ideal),
                ratio(top, ideal),
            ]
        )
    doc.w(
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
    doc.w(
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
        doc.w(*table(["failed at step", "journeys"], [[k, v] for k, v in steps if v]), "")
    doc.jobs_table(meta)
    doc.plots(name, meta)
