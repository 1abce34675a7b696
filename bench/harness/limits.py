"""The limits every result is stated against, measured in the same run on the same machine:
bcrypt hashes/s, indexed lookups/s and the queue's SQL path (pgbench), the HTTP ceiling (k6
against the bare route), one request at saturation's pace; the bcrypt limit again after the
scenarios."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from typing import Any

import psycopg

from bench.harness import BENCH, BenchError, log, write_json
from bench.harness.bench import Bench
from bench.harness.document import Document, fmt, ratio, table
from bench.harness.k6 import SATURATION_GO_ENV, RunResult
from bench.harness.machine import proc_cpu_seconds
from bench.harness.results import (
    load,
    measured_rps,
    metric,
)
from bench.harness.servers import Server


def seed_pgbench(url: str) -> dict[str, str]:
    """bench/pgbench/seed.sql's 10,000 accounts and its event: the pgbench scripts' defines."""
    seeded = subprocess.run(
        [
            "psql",
            "-XAtq",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            "users=10000",
            "-f",
            str(BENCH / "pgbench" / "seed.sql"),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if seeded.returncode != 0:
        raise BenchError(f"bench/pgbench/seed.sql failed: {seeded.stderr[-500:]}")
    return {"users": "10000", "event_id": seeded.stdout.strip().splitlines()[-1]}


def run(bench: Bench) -> None:
    with bench.scenario("limits") as meta:
        dbname, url, _ = bench.fresh_db("limits")
        defines = seed_pgbench(url)
        ncpu = os.cpu_count() or 1
        bcrypt = bench.pgbench(url, "crypt", ncpu, defines)
        lookups = {c: bench.pgbench(url, "lookup", c, defines) for c in (ncpu, 4 * ncpu)}
        queue_path = bench.pgbench(url, "queue_path", ncpu, defines)
        meta["pgbench"] = {
            "secs": bench.mode.pgbench_secs,
            "runs": bench.mode.pgbench_runs,
            "crypt_clients": ncpu,
            "bcrypt_per_s": bcrypt,
            "lookup_per_s": lookups,
            "queue_path_per_s": queue_path,
        }
        bench.limits.update(
            bcrypt_per_s=bcrypt,
            lookup_per_s=max(lookups.values()),
            queue_path_per_s=queue_path,
        )
        log(
            f"limits: bcrypt-10 {bcrypt:.1f} hashes/s ({ncpu} clients), indexed lookups "
            + ", ".join(f"{v:.0f}/s ({c} clients)" for c, v in lookups.items())
            + f", the queue's SQL path {queue_path:.1f} registrations/s ({ncpu} clients)"
        )
        bare = bench.start_bare(url, "ceiling")
        runs = []
        per_round: dict[int, list[float]] = {v: [] for v in bench.mode.http_levels}
        for rnd in range(1, bench.mode.http_rounds + 1):
            for vus in bench.mode.http_levels:
                r = bench.http_run(f"ceiling-{vus}-r{rnd}", "ceiling.js", bare, vus, {})
                runs.append(r)
                per_round[vus].append(measured_rps(bench.out / r.summary, bench.mode.http_secs))
        ceiling = {vus: statistics.median(v) for vus, v in per_round.items()}
        for vus, v in per_round.items():
            log(
                f"limits: HTTP ceiling {ceiling[vus]:.0f} req/s at {vus} VUs "
                f"(rounds: {', '.join(f'{x:.0f}' for x in v)})"
            )
        meta["ceiling_rounds"] = per_round
        meta["bare_cpu_s"] = bare.cpu_used()
        meta["ceiling_rps"] = ceiling
        bench.limits["ceiling_rps"] = ceiling
        meta["paced"] = bench.limits["paced"] = paced_request(bench, bare, bcrypt)
        bench.record_runs(meta, runs)
        meta["limits"] = bench.limits
        bench.done_with(dbname)


def paced_request(bench: Bench, bare: Server, bcrypt: float) -> dict[str, float] | None:
    """CPU ms a request costs the bare route's server and k6 when requests come one at a
    time, at saturation's pace (0.9 x the bcrypt limit a second): a floor under the cost
    of a saturation journey's one HTTP request (bench/k6/paced.js)."""
    rate = max(1.0, round(0.9 * bcrypt, 1))

    def paced_run(name: str, rate: float, secs: int) -> tuple[RunResult, float | None]:
        before = proc_cpu_seconds(bare.proc.pid)
        env = {"BASE_URL": bare.base, "RATE": str(rate), "DURATION": str(secs)}
        run = bench.k6(name, "paced.js", env, secs, raw=False, go_env=SATURATION_GO_ENV)
        after = proc_cpu_seconds(bare.proc.pid)
        return run, None if before is None or after is None else after - before

    # k6's own start and stop (~0.1 CPU-s), measured with one request, is not the requests'
    idle, _ = paced_run("paced-idle", 0.1, 1)
    run, server_cpu = paced_run("paced", rate, bench.mode.http_secs)
    summary = load(bench.out / run.summary)
    requests = metric(summary, "http_reqs", "count") or 0
    if not requests or server_cpu is None:  # a secondary figure: the limits still stand
        log("limits: the paced run made no request, or the bare server is gone")
        return None
    paced = {
        "rate": rate,
        "requests": requests,
        "server_ms": round(1000 * server_cpu / requests, 3),
        "k6_ms": round(1000 * max(0.0, run.k6_cpu_s - idle.k6_cpu_s) / requests, 3),
        "k6_start_stop_s": idle.k6_cpu_s,
    }
    log(
        f"limits: one request at {rate}/s to the bare route: {paced['server_ms']} ms of "
        f"server CPU, {paced['k6_ms']} ms of k6"
    )
    return paced


