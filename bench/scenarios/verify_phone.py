"""verify-phone: our phone check against the bare route and PostGraphile 4, on one database."""

from __future__ import annotations

from bench import report
from bench.harness import BenchError, log
from bench.harness.bench import Bench
from bench.harness.servers import Server


def run(bench: Bench) -> None:
    """Our route, the bare route and PostGraphile, all three up at once on the same
    database, taking turns: round 1 (each target at each VU level), round 2, … The median
    of the rounds resists a machine whose other load drifts during the run."""
    with bench.scenario("verify-phone") as meta:
        dbname, url, _ = bench.fresh_db("verify_phone")
        meta["targets"] = {}
        meta["rounds"] = bench.mode.http_rounds
        meta["phones_each_kind"] = min(2000, bench.mode.users)
        servers: dict[str, Server] = {}
        for target in ("ours", "bare", "postgraphile"):
            try:
                if target == "ours":
                    servers[target] = bench.start_app(url, f"verify-{target}")
                elif target == "bare":
                    servers[target] = bench.start_bare(url, f"verify-{target}")
                else:
                    servers[target] = bench.start_postgraphile(dbname, f"verify-{target}")
                meta["targets"][target] = {"rps": {v: [] for v in bench.mode.http_levels}}
            except BenchError as err:
                meta["targets"][target] = {"error": str(err)}
                log(f"verify-phone: {target} not run: {err}")
        runs = []
        env = {"PHONES": str(meta["phones_each_kind"])}
        for rnd in range(1, bench.mode.http_rounds + 1):
            for vus in bench.mode.http_levels:
                for target, srv in servers.items():
                    r = bench.http_run(
                        f"verify-phone-{target}-{vus}-r{rnd}",
                        "verify-phone.js",
                        srv,
                        vus,
                        {**env, "TARGET": target},
                    )
                    runs.append(r)
                    rps = report.measured_rps(bench.out / r.summary, bench.mode.http_secs)
                    meta["targets"][target]["rps"][vus].append(rps)
                    log(f"verify-phone: round {rnd}, {target} {rps:.0f} req/s at {vus} VUs")
        for target, srv in servers.items():
            meta["targets"][target]["server_cpu_s"] = srv.cpu_used()
        bench.stop_servers()
        bench.record_runs(meta, runs)
        meta["limits"] = bench.limits
        bench.done_with(dbname)
        missing = [t for t, v in meta["targets"].items() if "error" in v]
        if missing:
            raise BenchError(
                "verify-phone: not run against "
                + ", ".join(f"{t} ({meta['targets'][t]['error']})" for t in missing)
            )
