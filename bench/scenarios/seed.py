"""seed: the replaced system's own load test, at its full 500 users, and scaled to the peak this
machine can carry."""

from __future__ import annotations

from bench.harness import BenchError
from bench.harness.bench import Bench

# The seed's stages (seconds) up to the end of its 500-user hold: the "peak" ends there.
SEED_PEAK_END_S = 60 + 120 + 300 + 300
SEED_TOTAL_S = SEED_PEAK_END_S + 120 + 60
# A seed iteration whose job finishes fast: submit, one or two polls 500 ms apart, sleep 1 s.
SEED_ITERATION_S = 1.6


def seed_carry_peak(bench: Bench) -> tuple[int, str]:
    if bench.seed_peak_override:
        return bench.seed_peak_override, "--seed-peak"
    if bench.sustained_rate:
        rate, source = bench.sustained_rate, "saturation's highest sustained rate"
    elif bench.limits.get("bcrypt_per_s"):
        rate, source = bench.limits["bcrypt_per_s"], "the bcrypt limit"
    else:
        raise BenchError("seed-carry needs the bcrypt limit or the saturation result")
    peak = max(5, int(0.8 * rate * SEED_ITERATION_S))
    return peak, (f"0.8 x {source} ({rate:.1f}/s) x {SEED_ITERATION_S} s per seed iteration")


def run(bench: Bench) -> None:
    runs = [("seed", bench.mode.seed_peak, "the seed's own peak")]
    if bench.mode.seed_carry:
        try:
            peak, why = seed_carry_peak(bench)
            runs.append(("seed-carry", peak, why))
        except BenchError as err:
            with bench.scenario("seed-carry") as meta:
                raise err
    for name, peak, why in runs:
        with bench.scenario(name) as meta:
            scale = bench.mode.seed_time_scale
            meta.update(
                peak=peak,
                peak_source=why,
                time_scale=scale,
                peak_end_s=round(SEED_PEAK_END_S * scale, 1),
                total_s=round(SEED_TOTAL_S * scale, 1),
            )
            env = {"TIME_SCALE": str(scale), "PEAK": str(peak)}
            bench.queue_run(name, "seed.js", env, SEED_TOTAL_S * scale + 30, meta, probe=True)