def after(bench: Bench) -> None:
    """The bcrypt limit again, after the scenarios: a machine whose other load changed
    during the run shows it here (the report prints the drift)."""
    path = bench.out / "meta-limits.json"
    meta = json.loads(path.read_text()) if path.exists() else None
    if not meta or not meta.get("ok"):
        return
    try:
        dbname, url, _ = bench.fresh_db("limits_after")
        ncpu = os.cpu_count() or 1
        after = bench.pgbench(url, "crypt", ncpu, {})
        bench.done_with(dbname)
    except (BenchError, psycopg.Error, subprocess.SubprocessError) as err:
        meta["bcrypt_after_error"] = str(err)
    else:
        meta["bcrypt_after_per_s"] = after
        log(f"limits: bcrypt-10 after the scenarios {after:.1f} hashes/s")
    write_json(path, meta)


# ─── its section of the report ────────────────────────────────────────────


def journey_floor(
    ncpu: int, bcrypt: float | None, queue_path: float | None, paced: dict[str, Any] | None
) -> dict[str, float] | None:
    """The least CPU, in ms, a saturation journey can cost, from three limits of the same run:
    the hash (CPUs ÷ the bcrypt limit), the queue's SQL beside it (CPUs ÷ the queue-path limit,
    less the hash) and one request at saturation's pace to the bare route (its server's and
    k6's CPU). `ratio`: the most the CPUs could complete at that cost ÷ the bcrypt limit."""
    if not (bcrypt and queue_path and paced):
        return None
    hash_ms = 1000 * ncpu / bcrypt
    sql_ms = 1000 * ncpu / queue_path - hash_ms
    http_ms = paced["server_ms"] + paced["k6_ms"]
    floor_ms = hash_ms + sql_ms + http_ms
    return {
        "hash_ms": hash_ms,
        "sql_ms": sql_ms,
        "http_ms": http_ms,
        "floor_ms": floor_ms,
        "ratio": hash_ms / floor_ms,
    }


