"""Figures across processes: every REPORT_SECONDS each `guestlist serve` process writes its
request figures (the last minute's counts and latency histogram, its totals, its distinct
clients and worker target), and each `guestlist worker` process its worker target, to the
database under its instance id (INSTANCE_ID, else host:pid), through api.report_instance;
/api/admin/metrics and the dashboard read the sum of the reports still fresh
(api.instance_figures, instance_report_ttl_seconds: 15 s) beside this process's own. On stop
the process withdraws its report. /metrics stays per process (Prometheus sums the scrapes) and
names the instance in guestlist_instance_info.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Gauge
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from guestlist import db
from guestlist.config import Settings
from guestlist.monitor.figures import CLIENTS, REGISTRY, RING, TOTALS, worker_concurrency
from guestlist.monitor.windows import BUCKET_SECONDS, WINDOW_SECONDS, LatencyHistogram, bucket_start
from guestlist.tasks import running_task
from guestlist.web.errors import from_exception

log = logging.getLogger("guestlist.metrics")

REPORT_SECONDS = 5.0
# 1, labelled with this process's instance id: joins Prometheus' target to the id the
# dashboard's instanceIds and the logs use
INSTANCE_INFO = Gauge(
    "guestlist_instance_info",
    "This app process's instance id (INSTANCE_ID, else host:pid)",
    ["instance_id"],
    registry=REGISTRY,
)
_PER_WINDOW = WINDOW_SECONDS // BUCKET_SECONDS


def own_figures(now: float, worker_process: bool = False) -> dict[str, Any]:
    """This process's figures as api.report_instance keeps them (`worker_process`: a
    `guestlist worker` process, counted apart from the app instances)."""
    current = bucket_start(now)
    latency = LatencyHistogram()
    requests = errors = 0
    for b in RING.buckets(current - (_PER_WINDOW - 1) * BUCKET_SECONDS, current):
        if b is not None:
            latency.merge(b.latency)
            requests += b.requests
            errors += b.errors
    return {
        "requestsLastMinute": requests,
        "serverErrorsLastMinute": errors,
        "requestsTotal": TOTALS.requests,
        "serverErrorsTotal": TOTALS.server_errors,
        "activeUsers": CLIENTS.count(now),
        "workerConcurrency": worker_concurrency(),
        "latencyCount": latency.count,
        "latencyTotalMs": round(latency.total_ms, 3),
        "latencyBins": {str(k): v for k, v in latency.bins.items()},
        "workerProcesses": 1 if worker_process else 0,
    }


def summed(figures: dict[str, Any] | None) -> dict[str, Any] | None:
    """api.instance_figures' answer as the metrics body's `system` block: the counts summed over
    the instances reporting, latency mean and p95 from their merged histograms."""
    if not isinstance(figures, dict):
        return None
    latency = LatencyHistogram()
    bins = figures.get("latencyBins")
    if isinstance(bins, dict):
        for key, n in bins.items():
            if str(key).isdigit() and isinstance(n, int | float):
                latency.bins[int(key)] = int(n)
    latency.count = int(figures.get("latencyCount") or 0)
    latency.total_ms = float(figures.get("latencyTotalMs") or 0)

    def n(key: str) -> int:
        value = figures.get(key)
        return int(value) if isinstance(value, int | float) else 0

    mean = latency.mean()
    p95 = latency.quantile(0.95)
    return {
        "instances": n("instances"),
        "instanceIds": [i for i in figures.get("ids") or [] if isinstance(i, str)],
        "requestsLastMinute": n("requestsLastMinute"),
        "serverErrorsLastMinute": n("serverErrorsLastMinute"),
        "requestsTotal": n("requestsTotal"),
        "serverErrorsTotal": n("serverErrorsTotal"),
        # a client that reached two instances counts twice: an upper bound
        "activeUsers": n("activeUsers"),
        "workerConcurrency": n("workerConcurrency"),
        "workerProcesses": n("workerProcesses"),
        "workerIds": [i for i in figures.get("workerIds") or [] if isinstance(i, str)],
        "avgResponseTime": None if mean is None else round(mean, 1),
        "p95ResponseTime": None if p95 is None else round(p95, 1),
    }


async def _report_forever(pool: AsyncConnectionPool, instance: str, worker_process: bool) -> None:
    while True:
        try:
            figures = own_figures(time.time(), worker_process)
            params = {"instance": instance, "figures": Jsonb(figures)}
            await db.call(pool, "metrics_report_instance", params)
        except Exception as exc:  # keep reporting; class + SQLSTATE only in the log
            log.warning("instance_report_failed", extra={"fields": {"error": _hint(exc)}})
        await asyncio.sleep(REPORT_SECONDS)


def _hint(exc: BaseException) -> str | None:
    return from_exception(exc).log_hint


@contextlib.asynccontextmanager
async def reporting(
    pool: AsyncConnectionPool, settings: Settings, *, worker_process: bool = False
) -> AsyncIterator[None]:
    """Report this process's figures every REPORT_SECONDS; withdraw them on stop."""
    INSTANCE_INFO.labels(instance_id=settings.instance_id).set(1)
    report = _report_forever(pool, settings.instance_id, worker_process)
    async with running_task(report, "guestlist-reporter"):
        yield
    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            db.call(pool, "metrics_withdraw_instance", {"instance": settings.instance_id}), 2
        )
