"""saturation: registrations through the queue at a rising arrival rate, step by step, up to the
highest rate the system sustains."""

from __future__ import annotations

from bench import report
from bench.harness import BenchError, write_json
from bench.harness.bench import Bench
from bench.harness.k6 import SATURATION_GO_ENV

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
        sat = report.saturation_steps(bench.out, meta)
        meta["steps"] = sat["steps"]
        meta["sustained"] = sat["sustained"]
        if sat["sustained"]:
            bench.sustained_rate = sat["sustained"]["completions_per_s"]
        write_json(bench.out / "meta-saturation.json", meta)