def section(doc: Document) -> None:
    doc.w("## Limits (same run, before the scenarios)", "")
    meta = doc.meta.get("limits")
    if not meta:
        doc.w("Not run.", "")
        return
    if doc.failed_to_run("limits"):
        return
    pgb = meta.get("pgbench") or {}
    rows = [
        [
            f"bcrypt cost 10 hashes/s (`bench/pgbench/crypt.sql`, {pgb.get('crypt_clients')}"
            " clients)",
            pgb.get("bcrypt_per_s"),
        ]
    ]
    for c, v in (pgb.get("lookup_per_s") or {}).items():
        rows.append([f"indexed lookups/s (`bench/pgbench/lookup.sql`, {c} clients)", v])
    queue_path = pgb.get("queue_path_per_s")
    if queue_path:  # older runs did not measure it
        rows.append(
            [
                "the queue's SQL path, registrations/s: enqueue, work, status read "
                f"(`bench/pgbench/queue_path.sql`, {pgb.get('crypt_clients')} clients; "
                f"{ratio(queue_path, pgb.get('bcrypt_per_s'))} x bcrypt)",
                queue_path,
            ]
        )
    rounds = meta.get("ceiling_rounds") or {}
    for vus, v in (meta.get("ceiling_rps") or {}).items():
        each = rounds.get(str(vus)) or rounds.get(vus) or []
        detail = f"; median of {' / '.join(f'{x:,.0f}' for x in each)}" if len(each) > 1 else ""
        rows.append([f"HTTP ceiling req/s (bare Starlette `GET /const`, {vus} VUs{detail})", v])
    paced = meta.get("paced")
    if paced:  # older runs did not measure it
        rows.append(
            [
                f"one request at a time to the bare route's phone check, {fmt(paced['rate'])}"
                "/s (`bench/k6/paced.js`, saturation's pace): CPU ms of its server + of k6",
                f"{fmt(paced['server_ms'], 2)} + {fmt(paced['k6_ms'], 2)}",
            ]
        )
    after = meta.get("bcrypt_after_per_s")
    if after:
        rows.append(
            [
                "bcrypt cost 10 hashes/s again, after the scenarios (drift "
                f"{100 * (after / pgb['bcrypt_per_s'] - 1):+.0f}%: machine noise)",
                after,
            ]
        )
    doc.w(*table(["limit", "value"], rows), "")
    doc.w(
        f"pgbench: {pgb.get('secs')} s per run, median of {pgb.get('runs')}. "
        "A registration or a login costs one bcrypt hash, so the bcrypt rate is the "
        "ceiling of guests added per second on this machine; the queue's SQL path adds "
        "the SQL a queued registration runs beside its hash, so it bounds saturation before "
        "any HTTP request is served; the lookup rate bounds the phone check; the HTTP "
        "ceiling bounds any route.",
        "",
    )
    ncpu = int(meta.get("ncpu") or os.cpu_count() or 1)
    floor = journey_floor(ncpu, pgb.get("bcrypt_per_s"), queue_path, paced)
    if floor:
        doc.w(
            "A saturation journey (one registration through the queue, one HTTP request "
            f"held to its end) costs at least {fmt(floor['floor_ms'])} ms of CPU: the hash "
            f"{fmt(floor['hash_ms'])}, the queue's SQL beside it {fmt(floor['sql_ms'])} "
            f"({ncpu} ÷ the queue's SQL path, less the hash) and one request at saturation's "
            f"pace to the bare route {fmt(floor['http_ms'], 2)} (its server's and k6's CPU, "
            f"k6's own start and stop taken out). So {ncpu} CPUs complete at most "
            f"{floor['ratio']:.2f} x the bcrypt limit before the app "
            "does any work of its own (validation, the worker's round trip, the "
            "notification, the status read's call) and before the machine's own services "
            "(throughputs of this run: the machine's noise moves them by a few %).",
            "",
        )
