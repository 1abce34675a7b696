"""The in-memory figures (monitor/windows.py) and the queue read's rate limit (monitor/figures.py),
without a server: a driven clock, a stub in place of the database."""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
from typing import Any

import pytest

from guestlist import logs as request_log
from guestlist.monitor import figures as metrics
from guestlist.monitor import report as metrics_report
from guestlist.monitor.windows import (
    BUCKET_SECONDS,
    LatencyHistogram,
    QueueSample,
    SeenClients,
    TimeRing,
    bucket_start,
)
from guestlist.web import middleware

T0 = 1_800_000_000.0  # a bucket boundary


def test_histogram_percentiles_stay_within_their_bin_width() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(2, 1) for _ in range(5000)]
    hist = LatencyHistogram()
    for v in values:
        hist.add(v)
    exact = sorted(values)
    for q in (0.5, 0.95, 0.99):
        truth = exact[int(q * len(exact)) - 1]
        estimate = hist.quantile(q)
        assert estimate is not None
        assert abs(estimate - truth) / truth < 0.05, (q, estimate, truth)
    assert hist.mean() == pytest.approx(statistics.fmean(values))
    assert LatencyHistogram().quantile(0.95) is None and LatencyHistogram().mean() is None


def test_ring_keeps_buckets_apart_and_forgets_old_ones() -> None:
    ring = TimeRing()
    ring.add_request(T0 + 1, 10, False)
    ring.add_request(T0 + 4.9, 30, True)
    ring.add_request(T0 + 5, 20, False)
    first, second = ring.buckets(int(T0), int(T0) + BUCKET_SECONDS)
    assert first is not None and (first.requests, first.errors) == (2, 1)
    assert second is not None and second.requests == 1
    # 11 minutes and 5 seconds later the first bucket's slot is reused: its counts are gone
    later = T0 + 665
    ring.add_request(later, 5, False)
    assert ring.buckets(int(T0), int(T0))[0] is None
    bucket = ring.buckets(bucket_start(later), bucket_start(later))[0]
    assert bucket is not None and bucket.requests == 1


def test_finished_jobs_cover_only_whole_buckets_of_the_minute() -> None:
    ring = TimeRing()
    at = T0 + 62  # covers (T0 + 2, T0 + 62]: buckets T0+5 … T0+60 whole, T0 partly
    ring.add_finished_jobs(at, [(int(T0) + 10, 3, 1)])
    covered = ring.buckets(int(T0), int(T0) + 60)
    assert covered[0] is None  # T0's bucket is only partly inside the minute
    assert covered[2] is not None and covered[2].jobs == (3, 1)
    assert all(b is not None and b.jobs == (0, 0) for i, b in enumerate(covered) if i not in (0, 2))


def test_seen_clients_counts_distinct_keys_for_five_minutes() -> None:
    seen = SeenClients(window=300, cap=3)
    for key in ("10.0.0.1", "10.0.0.2", "10.0.0.1"):
        seen.add(key, T0)
    assert seen.count(T0) == 2
    seen.add("10.0.0.2", T0 + 200)
    assert seen.count(T0 + 301) == 1  # 10.0.0.1 last seen 301 s ago
    assert seen.count(T0 + 501) == 0
    for i in range(10):  # past the cap the oldest are dropped: memory stays bounded
        seen.add(f"192.0.2.{i}", T0 + 600)
    assert seen.count(T0 + 600) == 3
    assert not any(b"192.0.2" in k for k in seen._last_seen)  # only keyed hashes are kept


def test_series_marks_what_was_not_measured_as_null(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = TimeRing()
    monkeypatch.setattr(metrics_report, "RING", ring)
    monkeypatch.setattr(metrics_report, "STARTED_AT", T0 - 30)
    ring.add_request(T0 - 20, 12.0, False)
    ring.add_queue_sample(T0 - 19, QueueSample(queue_size=4, active=1, workers=2))
    points = metrics_report.series(T0 + 1)
    assert len(points) == 120 and points[-1]["t"] == (T0 - 5) * 1000
    by_t = {p["t"] // 1000: p for p in points}
    busy = by_t[int(T0) - 20]
    assert busy["rps"] == pytest.approx(1 / BUCKET_SECONDS)
    assert busy["p95"] == pytest.approx(12.0, rel=0.03)
    assert (busy["queueDepth"], busy["workers"]) == (4, 2)
    quiet = by_t[int(T0) - 15]
    assert (quiet["rps"], quiet["errors"], quiet["p95"], quiet["queueDepth"]) == (0, 0, None, None)
    before_start = by_t[int(T0) - 60]
    assert before_start["rps"] is None and before_start["errors"] is None


def test_report_without_queue_figures_keeps_http_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = TimeRing()
    monkeypatch.setattr(metrics_report, "RING", ring)
    ring.add_request(T0 + 1, 8.0, True)
    body = metrics_report.build(None, T0 + 2)
    assert body["requestsLastMinute"] == 1 and body["serverErrorsLastMinute"] == 1
    assert body["errorRate"] == 100.0
    assert body["queueSize"] is None and body["processingRate"] is None
    assert body["queue"] is None


class _Calls:
    def __init__(self) -> None:
        self.n = 0

    async def __call__(self, pool: Any, name: str, params: Any = None) -> dict[str, Any]:
        assert name == "metrics_queue"
        self.n += 1
        await asyncio.sleep(0.01)
        return {"waiting": self.n, "active": 0, "delayed": 0, "at": T0, "finished": []}


def test_queue_reads_are_shared_and_rate_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _Calls()
    monkeypatch.setattr(metrics.db, "call", calls)
    figures = metrics.QueueFigures()

    async def scenario() -> None:
        # ten concurrent scrapes: one read
        answers = await asyncio.gather(*(figures.fetch(None, max_age=1.0) for _ in range(10)))
        assert calls.n == 1 and all(a["waiting"] == 1 for a in answers)
        await figures.fetch(None, max_age=1.0)
        assert calls.n == 1
        # max_age 0 (the admin JSON): a read of its own, every time
        await figures.fetch(None, max_age=0)
        await figures.fetch(None, max_age=0)
        assert calls.n == 3

    asyncio.run(scenario())


def test_a_request_feeds_the_figures_whatever_the_log_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """LOG_LEVEL=warning silences the request lines, not the figures: the middleware hands
    each request to the figures itself, not through the log."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), request_log.logger.level)

    async def ok(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def one_request() -> None:
        scope = {"type": "http", "method": "POST", "path": "/api/guest/login", "headers": []}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            pass

        await middleware.RequestLogMiddleware(ok)(scope, receive, send)

    try:
        request_log.configure_logging("warning")
        before = metrics.TOTALS.requests
        asyncio.run(one_request())
        request_log.flush_logs()
        assert metrics.TOTALS.requests == before + 1
        assert '"event":"request"' not in capsys.readouterr().out
        request_log.configure_logging("info")
        asyncio.run(one_request())
        request_log.flush_logs()
        assert metrics.TOTALS.requests == before + 2
        assert capsys.readouterr().out.count('"event":"request"') == 1
    finally:  # leave logging as it was for the tests that follow
        root.setLevel(saved[0])
        root.handlers = saved[1]
        request_log.logger.setLevel(saved[2])
