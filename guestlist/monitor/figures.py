"""Metrics collection, per process: what the request middleware measures, who is asking, the
queue.

* Requests: web/middleware.py is the one place that times a request; it hands each request's
  fields (route template, method, status, duration) to `observe`, whatever the log level. Each
  request goes to the Prometheus request counter and latency histogram (every route) and to
  the ten-minute ring (windows.TimeRing) for the load monitor (ops and monitoring routes left
  out: see MONITORING_ROUTES).
* Clients: `observe` also adds each request's client key (inputs.client_key: the peer, or the
  first untrusted X-Forwarded-For hop) to a five-minute distinct-count sketch, hashed with a
  per-process random key; no key is stored, logged or shown.
* Queue: `QUEUE.fetch(pool, max_age)` runs api.queue_metrics (query `metrics_queue`), at
  most once per `max_age` seconds, and spreads the answer over the Prometheus gauges and the
  ring. `sampling` (an app background service) calls it every 5 seconds so the history has
  a queue sample per bucket even when nobody watches.
* Worker concurrency: the in-process worker pools' target (workers.worker_stats()); 0 when the
  workers run elsewhere (RUN_WORKERS=0, `guestlist worker`).

Figures are per process: with several uvicorn workers each answers for itself (the queue's
figures, read from Postgres, are the same everywhere). prometheus_client's multiprocess mode
is not used; scrape each process, or run one process per container.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString
from psycopg_pool import AsyncConnectionPool
from starlette.types import Scope

from guestlist import db
from guestlist.config import Settings
from guestlist.monitor.windows import (
    BUCKET_SECONDS,
    QueueSample,
    SeenClients,
    TimeRing,
    bucket_start,
)
from guestlist.queue import workers
from guestlist.tasks import running_task
from guestlist.web.errors import from_exception
from guestlist.web.inputs import client_key, client_key_found

log = logging.getLogger("guestlist.metrics")

# Health probes and the monitoring itself: counted by Prometheus, left out of the load
# monitor's request figures and of activeUsers (a probe or a dashboard is not a guest).
MONITORING_ROUTES = frozenset(
    {"/healthz", "/readyz", "/metrics", "/api/admin/metrics", "/admin/load-monitor"}
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NUMBER = (int, float)

# --- Prometheus --------------------------------------------------------------------------------

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

_HTTP_LABELS = ("route", "method", "status")
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _RequestSeries:
    """One (route, method, status): requests, total seconds, per-bucket counts (last: +Inf)."""

    __slots__ = ("buckets", "count", "created", "total")

    def __init__(self, n_buckets: int) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * n_buckets
        self.created = time.time()


class HttpFigures:
    """The request counter and latency histogram of /metrics (`guestlist_http_requests`,
    `guestlist_http_request_duration_seconds`, by route, method, status), kept as plain numbers
    per label set and handed to Prometheus by `collect`. prometheus_client's Counter and
    Histogram take a lock, check their labels and walk the buckets in Python on every request;
    this is one dict lookup, a bisect and three additions. Same names, help, labels, buckets
    and `_created` samples as the Counter + Histogram it replaces. Written from the event loop
    only (`observe`, from the request middleware); a scrape from elsewhere may see one request
    half counted."""

    def __init__(self, buckets: tuple[float, ...] = _HTTP_BUCKETS) -> None:
        self.bounds = (*(float(b) for b in buckets), math.inf)
        self.series: dict[tuple[str, str, str], _RequestSeries] = {}

    def observe(self, labels: tuple[str, str, str], seconds: float) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = _RequestSeries(len(self.bounds))
        series.count += 1
        series.total += seconds
        series.buckets[bisect.bisect_left(self.bounds, seconds)] += 1  # first bound ≥ seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "guestlist_http_requests",
            "HTTP requests answered, by route template, method and status.",
            labels=_HTTP_LABELS,
        )
        durations = HistogramMetricFamily(
            "guestlist_http_request_duration_seconds",
            "Time from receiving a request to its last byte, as the request log measures it.",
            labels=_HTTP_LABELS,
        )
        les = [floatToGoString(b) for b in self.bounds]
        for labels, series in list(self.series.items()):
            requests.add_metric(labels, series.count, created=series.created)
            cumulative = list(itertools.accumulate(series.buckets))
            durations.add_metric(labels, list(zip(les, cumulative, strict=True)), series.total)
            durations.samples.append(
                Sample(
                    "guestlist_http_request_duration_seconds_created",
                    dict(zip(_HTTP_LABELS, labels, strict=True)),
                    series.created,
                )
            )
        yield requests
        yield durations


HTTP_FIGURES = HttpFigures()
REGISTRY.register(HTTP_FIGURES)
QUEUE_JOBS = Gauge(
    "guestlist_queue_jobs",
    "Pending guest jobs by state (waiting, active, delayed), at the last api.queue_metrics.",
    ("state",),
    registry=REGISTRY,
)
QUEUE_FINISHED = Gauge(
    "guestlist_queue_jobs_finished_last_minute",
    "Guest jobs finished in the minute before the last api.queue_metrics, by status.",
    ("status",),
    registry=REGISTRY,
)
QUEUE_KEPT = Gauge(
    "guestlist_queue_jobs_kept",
    "Finished guest jobs still in the table (until job_retention_seconds), by status.",
    ("status",),
    registry=REGISTRY,
)
QUEUE_LATENCY = Gauge(
    "guestlist_queue_job_latency_seconds",
    "Enqueue-to-finish time of the jobs finished in the last minute, by quantile (0 if none).",
    ("quantile",),
    registry=REGISTRY,
)
QUEUE_ERRORS = Counter(
    "guestlist_queue_metrics_errors",
    "api.queue_metrics calls that failed (the queue gauges keep their last values).",
    registry=REGISTRY,
)
WORKER_CONCURRENCY = Gauge(
    "guestlist_worker_concurrency",
    "Worker tasks this process's autoscaler runs now (0: workers run elsewhere).",
    registry=REGISTRY,
)
ACTIVE_CLIENTS = Gauge(
    "guestlist_active_clients",
    "Distinct client keys seen by this process in the last 5 minutes (probes excluded).",
    registry=REGISTRY,
)

# --- in-process state --------------------------------------------------------------------------

RING = TimeRing()
CLIENTS = SeenClients()
STARTED_AT = time.time()  # buckets that ended before this were not measured: null, not 0


class _Totals:
    """Requests counted for the load monitor since the process started (monitoring excluded)."""

    requests = 0
    server_errors = 0


TOTALS = _Totals()


def observe_request(route: Any, method: Any, status: Any, duration_ms: Any, at: float) -> None:
    """One answered request (from its request-log fields)."""
    route_label = route if isinstance(route, str) and route != "-" else "unmatched"
    method_label = method if method in _METHODS else "other"
    code = status if isinstance(status, int) else 500
    seconds = max(float(duration_ms), 0.0) / 1000 if isinstance(duration_ms, _NUMBER) else 0.0
    HTTP_FIGURES.observe((route_label, method_label, str(code)), seconds)
    if route_label in MONITORING_ROUTES:
        return
    TOTALS.requests += 1
    TOTALS.server_errors += int(code >= 500)
    RING.add_request(at, seconds * 1000, code >= 500)


def observe(scope: Scope, fields: dict[str, Any], at: float) -> None:
    """One answered request, from its request-log fields (web/middleware.py): the figures and
    the client sketch. Never raises: a metrics bug must not break a request."""
    try:
        get = fields.get
        observe_request(get("route"), get("method"), get("status"), get("duration_ms"), at)
        if scope.get("path") not in MONITORING_ROUTES:
            key = client_key_found(scope)  # the reader's, when the route read one
            if key is None:
                settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
                trusted = settings.trusted_proxies if isinstance(settings, Settings) else ()
                key = client_key(scope, trusted)
            CLIENTS.add(key, at)
    except Exception:
        log.exception("request_figures_failed")


# --- workers -----------------------------------------------------------------------------------


def worker_concurrency() -> int:
    """The target concurrency of this process's worker pools (0 when none runs here)."""
    return sum(int(s.get("target") or 0) for s in workers.worker_stats())


