"""scaling (--cluster only): verify-phone-v2 req/s through HAProxy with 1, 2, 3 … app
instances in rotation (the others in maintenance), closed loop at the mode's VU levels, the
rounds interleaved like verify-phone's. Its figures are in meta-scaling.json and the log; the
single-process figure beside them is verify-phone's `ours` (run it in the same run)."""

from __future__ import annotations

import statistics

from bench.harness import BenchError, log
from bench.harness.bench import Bench
from bench.harness.results import measured_rps


def run(bench: Bench) -> None:
    with bench.scenario("scaling") as meta:
        cluster = bench.cluster
        if cluster is None:
            raise BenchError("scaling runs through the cluster: bench/run.sh --cluster scaling")
        dbname, _, _ = bench.fresh_db("scaling")
        counts = list(range(1, len(cluster.state["instances"]) + 1))
        rps: dict[int, dict[int, list[float]]] = {
            n: {v: [] for v in bench.mode.http_levels} for n in counts
        }
        runs = []
        env = {"PHONES": str(min(2000, bench.mode.users)), "TARGET": "ours"}
        try:
            for rnd in range(1, bench.mode.http_rounds + 1):
                for n in counts:
                    cluster.in_rotation(n)
                    for vus in bench.mode.http_levels:
                        r = bench.http_run(
                            f"scaling-{n}-{vus}-r{rnd}", "verify-phone.js", cluster, vus, env
                        )  # type: ignore[arg-type]
                        runs.append(r)
                        value = measured_rps(bench.out / r.summary, bench.mode.http_secs)
                        rps[n][vus].append(value)
                        log(f"scaling: round {rnd}, {n} instance(s), {vus} VUs: {value:.0f} req/s")
        finally:
            cluster.in_rotation(len(counts))
        meta["rps"] = {
            str(n): {str(v): statistics.median(x) for v, x in by.items() if x}
            for n, by in rps.items()
        }
        meta["rps_rounds"] = {str(n): {str(v): x for v, x in by.items()} for n, by in rps.items()}
        meta["limits"] = bench.limits
        bench.record_runs(meta, runs)
        bench.done_with(dbname)
