"""The body of GET /api/admin/metrics: the seed's fields, defined honestly, and a real series.

Definitions (also in openapi.py's "Metrics" schema, via web/monitoring.METRICS_SCHEMA):

* the last minute = the last 12 five-second buckets, the one being filled included;
* HTTP figures are this process's requests, health probes and the monitoring routes excluded
  (metrics.MONITORING_ROUTES); queue figures come from api.queue_metrics (all processes);
* errorRate = 100 * (HTTP 5xx + jobs failed) / (HTTP requests + jobs finished), last minute;
* activeUsers = distinct client keys seen by this process in the last 5 minutes;
* series = one point per complete 5-second bucket of the last 10 minutes, oldest first; a
  figure nobody measured in a bucket (no request, no queue sample) is null, never invented.
"""

from __future__ import annotations

from typing import Any

from guestlist.monitor.figures import CLIENTS, RING, STARTED_AT, TOTALS, worker_concurrency
from guestlist.monitor.windows import (
    BUCKET_SECONDS,
    HISTORY_SECONDS,
    WINDOW_SECONDS,
    Bucket,
    LatencyHistogram,
    bucket_start,
)

_PER_WINDOW = WINDOW_SECONDS // BUCKET_SECONDS  # buckets in a minute
_POINTS = HISTORY_SECONDS // BUCKET_SECONDS


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _int(figures: dict[str, Any] | None, key: str) -> int | None:
    if figures is None:
        return None
    value = figures.get(key)
    return int(value) if isinstance(value, int | float) else None


def _jobs_per_minute(window: list[Bucket | None]) -> int | None:
    """Jobs finished in these 12 buckets, if SQL covered every one of them."""
    total = 0
    for bucket in window:
        if bucket is None or bucket.jobs is None:
            return None
        total += sum(bucket.jobs)
    return total


def series(now: float) -> list[dict[str, Any]]:
    """The last 10 minutes, one point per complete bucket: {t (ms), rps, p95 (ms), queueDepth,
    jobsPerMin, errors, workers}."""
    last = bucket_start(now) - BUCKET_SECONDS
    first = last - (_POINTS - 1) * BUCKET_SECONDS
    buckets = RING.buckets(first - (_PER_WINDOW - 1) * BUCKET_SECONDS, last)
    points = []
    for i in range(_PER_WINDOW - 1, len(buckets)):
        b = buckets[i]
        start = first + (i - _PER_WINDOW + 1) * BUCKET_SECONDS
        measured = start >= STARTED_AT - BUCKET_SECONDS  # this process was up in the bucket
        requests = b.requests if b is not None else 0
        errors = (b.errors if b is not None else 0) + (b.jobs[1] if b and b.jobs else 0)
        points.append(
            {
                "t": start * 1000,
                "rps": round(requests / BUCKET_SECONDS, 2) if measured else None,
                "p95": _round(b.latency.quantile(0.95)) if b is not None else None,
                "queueDepth": b.queue.queue_size if b is not None and b.queue else None,
                "jobsPerMin": _jobs_per_minute(buckets[i - _PER_WINDOW + 1 : i + 1]),
                "errors": errors if measured else None,
                "workers": b.queue.workers if b is not None and b.queue else None,
            }
        )
    return points


def build(queue: dict[str, Any] | None, now: float) -> dict[str, Any]:
    """The metrics body. `queue` is api.queue_metrics' answer, or None when it failed (the queue
    fields are then null)."""
    current = bucket_start(now)
    latency = LatencyHistogram()
    requests = server_errors = 0
    for b in RING.buckets(current - (_PER_WINDOW - 1) * BUCKET_SECONDS, current):
        if b is not None:
            latency.merge(b.latency)
            requests += b.requests
            server_errors += b.errors

    waiting, active, delayed = (_int(queue, k) for k in ("waiting", "active", "delayed"))
    finished = _int(queue, "finishedLastMinute")
    failed = _int(queue, "failedLastMinute")
    denominator = requests + (finished or 0)
    error_rate = 100 * (server_errors + (failed or 0)) / denominator if denominator else 0.0
    queue_size = None if waiting is None or delayed is None else waiting + delayed
    parts = None if queue is None else {"waiting": waiting, "active": active, "delayed": delayed}

    return {
        "generatedAt": int(now * 1000),
        # the seed's fields
        "queueSize": queue_size,
        "activeJobs": active,
        "processingRate": finished,
        "avgResponseTime": _round(latency.mean()),
        "p95ResponseTime": _round(latency.quantile(0.95)),
        "errorRate": round(error_rate, 2),
        "activeUsers": CLIENTS.count(now),
        "totalProcessed": _int(queue, "totalCompleted"),
        "totalFailed": _int(queue, "totalFailed"),
        "workerConcurrency": worker_concurrency(),
        # what they are made of
        "queue": parts,
        "jobsCompletedLastMinute": _int(queue, "completedLastMinute"),
        "jobsFailedLastMinute": failed,
        "jobLatencyP50": _round(queue.get("p50Ms")) if queue else None,
        "jobLatencyP95": _round(queue.get("p95Ms")) if queue else None,
        "requestsLastMinute": requests,
        "serverErrorsLastMinute": server_errors,
        "requestsTotal": TOTALS.requests,
        "serverErrorsTotal": TOTALS.server_errors,
        "seriesStepSeconds": BUCKET_SECONDS,
        "series": series(now),
    }
