"""The monitoring routes, as rows app.py serves like every other (routes.ApiRoute):

* `GET /api/admin/metrics` — admin token. The queue's figures (api.queue_metrics, one call per
  request) with this process's request figures and the 10-minute series (report.py).
  If the database does not answer, the HTTP figures still come, the queue's are null and
  `queueError` says why (a monitor must keep working when the database does not).
* `GET /metrics` — admin token (Prometheus: `authorization: {credentials_file: …}`). Prometheus
  text format; the queue gauges are refreshed from api.queue_metrics at most once a second.
* `GET /admin/load-monitor` — the dashboard (static/load-monitor.*). The page holds no figure,
  so it is served without the token (a browser navigation cannot carry a Bearer header); every
  figure it shows comes from /api/admin/metrics, which it calls with the token it is given
  once (`#token=…` fragment, never sent to the server, or its form) and keeps in
  sessionStorage. Without ADMIN_TOKEN configured the page is a 404, like the data it needs.

The readers do the SQL call themselves (query None): the figures are read through
figures.QUEUE, which shares and rate-limits the call with the 5-second sampler.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from guestlist import db
from guestlist.config import Settings
from guestlist.monitor import figures, instances, report
from guestlist.web import openapi
from guestlist.web.errors import api_error, from_exception, json_response
from guestlist.web.middleware import note
from guestlist.web.page import STATIC_DIR
from guestlist.web.readers import Params
from guestlist.web.routes import ApiRoute

_MONITOR_HTML = (STATIC_DIR / "load-monitor.html").read_text(encoding="utf-8")
SCRAPE_MAX_AGE = 1.0  # seconds a /metrics scrape may reuse the queue's figures


# --- readers -----------------------------------------------------------------------------------


async def queue_now(request: Request, settings: Settings) -> Params:
    """api.queue_metrics, fresh, and the instances' summed figures (api.instance_figures); a
    failure is noted in the request log and answered as null."""
    try:
        queue = await figures.QUEUE.fetch(request.state.pool, max_age=0)
        system = await db.call(request.state.pool, "metrics_instance_figures")
        return {"queue": queue, "system": system}
    except Exception as exc:
        err = from_exception(exc)
        note(request.scope, queue_error=err.log_hint)
        return {"queue": None, "queue_error": err.code}


async def queue_for_scrape(request: Request, settings: Settings) -> Params:
    """Refresh the queue gauges (at most once a second); on failure they keep their values and
    guestlist_queue_metrics_errors_total counts it."""
    try:
        await figures.QUEUE.fetch(request.state.pool, max_age=SCRAPE_MAX_AGE)
    except Exception as exc:
        note(request.scope, queue_error=from_exception(exc).log_hint)
    figures.refresh_process_gauges()
    return {}


async def monitor_enabled(request: Request, settings: Settings) -> Params:
    if not settings.admin_enabled:
        raise api_error("not_found")
    return {}


# --- responders --------------------------------------------------------------------------------


def metrics_json(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    body = report.build(params.get("queue"), time.time())
    body["queueError"] = params.get("queue_error")
    # the whole system: every instance's request figures summed (this one's are above)
    body["instance"] = settings.instance_id
    body["system"] = instances.summed(params.get("system"))
    return json_response(body)


def prometheus_text(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return Response(generate_latest(figures.REGISTRY), media_type=CONTENT_TYPE_LATEST)


def load_monitor_page(
    request: Request, settings: Settings, params: Params, result: Any
) -> Response:
    return HTMLResponse(_MONITOR_HTML, headers={"Cache-Control": "no-store"})


# --- the rows ----------------------------------------------------------------------------------

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        "/api/admin/metrics",
        None,
        queue_now,
        metrics_json,
        "Load figures: the queue (all processes) and this process's requests, with the last "
        "10 minutes in 5-second points. See the Metrics schema for each definition.",
        response_schema="Metrics",
        admin=True,
        tags=("admin",),
    ),
    ApiRoute(
        "GET",
        "/metrics",
        None,
        queue_for_scrape,
        prometheus_text,
        "Prometheus text format: requests by route and status, latency histogram, queue depth, "
        "worker concurrency (this process's figures; queue gauges at most 1 s old).",
        admin=True,
        tags=("ops",),
    ),
    ApiRoute(
        "GET",
        "/admin/load-monitor",
        None,
        monitor_enabled,
        load_monitor_page,
        "The load monitor (HTML, pt-PT). Holds no data: give it the admin token once as "
        "#token=… (a fragment: never sent) or in its form; it calls /api/admin/metrics.",
        refusals=("not_found",),
        errors_as="html",
        tags=("admin",),
    ),
)


# --- documentation -----------------------------------------------------------------------------

_MS = {"type": ["number", "null"], "description": "milliseconds"}


def _n(description: str, kind: str = "integer", nullable: bool = False) -> dict[str, Any]:
    return {"type": [kind, "null"] if nullable else kind, "description": description}


METRICS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "HTTP figures are this process's (several uvicorn workers: ask each), health probes "
        "and the monitoring routes excluded. Queue figures come from api.queue_metrics (all "
        "processes) and are null, with queueError set, when the database did not answer. "
        "'Last minute' = the last 12 five-second buckets, the current one included."
    ),
    "properties": {
        "generatedAt": _n("epoch milliseconds"),
        "queueSize": _n("jobs waiting for a worker (waiting + delayed retries)", nullable=True),
        "activeJobs": _n("jobs a worker holds right now", nullable=True),
        "processingRate": _n(
            "jobs finished (completed or failed) in the last minute, from finished_at",
            nullable=True,
        ),
        "avgResponseTime": {**_MS, "description": "mean HTTP duration, last minute (ms)"},
        "p95ResponseTime": {**_MS, "description": "95th percentile HTTP duration (ms, ±2.5%)"},
        "errorRate": _n(
            "percent: 100 * (HTTP 5xx + jobs failed) / (HTTP requests + jobs finished), last "
            "minute; 0 when there was neither",
            "number",
        ),
        "activeUsers": _n(
            "distinct client keys (address, or first untrusted X-Forwarded-For hop) seen by "
            "this process in the last 5 minutes; counted as keyed hashes, never shown"
        ),
        "totalProcessed": _n("completed jobs still in the table", nullable=True),
        "totalFailed": _n("failed jobs still in the table (dead letters)", nullable=True),
        "workerConcurrency": _n("worker tasks this process runs now (0: workers elsewhere)"),
        "queue": {
            "type": ["object", "null"],
            "properties": {k: {"type": "integer"} for k in ("waiting", "active", "delayed")},
        },
        "jobsCompletedLastMinute": _n("jobs completed in the last minute", nullable=True),
        "jobsFailedLastMinute": _n("jobs failed in the last minute", nullable=True),
        "jobLatencyP50": {**_MS, "description": "enqueue→finish median, last minute (ms)"},
        "jobLatencyP95": {**_MS, "description": "enqueue→finish 95th percentile (ms)"},
        "requestsLastMinute": _n("HTTP requests answered in the last minute"),
        "serverErrorsLastMinute": _n("HTTP 5xx answers in the last minute"),
        "requestsTotal": _n("HTTP requests answered since this process started"),
        "serverErrorsTotal": _n("HTTP 5xx answers since this process started"),
        "seriesStepSeconds": {"const": 5},
        "series": {
            "type": "array",
            "description": "the last 10 minutes, one point per complete 5-second bucket, oldest "
            "first; null where nothing was measured (before this process started, no request "
            "for p95, no queue sample)",
            "items": {
                "type": "object",
                "properties": {
                    "t": _n("bucket start, epoch milliseconds"),
                    "rps": _n("HTTP requests per second over the bucket", "number", nullable=True),
                    "p95": {**_MS, "description": "95th percentile HTTP duration (ms)"},
                    "queueDepth": _n("queueSize sampled in the bucket", nullable=True),
                    "jobsPerMin": _n(
                        "jobs finished in the minute ending with the bucket", nullable=True
                    ),
                    "errors": _n("HTTP 5xx + jobs failed in the bucket", nullable=True),
                    "workers": _n("worker concurrency sampled in the bucket", nullable=True),
                },
            },
        },
        "queueError": {"type": ["string", "null"], "description": "why the queue figures are null"},
        "instance": {"type": "string", "description": "this process's id (INSTANCE_ID; host:pid)"},
        "system": {
            "type": ["object", "null"],
            "description": "every app instance's request figures and every process's worker "
            "tasks, summed over those that reported in the last instance_report_ttl_seconds "
            "(api.instance_figures; each reports every 5 s); null when the database did not "
            "answer",
            "properties": {
                "instances": _n("app instances reporting"),
                "instanceIds": {"type": "array", "items": {"type": "string"}},
                "workerProcesses": _n("`guestlist worker` processes reporting"),
                "workerIds": {"type": "array", "items": {"type": "string"}},
                "requestsLastMinute": _n("HTTP requests answered in the last minute, all"),
                "serverErrorsLastMinute": _n("HTTP 5xx answers in the last minute, all"),
                "requestsTotal": _n("HTTP requests since each instance started, summed"),
                "serverErrorsTotal": _n("HTTP 5xx since each instance started, summed"),
                "activeUsers": _n(
                    "each instance's distinct clients, summed (a client seen by two counts twice)"
                ),
                "workerConcurrency": _n(
                    "worker tasks running, in the app instances and the worker processes"
                ),
                "avgResponseTime": {**_MS, "description": "mean HTTP duration, all, last minute"},
                "p95ResponseTime": {**_MS, "description": "95th percentile, merged histograms"},
            },
        },
    },
}

# The route table's documentation (openapi.build_openapi) finds its schemas here.
openapi.SCHEMAS.setdefault("Metrics", METRICS_SCHEMA)
