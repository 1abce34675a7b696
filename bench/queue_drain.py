"""The job queue against its limits, measured in one run on one database:

1. draining `--jobs` (500) register jobs at bcrypt cost 10 with N in-process workers
   (worker.WorkerPool, fixed at N) → jobs/s, each beside the bcrypt ceiling measured just
   before it: `pgbench -f bench/pgbench/crypt.sql` (one cost-10 hash per transaction) at 2
   clients → hashes/s (a register job does exactly one such hash).
2. the queue's own cost, with bcrypt cost 4 (guestlist.allow_weak_hash_for_bench): enqueue
   `--fast-jobs` (5000) jobs from 4 connections → enqueues/s; drain them with N workers
   (`--fast-workers`), one job per transaction (batch 0 ms) and in the workers' batches
   (`--batch-ms`, the default WORKER_BATCH_MS) → jobs/s, for register jobs and for no-op jobs
   (a login onto an unknown event: refused after one lookup, so only the queue's machinery
   works); and, without Python, pgbench of each
   direct call vs the same job through the queue (enqueue + work_guest_job), with durable and
   with asynchronous commits → the queue's SQL cost per job.
3. the enqueue's depth check with 5000 pending jobs: the 16 counter rows it reads vs a count
   over the partial index → µs per call.

    .venv/bin/python -m bench.queue_drain [--jobs 500] [--fast-jobs 5000]
                                          [--workers 1,2,4,8] [--seconds 5]
                                          [--fast-workers 1,2,4] [--batch-ms 0,10]
                                          [--skip-cost10]

Uses DATABASE_URL's server, else the project-local cluster (scripts/local-db.sh); makes the
database guestlist_bench_queue and drops it at the end. Prints a markdown report; the bench
reports, it does not judge.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, LiteralString, cast

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

from guestlist import migrate
from guestlist.queries import load_queries, q
from guestlist.queue import workers as worker
from guestlist.queue.listener import JobWaiter

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

DBNAME = "guestlist_bench_queue"
BQ = {**load_queries(BENCH / "queries.sql"), **load_queries(BENCH / "queue_queries.sql")}


def bq(name: str) -> LiteralString:
    return cast(LiteralString, BQ[name])


def bq_ident(name: str, **identifiers: str) -> sql.Composed:
    return sql.SQL(bq(name)).format(**{k: sql.Identifier(v) for k, v in identifiers.items()})


# --- the database ----------------------------------------------------------------------------


def server_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    local = ROOT / "scripts" / "local-db.sh"
    subprocess.run([str(local), "start"], check=True, stdout=subprocess.DEVNULL)
    return subprocess.run(
        [str(local), "url"], check=True, capture_output=True, text=True
    ).stdout.strip()


def fresh_database(base_url: str) -> str:
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(bq_ident("drop_database", dbname=DBNAME))
        admin.execute(bq_ident("create_database", dbname=DBNAME))
    url = make_conninfo(base_url, dbname=DBNAME)
    migrate.migrate(url, cron=False, log=lambda *_: None)
    return url


def drop_database(base_url: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(bq_ident("drop_database", dbname=DBNAME))


def superuser(url: str, name: str, **params: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(bq(name), params or None)
        row = cur.fetchone() if cur.description else None
    return row[0] if row else None


def reset(url: str) -> None:
    superuser(url, "bench_queue_reset")
    superuser(url, "bench_queue_vacuum")


# --- measurements ------------------------------------------------------------------------------


def pgbench(
    url: str, script: str, clients: int, seconds: int, options: str = "", **defines: str
) -> dict[str, float]:
    """tps and average latency (ms) of a pgbench run of bench/pgbench/<script>.sql; `options`
    go to the server as PGOPTIONS (e.g. `-c synchronous_commit=off`)."""
    command = ["pgbench", "-n", "-M", "prepared", "-T", str(seconds), "-c", str(clients)]
    command += ["-j", str(clients), "-f", str(BENCH / "pgbench" / f"{script}.sql")]
    for key, value in defines.items():
        command += ["-D", f"{key}={value}"]
    env = {**os.environ, "PGOPTIONS": options}
    out = subprocess.run(
        [*command, url], check=True, capture_output=True, text=True, cwd=ROOT, env=env
    ).stdout
    tps = re.search(r"^tps = ([\d.]+)", out, re.MULTILINE)
    latency = re.search(r"^latency average = ([\d.]+) ms", out, re.MULTILINE)
    assert tps and latency, out
    return {"tps": float(tps.group(1)), "latency_ms": float(latency.group(1))}


NOOP_EVENT = "6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11"  # no such event: an instant refusal


def payload(kind: str, event_id: str, n: int) -> dict[str, Any]:
    """A register job for a new phone, or a no-op job (a login onto an unknown event)."""
    if kind == "noop":
        return {"phone": f"+3519{n:08d}", "password": "Segredo123", "event_id": NOOP_EVENT}
    return {
        "phone": f"+3519{n:08d}",
        "first_name": "Bench",
        "last_name": f"Queue{n}",
        "email": f"q{n}@bench.test",
        "password": "Segredo123",
        "event_id": event_id,
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (the server's backends)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            cpu = psutil.Process(pid).cpu_times()
            total += cpu.user + cpu.system
    return total


def crypt_cpu_ms(url: str, cost: int, hashes: int) -> float:
    """CPU time (ms) of one bcrypt hash at `cost` in a backend: the register job's floor."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(bq("bench_queue_backend_pid")).fetchone()
        assert row is not None
        before = cpu_seconds([int(row[0])])
        for _ in range(hashes):
            conn.execute(bq("bench_queue_crypt"), {"cost": cost})
        return (cpu_seconds([int(row[0])]) - before) * 1000 / hashes


