"""The bench runner behind `bench/run.sh` (see bench/README.md).

    bench/run.sh [--quick | --smoke] [--out DIR] [--overload-peak N] [--keep-db] [scenario ...]

Scenarios, in this order (default: all): limits, verify-phone, saturation, time-to-qr,
doors-open, door, overload (`seed`, its former name, is still accepted), console, organizers.
`limits` always runs first: every other result is stated as a ratio to a limit measured in
the same run, on the same machine.

For each scenario the runner copies a freshly migrated template database (migrate.py, then
the demo from demo.py, then the existing accounts of bench/queries.sql), runs migrate.py on
the copy (pg_cron schedules its cleanup, and BENCH_SETTINGS turn every rate limit off), starts
the server(s) on free 127.0.0.1 ports, reads the demo ids from the running app's
/api/guest/page/miguel/festa-verao, runs k6, accounts for every job, stops everything and
drops the database. The server is DATABASE_URL's, else the project-local cluster
(scripts/local-db.sh); never anything but 127.0.0.1.

Writes into the output folder (default bench/results/<YYYY-MM-DD> for full runs,
<date>-quick, smoke for --smoke): summary-<run>.json (k6 --summary-export), meta-<run>.json
(what the runner measured and how), raw/ (per-request CSV from k6 --out csv, server and k6
logs, queue and probe timelines; git-ignored), then report.md and the PNG plots (report.py).
A full run also writes bench/results/latest.md.

Exit status: 0 when every scenario ran (whatever its figures: the bench reports, it does not
judge), 1 when one could not run (its error is in the report), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import signal
import sys
from pathlib import Path
from typing import Any

import psycopg

from bench import report
from bench.harness import BENCH, BenchError, limits, log, write_json
from bench.harness.bench import Bench
from bench.harness.cluster import ClusterFront, parse_event
from bench.harness.machine import cpu_model, git_revision, loadavg, mem_gb, tool_version
from bench.harness.modes import MODES
from bench.scenarios import (
    console,
    door,
    doors_open,
    failover_loss,
    organizers,
    overload,
    saturation,
    scaling,
    sync_cost,
    time_to_qr,
    verify_phone,
)
from guestlist import migrate

SCENARIOS = (
    "limits",
    "verify-phone",
    "saturation",
    "time-to-qr",
    "doors-open",
    "door",
    "overload",
    "console",
    "organizers",
)
# only through the cluster (--cluster), and only when named
# (failover-loss last: it leaves the cluster with one node)
CLUSTER_SCENARIOS = ("scaling", "sync-cost", "failover-loss")
# Former scenario names, still accepted so that existing commands keep working.
ALIASES = {"seed": "overload"}


def run(bench: Bench, scenarios: list[str]) -> bool:
    run_meta = {
        "mode": bench.mode.name,
        "scenarios": scenarios,
        "argv": sys.argv[1:],
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "git": git_revision(),
        "host": platform.node(),
        "ncpu": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_gb": mem_gb(),
        "loadavg_start": loadavg(),
        "k6": tool_version([bench.k6_bin, "version"]),
        "pgbench": tool_version(["pgbench", "-V"]),
        "node": tool_version(["node", "--version"]),
        "python": platform.python_version(),
        "pool_max": bench.pool_max,
    }
    bench.run_facts = {
        "run_started": run_meta["started"],
        "git": run_meta["git"],
        "argv": run_meta["argv"],
    }
    ok = True
    try:
        run_meta["postgres"] = bench.pg.facts()
        log(
            f"mode {bench.mode.name}, output {bench.out}, database server "
            f"{bench.pg.facts()['version'].split(' on ')[0]}"
        )
        bench.make_template()
        limits.run(bench)
        for s in scenarios:
            if s == "limits":
                continue
            {
                "verify-phone": verify_phone.run,
                "saturation": saturation.run,
                "time-to-qr": time_to_qr.run,
                "doors-open": doors_open.run,
                "door": door.run,
                "overload": overload.run,
                "console": console.run,
                "organizers": organizers.run,
                "scaling": scaling.run,
                "sync-cost": sync_cost.run,
                "failover-loss": failover_loss.run,
            }[s](bench)
        if any(s != "limits" for s in scenarios):
            try:
                limits.after(bench)
            except psycopg.Error as err:
                if bench.cluster is None:
                    raise
                # a failover event took the node the limits' databases were on
                log(f"limits after the scenarios: not measured ({err})")
    finally:
        bench.stop_servers()
        bench.pg.drop_all()
        run_meta["finished"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        run_meta["loadavg_end"] = loadavg()
        write_json(bench.out / "run.json", run_meta)
    for path in bench.out.glob("meta-*.json"):
        if json.loads(path.read_text()).get("ok") is False:
            ok = False
    return ok


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--quick",
        action="store_const",
        dest="mode",
        const="quick",
        help="about 2 minutes per scenario, same shapes",
    )
    g.add_argument(
        "--smoke",
        action="store_const",
        dest="mode",
        const="smoke",
        help="seconds per scenario, a few VUs: proves the scripts run",
    )
    p.set_defaults(mode="full")
    p.add_argument("--out", type=Path, help="output folder (default bench/results/<date>…)")
    p.add_argument(
        "--overload-peak",
        "--seed-peak",  # its former name
        type=int,
        help="peak VUs of the overload-carry run",
    )
    p.add_argument(
        "--pool-max",
        type=int,
        default=20,
        help="pool size of the app, the bare app and PostGraphile (default 20)",
    )
    p.add_argument("--keep-db", action="store_true", help="keep the bench databases")
    p.add_argument(
        "--cluster",
        action="store_true",
        help="through a local cluster of its own (scripts/cluster.py: HAProxy, 3 app instances, "
        "pgbouncer, 2 workers, primary + standby) instead of one app process",
    )
    p.add_argument(
        "--cluster-event",
        type=parse_event,
        metavar="KIND@SECONDS",
        help="with --cluster: restart | crash | pg-restart | failover, that many seconds into "
        "each queue scenario (doors-open, overload, saturation, time-to-qr)",
    )
    p.add_argument(
        "--people",
        type=int,
        metavar="N",
        help="people of doors-open (and of the doors-open beside the door scenario) instead "
        "of the mode's 500: the seed's mega event is 1000",
    )
    p.add_argument(
        "--no-carry",
        action="store_true",
        help="overload: the seed's own 500 users only, not also the run scaled to the peak "
        "this machine can carry (overload-carry)",
    )
    p.add_argument("--no-report", action="store_true", help="skip report.py at the end")
    p.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"any of {', '.join(SCENARIOS)} (default: all)",
    )
    args = p.parse_args(argv)
    if args.people is not None and args.people < 1:
        p.error("--people must be at least 1")
    args.scenarios = [ALIASES.get(s, s) for s in args.scenarios]
    known = SCENARIOS + CLUSTER_SCENARIOS
    unknown = [s for s in args.scenarios if s not in known]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(known)}")
    if not args.cluster and (args.cluster_event or set(args.scenarios) & set(CLUSTER_SCENARIOS)):
        p.error(
            "scaling, sync-cost, failover-loss and --cluster-event run through the cluster: "
            "add --cluster"
        )
    args.scenarios = [s for s in known if s in args.scenarios] or list(SCENARIOS)
    return args


def default_out(mode: str) -> Path:
    if mode == "smoke":
        return BENCH / "results" / "smoke"
    day = dt.date.today().isoformat()
    return BENCH / "results" / (day if mode == "full" else f"{day}-{mode}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mode = MODES[args.mode]
    if args.people:
        mode = dataclasses.replace(mode, doors_people=args.people)
    if args.no_carry:
        mode = dataclasses.replace(mode, overload_carry=False)
    out = (args.out or default_out(args.mode)).resolve()
    out.mkdir(parents=True, exist_ok=True)

    def on_signal(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    cluster = ClusterFront(out / "raw", args.pool_max) if args.cluster else None
    try:
        if cluster is not None:
            (out / "raw").mkdir(parents=True, exist_ok=True)
            cluster.start()
        bench = Bench(
            mode, out, args.keep_db, args.overload_peak, args.pool_max, cluster, args.cluster_event
        )
        ok = run(bench, args.scenarios)
    except (BenchError, migrate.MigrateError, psycopg.Error) as err:
        log(f"cannot run: {type(err).__name__}: {err}")
        return 1
    except KeyboardInterrupt as err:
        log(f"interrupted ({err or 'Ctrl-C'}): servers stopped, bench databases dropped")
        return 130
    finally:
        if cluster is not None:
            cluster.down()
    if not args.no_report:
        path = report.write_report(out)
        log(f"report: {path}")
        if mode.name == "full":
            latest = report.write_latest(out, BENCH / "results" / "latest.md")
            log(f"latest: {latest}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
