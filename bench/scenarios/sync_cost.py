"""sync-cost (--cluster only, the cluster started with CLUSTER_SYNC=1): what
`synchronous_commit = remote_apply` costs in registrations/s. On the cluster's primary with
its streaming standby, the queue's SQL path (bench/pgbench/queue_path.sql: enqueue, work with
the bcrypt hash, status read; one client per CPU) in sessions with synchronous_commit = local
and = remote_apply, taking turns round by round so the machine's drift hits both alike; at
bcrypt cost 10 (the product) and at cost 4 (the hash nearly gone: what the commits cost)."""

from __future__ import annotations

import os
import statistics
from typing import Any

import psycopg

from bench.harness import BenchError, log
from bench.harness.bench import Bench
from bench.harness.database import BENCH_SETTINGS, bq
from bench.harness.document import Document, fmt, ratio, table
from bench.harness.limits import seed_pgbench
from guestlist import migrate

VARIANTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("bcrypt cost 10", {}),
    ("bcrypt cost 4", {"allow_weak_hash_for_bench": "on", "bcrypt_cost": "4"}),
)
COMMITS = ("local", "remote_apply")


def run(bench: Bench) -> None:
    with bench.scenario("sync-cost") as meta:
        if bench.cluster is None:
            raise BenchError("sync-cost runs through the cluster: bench/run.sh --cluster sync-cost")
        ncpu = os.cpu_count() or 1
        results: dict[str, Any] = {}
        for label, settings in VARIANTS:
            dbname, url, _ = bench.fresh_db("limits_sync_cost_" + label.split()[-1])
            with psycopg.connect(url, autocommit=True) as c:
                standby = c.execute(bq("sync_standby")).fetchone()[0]  # type: ignore[index]
            if not standby:
                raise BenchError(
                    "the primary has no synchronous standby: CLUSTER_SYNC=1 bench/run.sh "
                    "--cluster sync-cost"
                )
            if settings:
                migrate.migrate(
                    url, log=lambda _line: None, settings={**BENCH_SETTINGS, **settings}
                )
            defines = seed_pgbench(url)
            rounds: dict[str, list[float]] = {c: [] for c in COMMITS}
            for rnd in range(1, bench.mode.http_rounds + 1):
                for commit in COMMITS:
                    tps = bench.pgbench(
                        url,
                        "queue_path",
                        ncpu,
                        defines,
                        options=f"-c synchronous_commit={commit}",
                        runs_count=1,
                    )
                    rounds[commit].append(tps)
                    log(f"sync-cost: {label}, round {rnd}, {commit}: {tps:.1f} registrations/s")
            ratios = [r / lo for lo, r in zip(rounds["local"], rounds["remote_apply"], strict=True)]
            results[label] = {
                "rounds": rounds,
                "median": {c: statistics.median(v) for c, v in rounds.items()},
                "ratio": statistics.median(ratios),
            }
            meta["standby"] = standby
            bench.done_with(dbname)
        meta["sync_cost"] = results
        meta["clients"] = ncpu
        meta["secs"] = bench.mode.pgbench_secs
        meta["limits"] = bench.limits


# ─── its section of the report ────────────────────────────────────────────


def section(doc: Document) -> None:
    meta = doc.meta.get("sync-cost")
    if not meta:
        return  # a cluster-only measurement: no section when it did not run
    doc.w("## Synchronous replication: what remote_apply costs a registration", "")
    doc.use_limits(meta)
    if doc.failed_to_run("sync-cost"):
        return
    doc.w(
        f"The queue's SQL path (`bench/pgbench/queue_path.sql`, {meta.get('clients')} clients, "
        f"{meta.get('secs')} s a run) on the cluster's primary, its standby "
        f"`{meta.get('standby')}` streaming on loopback; sessions with synchronous_commit "
        "= local and = remote_apply take turns, round by round. Loopback is the best case "
        "for the round trip each commit waits for: a network adds its own.",
        "",
    )
    rows = []
    for label, r in (meta.get("sync_cost") or {}).items():
        med = r.get("median") or {}
        rows.append(
            [
                label,
                fmt(med.get("local")),
                fmt(med.get("remote_apply")),
                ratio(r.get("ratio"), 1.0),
                " / ".join(
                    f"{lo:.1f} → {ra:.1f}"
                    for lo, ra in zip(
                        r["rounds"]["local"], r["rounds"]["remote_apply"], strict=False
                    )
                ),
            ]
        )
    doc.w(
        *table(
            [
                "",
                "local, registrations/s",
                "remote_apply, registrations/s",
                "remote_apply ÷ local (median of rounds)",
                "rounds (local → remote_apply)",
            ],
            rows,
        ),
        "",
    )