def backend_pids(url: str, application_name: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(bq("bench_queue_backends"), {"app": application_name}).fetchall()
    return [int(r[0]) for r in rows]


def enqueue_many(
    url: str, event_id: str, first: int, count: int, connections: int, kind: str = "register"
) -> dict[str, float]:
    """Enqueue `count` jobs from `connections` web-role connections: enqueues/s, and the CPU
    per job of their backends (ms)."""
    conns = [psycopg.connect(url, autocommit=True) for _ in range(connections)]
    pids = []
    for conn in conns:
        conn.execute(q("web_set_role"))
        row = conn.execute(bq("bench_queue_backend_pid")).fetchone()
        assert row is not None
        pids.append(int(row[0]))
    cpu_before = cpu_seconds(pids)
    barrier = threading.Barrier(connections + 1)
    sql_kind = "login" if kind == "noop" else "register"

    def run(i: int) -> None:
        barrier.wait()
        for n in range(first + i, first + count, connections):
            conns[i].execute(
                q("queue_enqueue"),
                {"kind": sql_kind, "payload": Jsonb(payload(kind, event_id, n)),
                 "client_key": None, "session_token": None},
            )  # fmt: skip

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    server_cpu = cpu_seconds(pids) - cpu_before
    for conn in conns:
        conn.close()
    return {"per_s": count / elapsed, "server_cpu_ms": server_cpu * 1000 / count}


async def drain(
    url: str, workers_n: int, expected: int, kind: str, batch_ms: int
) -> dict[str, float]:
    """Start N workers, wait until `expected` jobs finished; jobs/s from the database's clock
    (first claim → last finish) and from ours (workers started → all finished)."""
    pool = worker.make_worker_pool(url, workers_n + 1)
    await pool.open(wait=True)
    waiter = JobWaiter(url)
    await waiter.start()
    settings = worker.WorkerSettings(
        workers_min=workers_n, workers_max=workers_n, idle_seconds=0.05, batch_ms=batch_ms
    )
    started = time.perf_counter()
    client_cpu = time.process_time()
    workers = worker.start(pool, settings, waiter, reserve=1)
    try:
        while workers.done < expected:  # counted in this process: no polling query
            await asyncio.sleep(0.01)
        wall = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu
        # the workers' backends were opened for this drain: their CPU time is the drain's
        server_cpu = cpu_seconds(await asyncio.to_thread(backend_pids, url, "guestlist-worker"))
    finally:
        await worker.stop(workers)
        await waiter.stop()
        await pool.close()
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        stats = conn.execute(bq("bench_queue_drain_stats")).fetchone()
    assert stats is not None
    assert stats["finished"] == expected, stats
    if kind == "register":
        assert stats["completed"] == expected, stats  # every one a guest on the list
    return {
        "jobs_per_s": expected / stats["seconds"],
        "wall_jobs_per_s": expected / wall,
        "work_cpu_ms": server_cpu * 1000 / expected,
        "client_cpu_ms": client_cpu * 1000 / expected,
    }


def run_drain(
    url: str,
    event_id: str,
    workers_n: int,
    jobs: int,
    first: int,
    kind: str = "register",
    batch_ms: int = worker.WorkerSettings.batch_ms,
) -> dict[str, float]:
    reset(url)
    enqueued = enqueue_many(url, event_id, first, jobs, 4, kind)
    try:
        import uvloop  # the app's loop (uvicorn --loop uvloop)

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        result = runner.run(drain(url, workers_n, jobs, kind, batch_ms))
    return {
        **result,
        "enqueue_per_s": enqueued["per_s"],
        "enqueue_cpu_ms": enqueued["server_cpu_ms"],
    }


# --- the report ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--fast-jobs", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--seconds", type=int, default=5, help="per pgbench run")
    parser.add_argument("--fast-workers", default="1,2,4", help="workers for the cost-4 drains")
    parser.add_argument(
        "--batch-ms", default=f"0,{worker.WorkerSettings.batch_ms}", help="WORKER_BATCH_MS values"
    )
    parser.add_argument("--skip-cost10", action="store_true", help="only the queue's own cost")
    args = parser.parse_args()
    counts = [] if args.skip_cost10 else [int(n) for n in args.workers.split(",")]
    fast_counts = [int(n) for n in args.fast_workers.split(",")]
    batches = [int(n) for n in args.batch_ms.split(",")]

    base = server_url()
    url = fresh_database(base)
    lines: list[str] = []
    out: Callable[[str], None] = lines.append
    try:
        event_id = superuser(url, "bench_queue_demo")
        with psycopg.connect(url) as conn:
            facts = conn.execute(bq("server_facts")).fetchone()
        assert facts is not None
        out(f"# Queue drain — {time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, "
            f"{os.cpu_count()} CPUs")  # fmt: skip
        out(f"\n{facts[0].split(',')[0]}; fsync={facts[4]}, synchronous_commit={facts[3]}; "
            f"load average at start {os.getloadavg()[0]:.2f}\n")  # fmt: skip

        cpus = os.cpu_count() or 1
        out("## bcrypt cost 10: register jobs against the hash ceiling\n")
        out("Raw `crypt()` cost 10 (pgbench, 2 clients) measured right before each drain, so a "
            "busy host moves both figures together. The CPU columns (user + system, psutil: "
            "they hardly move when other processes share the CPUs) compare a job's whole cost "
            "— enqueue, work and the Python worker — with one hash's.\n")  # fmt: skip
        out("| workers | jobs | crypt() hashes/s | drain jobs/s (db clock) | wall jobs/s "
            "| ratio to crypt | CPU per job | CPU per hash | job/hash |")  # fmt: skip
        out("|---|---|---|---|---|---|---|---|---|")
        first = 0
        for n in counts:
            crypt = pgbench(url, "crypt", 2, args.seconds)
            hash_ms = crypt_cpu_ms(url, 10, 20)
            r = run_drain(url, event_id, n, args.jobs, first)
            first += args.jobs
            job_ms = r["enqueue_cpu_ms"] + r["work_cpu_ms"] + r["client_cpu_ms"]
            out(f"| {n} | {args.jobs} | {crypt['tps']:.1f} | {r['jobs_per_s']:.1f} | "
                f"{r['wall_jobs_per_s']:.1f} | {r['jobs_per_s'] / crypt['tps']:.2f} | "
                f"{job_ms:.1f} ms | {hash_ms:.1f} ms | {job_ms / hash_ms:.3f} |")  # fmt: skip
            print(lines[-1], flush=True)
        if counts:
            out(f"\nOn {cpus} CPUs that is a ceiling of {cpus * 1000 / hash_ms:.0f} hashes/s "
                f"and {cpus * 1000 / job_ms:.0f} register jobs/s (last row).")  # fmt: skip

        with psycopg.connect(url, autocommit=True) as admin:  # the bench database's settings
            admin.execute(bq("bench_queue_weak_hash"))
            admin.execute(bq("bench_queue_bcrypt_cost"))
        crypt4 = pgbench(url, "crypt4", 2, args.seconds)
        out("\n## bcrypt cost 4: the queue's own cost\n")
        out(f"raw `crypt()` cost 4, pgbench 2 clients: **{crypt4['tps']:.0f} hashes/s**\n")
        out("Drained by N in-process workers; a no-op job is a login onto an unknown event "
            "(refused after one lookup: the queue's machinery and nothing else). Batch: "
            "WORKER_BATCH_MS, 0 = one job per transaction; otherwise a worker's transaction "
            f"claims jobs until {worker.WorkerSettings.batch_max} are done or that many ms "
            "have passed (api.work_guest_jobs).\n")  # fmt: skip
        out("CPU per job (user + system, psutil: unlike wall time it barely moves when "
            "other processes share the CPUs): the enqueuing backends, the workers' backends, "
            "the worker process (Python). Capacity = CPUs / total CPU per job.\n")  # fmt: skip
        out("| workers | batch | jobs | kind | enqueue/s (4 conns) | drain jobs/s (db clock) "
            "| wall jobs/s | CPU/job: enqueue + work + Python | capacity on "
            f"{os.cpu_count()} CPUs |")  # fmt: skip
        out("|---|---|---|---|---|---|---|---|---|")
        for kind in ("register", "noop"):
            for n in fast_counts:
                for batch_ms in batches:
                    r = run_drain(url, event_id, n, args.fast_jobs, first, kind, batch_ms)
                    first += args.fast_jobs
                    total = r["enqueue_cpu_ms"] + r["work_cpu_ms"] + r["client_cpu_ms"]
                    out(f"| {n} | {batch_ms} ms | {args.fast_jobs} | {kind} | "
                        f"{r['enqueue_per_s']:.0f} | "
                        f"{r['jobs_per_s']:.0f} | {r['wall_jobs_per_s']:.0f} | "
                        f"{r['enqueue_cpu_ms']:.2f} + {r['work_cpu_ms']:.2f} + "
                        f"{r['client_cpu_ms']:.2f} = {total:.2f} ms | "
                        f"{(os.cpu_count() or 1) * 1000 / total:.0f} jobs/s |")  # fmt: skip
                    print(lines[-1], flush=True)

        out("\nSQL only (pgbench, no Python): the direct call vs the same job through the queue "
            "(enqueue, then work_guest_job: two calls, two commits).\n")  # fmt: skip
        out("| job | commit | clients | direct calls/s | queued jobs/s | direct latency | "
            "queued latency | queue's own cost |")  # fmt: skip
        out("|---|---|---|---|---|---|---|---|")
        for label, direct_script, queued_script in (
            ("register (cost 4)", "register", "queue_enqueue_work"),
            ("no-op", "queue_noop_direct", "queue_noop_enqueue_work"),
        ):
            # synchronous_commit=off separates the CPU from the wait for the WAL flush
            for commit, options in (("sync", ""), ("async", "-c synchronous_commit=off")):
                for clients in (1, 2):
                    reset(url)
                    direct = pgbench(
                        url, direct_script, clients, args.seconds, options, event_id=event_id
                    )
                    reset(url)
                    queued = pgbench(
                        url, queued_script, clients, args.seconds, options, event_id=event_id
                    )
                    extra = queued["latency_ms"] - direct["latency_ms"]
                    out(f"| {label} | {commit} | {clients} | {direct['tps']:.0f} | "
                        f"{queued['tps']:.0f} | {direct['latency_ms']:.2f} ms | "
                        f"{queued['latency_ms']:.2f} ms | {extra:.2f} ms |")  # fmt: skip

        reset(url)
        enqueue_many(url, event_id, first, 5000, 4)
        counter = pgbench(url, "queue_depth_counter", 1, args.seconds)
        count = pgbench(url, "queue_depth_count", 1, args.seconds)
        out("\n## The enqueue's depth check, 5000 pending jobs (pgbench, 1 client)\n")
        out("| check | latency |")
        out("|---|---|")
        out(f"| 16 counter rows (`app._pending_jobs()`) | {counter['latency_ms'] * 1000:.0f} µs |")
        out(f"| count(*) over the partial index | {count['latency_ms'] * 1000:.0f} µs |")
        out(f"\nload average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    finally:
        drop_database(base)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
