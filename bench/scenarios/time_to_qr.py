"""time-to-qr: N registrations sent at the same moment, each timed from submit to QR code."""

from __future__ import annotations

import os

from bench import report
from bench.harness import BenchError
from bench.harness.bench import Bench


def burst_slots(bench: Bench) -> tuple[list[float], float, list[float]]:
    """Per level: seconds from one burst to the next, and the ideal time of the burst's
    last job when the CPUs only hash (report.ideal_burst_s); plus the warm-up's slot.
    A slot is a generous bound on the burst (3 x ideal + 1 s, at least 2 s) plus the
    mode's pause, in which the queue empties before the next burst."""
    b = bench.limits.get("bcrypt_per_s")
    if not b:
        raise BenchError("time-to-qr needs the bcrypt limit (run limits first)")
    ncpu = os.cpu_count() or 1
    ideal = [report.ideal_burst_s(n, b, ncpu) for n in bench.mode.ttq_levels]
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