# --- the queue's figures -----------------------------------------------------------------------


def _int(figures: dict[str, Any], key: str) -> int:
    value = figures.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _seconds(ms: Any) -> float:
    return float(ms) / 1000 if isinstance(ms, int | float) else 0.0


class QueueFigures:
    """The last api.queue_metrics answer, refreshed on demand at most once per max_age."""

    def __init__(self) -> None:
        self.figures: dict[str, Any] | None = None
        self._started = -1e18  # monotonic start of the fetch that produced `figures`
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def fetch(self, pool: AsyncConnectionPool, max_age: float) -> dict[str, Any]:
        """Fresh figures: reused if a fetch started at most max_age seconds before this call
        (max_age 0: always a call of its own). Raises what db.call raises."""
        asked = time.monotonic()
        async with self._get_lock():
            if self.figures is not None and self._started >= asked - max_age:
                return self.figures
            started = time.monotonic()
            try:
                result = await db.call(pool, "metrics_queue")
            except Exception:
                QUEUE_ERRORS.inc()
                raise
            if not isinstance(result, dict):
                QUEUE_ERRORS.inc()
                raise TypeError("api.queue_metrics answered no object")
            self.figures, self._started = result, started
            self._record(result)
            return result

    @staticmethod
    def _record(figures: dict[str, Any]) -> None:
        waiting, active, delayed = (_int(figures, k) for k in ("waiting", "active", "delayed"))
        for state, n in (("waiting", waiting), ("active", active), ("delayed", delayed)):
            QUEUE_JOBS.labels(state).set(n)
        for status in ("completed", "failed"):
            QUEUE_FINISHED.labels(status).set(_int(figures, f"{status}LastMinute"))
            QUEUE_KEPT.labels(status).set(_int(figures, f"total{status.capitalize()}"))
        QUEUE_LATENCY.labels("0.5").set(_seconds(figures.get("p50Ms")))
        QUEUE_LATENCY.labels("0.95").set(_seconds(figures.get("p95Ms")))
        workers = worker_concurrency()
        now = time.time()
        RING.add_queue_sample(now, QueueSample(waiting + delayed, active, workers))
        at = figures.get("at")
        buckets = figures.get("finished")
        if isinstance(at, int | float) and isinstance(buckets, list):
            RING.add_finished_jobs(
                float(at), (tuple(b) for b in buckets if isinstance(b, list) and len(b) == 3)
            )


