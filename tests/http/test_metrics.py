"""The monitoring routes over real HTTP (app.py under uvicorn, a database of its own): the admin
token, request figures that follow the requests made, queue figures equal to what SQL counts,
the 10-minute series, and /metrics as Prometheus text."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from guestlist.queries import load_queries
from tests.support.database import TESTS, PgServer
from tests.support.server import UNLIMITED, LiveServer, live_server

TOKEN = "metrics-test-" + "x" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PHONE = {"phone": "912 345 678"}
VERIFY = "/api/guest/verify-phone"
MONITORING = {"/healthz", "/readyz", "/metrics", "/api/admin/metrics", "/admin/load-monitor"}
SQL = load_queries(TESTS / "metrics_queries.sql")


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    # No in-process workers: the jobs these tests plant must stay as planted.
    with live_server(
        pg_server,
        template_db,
        tmp_path_factory.mktemp("web_metrics"),
        ADMIN_TOKEN=TOKEN,
        RUN_WORKERS="0",
        settings=UNLIMITED,
    ) as server:
        yield server
        assert TOKEN not in server.log_text(), "the admin token reached the log"


def sql(web: LiveServer, name: str, params: dict[str, Any] | None = None) -> Any:
    with psycopg.connect(web.db_url, autocommit=True) as conn:
        cur = conn.execute(SQL[name], params)
        row = cur.fetchone() if cur.description else None
    return row[0] if row else None


def plant(web: LiveServer, status: str, *, age: float = 0, finished_ago: float = 0,
          run_in: float = 0) -> str:  # fmt: skip
    params = {"status": status, "age": age, "finished_ago": finished_ago, "run_in": run_in}
    return str(sql(web, "metrics_test_insert_job", params))


def metrics(web: LiveServer) -> dict[str, Any]:
    with web.client(headers=AUTH) as c:
        r = c.get("/api/admin/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def scrape(web: LiveServer) -> str:
    with web.client(headers=AUTH) as c:
        r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def verify_count(text: str) -> float:
    key = ("guestlist_http_requests_total",
           frozenset({("route", VERIFY), ("method", "POST"), ("status", "200")}))  # fmt: skip
    return samples(text).get(key, 0.0)


def request_log_durations(web: LiveServer) -> list[float]:
    durations = []
    for line in web.log_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "request" and record.get("route") not in MONITORING:
                durations.append(float(record["duration_ms"]))
    return durations


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/admin/metrics", "/metrics"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}],
)  # fmt: skip
def test_admin_routes_need_the_token(web: LiveServer, path: str, headers: dict[str, str]) -> None:
    with web.client(headers=headers) as c:
        r = c.get(path)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert "queueSize" not in r.text and "guestlist_" not in r.text


def test_token_in_a_query_string_is_not_accepted(web: LiveServer) -> None:
    with web.client() as c:
        assert c.get("/api/admin/metrics", params={"token": TOKEN}).status_code == 401


def test_the_monitor_page_carries_no_data_and_no_inline_code(web: LiveServer) -> None:
    with web.client() as c:
        r = c.get("/admin/load-monitor")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-store"
        html = r.text
        assert 'lang="pt-PT"' in html and "Monitor de carga" in html
        assert re.findall(r"<script[^>]*>", html) == [
            '<script src="/static/load-monitor.js" defer>'
        ]
        assert "style=" not in html and "<style" not in html
        assert "http://" not in html.replace('xmlns="http://www.w3.org', "")
        assert "https://" not in html
        for asset in ("/static/load-monitor.js", "/static/load-monitor.css"):
            assert c.get(asset).status_code == 200
        js = c.get("/static/load-monitor.js").text
    # the only URL the script calls, and it never puts the token in a URL
    assert re.findall(r"fetch\(([^,)]+)", js) == ["METRICS_URL"]
    assert "'/api/admin/metrics'" in js and "?token" not in js and "console." not in js


def test_monitor_page_is_absent_without_an_admin_token(
    pg_server: PgServer, template_db: str, tmp_path: Path
) -> None:
    with (
        live_server(pg_server, template_db, tmp_path, ADMIN_TOKEN="", RUN_WORKERS="0") as other,
        other.client() as c,
    ):
        assert c.get("/admin/load-monitor").status_code == 404
        r = c.get("/api/admin/metrics", headers={"Authorization": "Bearer x"})
        assert r.status_code == 401


# --- request figures --------------------------------------------------------------------------


def test_request_figures_follow_the_requests_made(web: LiveServer) -> None:
    before, text_before = metrics(web), scrape(web)
    n, ips = 7, [web.new_ip() for _ in range(3)]
    for i in range(n):
        with web.client(ip=ips[i % len(ips)]) as c:
            assert c.post(VERIFY, json=PHONE).status_code == 200
    after, text_after = metrics(web), scrape(web)

    # monitoring requests (these metrics calls, the scrapes) are not counted: exactly n moved
    assert after["requestsTotal"] - before["requestsTotal"] == n
    assert after["requestsLastMinute"] >= n
    assert verify_count(text_after) - verify_count(text_before) == n
    assert after["activeUsers"] - before["activeUsers"] == len(ips)
    assert after["serverErrorsTotal"] == before["serverErrorsTotal"] == 0

    # mean and p95 of durations the request log measured (p95 binned to ±2.5%)
    durations = request_log_durations(web)
    assert min(durations) <= after["avgResponseTime"] + 0.05
    assert after["avgResponseTime"] <= max(durations) + 0.05
    assert min(durations) * 0.97 <= after["p95ResponseTime"] <= max(durations) * 1.03

    # nothing about who asked
    for body in (json.dumps(after), text_after):
        assert not any(ip in body for ip in ips)


def test_error_rate_counts_failed_jobs_with_server_errors(web: LiveServer) -> None:
    plant(web, "failed", age=3, finished_ago=2)
    m = metrics(web)
    failed, finished = m["jobsFailedLastMinute"], m["processingRate"]
    assert failed >= 1
    expected = 100 * (m["serverErrorsLastMinute"] + failed) / (m["requestsLastMinute"] + finished)
    assert m["errorRate"] == round(expected, 2)
    assert m["errorRate"] > 0


# --- queue figures ----------------------------------------------------------------------------


def test_processing_rate_is_what_sql_counts(web: LiveServer) -> None:
    for ago in (5, 10, 15):
        plant(web, "completed", age=ago + 1, finished_ago=ago)
    plant(web, "failed", age=22, finished_ago=20)
    plant(web, "completed", age=301, finished_ago=300)  # finished, but not in the last minute
    plant(web, "failed", age=7200, finished_ago=7200)
    for _ in range(5):  # a job may cross the minute's edge between the two reads: read again
        counted = sql(web, "metrics_test_finished_last_minute")
        m = metrics(web)
        if sql(web, "metrics_test_finished_last_minute") == counted:
            break
    assert counted >= 4
    assert m["processingRate"] == counted
    assert m["jobsFailedLastMinute"] == sql(web, "metrics_test_failed_last_minute")
    assert m["jobsCompletedLastMinute"] + m["jobsFailedLastMinute"] == counted
    assert [m["totalProcessed"], m["totalFailed"]] == sql(web, "metrics_test_kept")
    assert m["jobLatencyP50"] is not None and m["jobLatencyP95"] >= m["jobLatencyP50"]


def test_active_jobs_and_queue_size(web: LiveServer) -> None:
    base = metrics(web)
    assert base["queueError"] is None and base["workerConcurrency"] == 0
    held = plant(web, "waiting")
    others = [plant(web, "waiting"), plant(web, "delayed", run_in=600)]
    try:
        m = metrics(web)
        assert m["queueSize"] == base["queueSize"] + 3
        assert m["queue"]["delayed"] == base["queue"]["delayed"] + 1
        assert m["activeJobs"] == base["activeJobs"]
        # a worker's transaction holds one job (a second real connection)
        with psycopg.connect(web.db_url) as worker:
            assert worker.execute(SQL["metrics_test_hold_job"], {"id": held}).fetchone()
            m = metrics(web)
            assert m["activeJobs"] == base["activeJobs"] + 1
            assert m["queueSize"] == base["queueSize"] + 2
            prom = samples(scrape(web))
            assert prom[("guestlist_queue_jobs", frozenset({("state", "active")}))] == 1
            worker.rollback()  # the worker died: its job is waiting again
        m = metrics(web)
        assert m["activeJobs"] == base["activeJobs"]
        assert m["queueSize"] == base["queueSize"] + 3
    finally:
        sql(web, "metrics_test_delete_jobs", {"ids": [held, *others]})


# --- the series -------------------------------------------------------------------------------


def test_series_holds_the_last_ten_minutes_of_real_points(web: LiveServer) -> None:
    with web.client() as c:
        for _ in range(4):
            assert c.post(VERIFY, json=PHONE).status_code == 200
    # Series points are complete 5-second buckets: read until the bucket of the last request is
    # complete (no request is counted meanwhile: metrics calls are monitoring).
    for _ in range(150):
        m = metrics(web)
        in_series = round(sum(p["rps"] * m["seriesStepSeconds"] for p in m["series"]
                              if p["rps"] is not None))  # fmt: skip
        if in_series == m["requestsTotal"]:
            break
        time.sleep(0.1)
    assert in_series == m["requestsTotal"] > 0

    points = m["series"]
    assert len(points) == 120
    steps = {b["t"] - a["t"] for a, b in itertools.pairwise(points)}
    assert steps == {5000}
    assert points[-1]["t"] <= m["generatedAt"] - 5000 < points[-1]["t"] + 5000
    assert set(points[0]) == {"t", "rps", "p95", "queueDepth", "jobsPerMin", "errors", "workers"}
    busy = [p for p in points if p["rps"]]
    assert busy and all(p["p95"] is not None and p["p95"] > 0 for p in busy)
    sampled = [p for p in points if p["queueDepth"] is not None]
    assert sampled, "the sampler put no queue sample in any bucket"
    assert all(p["workers"] == 0 for p in sampled)  # RUN_WORKERS=0

    # jobs/min of the newest point = jobs SQL finds finished in the minute it ends
    last = points[-1]
    assert last["jobsPerMin"] is not None
    end = last["t"] / 1000 + 5
    assert last["jobsPerMin"] == sql(web, "metrics_test_finished_between",
                                     {"from": end - 60, "to": end})  # fmt: skip


# --- Prometheus -------------------------------------------------------------------------------


def test_metrics_is_prometheus_text_with_the_expected_families(web: LiveServer) -> None:
    text = scrape(web)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    expected = {
        "guestlist_http_requests": "counter",
        "guestlist_http_request_duration_seconds": "histogram",
        "guestlist_queue_jobs": "gauge",
        "guestlist_queue_jobs_finished_last_minute": "gauge",
        "guestlist_queue_jobs_kept": "gauge",
        "guestlist_queue_job_latency_seconds": "gauge",
        "guestlist_worker_concurrency": "gauge",
        "guestlist_active_clients": "gauge",
        "guestlist_queue_metrics_errors": "counter",
    }
    for name, kind in expected.items():
        assert name in families, name
        assert families[name].type == kind, name
    states = {s.labels["state"] for s in families["guestlist_queue_jobs"].samples}
    assert states == {"waiting", "active", "delayed"}
    routes = {s.labels.get("route") for s in families["guestlist_http_requests"].samples}
    assert VERIFY in routes and "/api/admin/metrics" in routes
    hist = [s for s in families["guestlist_http_request_duration_seconds"].samples
            if s.name.endswith("_count") and s.labels["route"] == VERIFY]  # fmt: skip
    assert hist and sum(s.value for s in hist) == verify_count(text)

    m = metrics(web)
    prom = samples(text)
    waiting = prom[("guestlist_queue_jobs", frozenset({("state", "waiting")}))]
    assert waiting == m["queue"]["waiting"]
    assert prom[("guestlist_worker_concurrency", frozenset())] == 0
    kept = sql(web, "metrics_test_kept")
    assert prom[("guestlist_queue_jobs_kept", frozenset({("status", "failed")}))] == kept[1]