QUEUE = QueueFigures()


def refresh_process_gauges() -> None:
    """The gauges that need no SQL: worker concurrency and distinct clients."""
    WORKER_CONCURRENCY.set(worker_concurrency())
    ACTIVE_CLIENTS.set(CLIENTS.count(time.time()))


# --- the sampler (an app.py background service) ------------------------------------------------

_SAMPLE_OFFSET = 1.0  # seconds into each bucket: one sample per bucket, clear of its edges


async def _sample_forever(pool: AsyncConnectionPool) -> None:
    while True:
        now = time.time()
        await asyncio.sleep(bucket_start(now) + BUCKET_SECONDS + _SAMPLE_OFFSET - now)
        try:
            await QUEUE.fetch(pool, max_age=0)
        except Exception as exc:  # keep sampling; class + SQLSTATE only in the log
            log.warning("queue_sample_failed", extra={"fields": {"error": _hint(exc)}})


def _hint(exc: BaseException) -> str | None:
    return from_exception(exc).log_hint


@contextlib.asynccontextmanager
async def sampling(pool: AsyncConnectionPool, settings: Settings) -> AsyncIterator[None]:
    """Sample the queue every 5 seconds for the load monitor's history."""
    async with running_task(_sample_forever(pool), "guestlist-metrics-sampler"):
        yield
