"""The load monitor in a real browser (Debian's chromium, Playwright) against app.py under a small
load: a background thread checking phones and queueing registrations (register-v2, done by the
in-process workers). The page's figures move, match /api/admin/metrics read at the same moment,
raise the pt-PT alerts, draw measured series, and no request leaves for another host."""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from guestlist.queries import load_queries
from tests.support.database import TESTS, PgServer
from tests.support.server import UNLIMITED, LiveServer, live_server, new_guest, register_body

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "dashboard-test-" + "y" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MONITOR = "/admin/load-monitor"
MONITORING_ROUTES = {"/healthz", "/readyz", "/metrics", "/api/admin/metrics", MONITOR}
SQL = load_queries(TESTS / "metrics_queries.sql")
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(
        pg_server,
        template_db,
        tmp_path_factory.mktemp("web_dashboard"),
        ADMIN_TOKEN=TOKEN,
        settings=UNLIMITED,
    ) as server:
        yield server
        assert TOKEN not in server.log_text(), "the admin token reached the log"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Load:
    """A background thread: phone checks from a few clients, and a queued registration every
    tenth round while register-v2 answers."""

    def __init__(self, web: LiveServer) -> None:
        self.web = web
        self.ips = [web.new_ip() for _ in range(4)]
        self.sent = 0
        self.jobs: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-load", daemon=True)

    def _run(self) -> None:
        clients = [self.web.client(ip=ip) for ip in self.ips]
        queue_ok = True
        try:
            round_ = 0
            while not self._stop.is_set():
                c = clients[round_ % len(clients)]
                r = c.post("/api/guest/verify-phone", json={"phone": "912 000 111"})
                if r.status_code != 200:
                    self.errors.append(f"verify-phone {r.status_code}")
                self.sent += 1
                if queue_ok and round_ % 10 == 0:
                    guest = new_guest()
                    self.web.remember(guest)
                    r = c.post("/api/guest/register-v2", json=register_body(self.web, guest))
                    if r.status_code == 200:
                        self.jobs.append(r.json()["jobId"])
                    else:  # the queue routes are not there: phone checks only
                        queue_ok = r.status_code not in (404, 405)
                        if queue_ok:
                            self.errors.append(f"register-v2 {r.status_code}")
                round_ += 1
                self._stop.wait(0.05)
        except Exception as exc:  # reported by stop()
            self.errors.append(repr(exc))
        finally:
            for c in clients:
                c.close()

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()
        assert not self.errors, self.errors


@pytest.fixture
def load(web: LiveServer) -> Iterator[Load]:
    running = Load(web).start()
    try:
        yield running
    finally:
        with contextlib.suppress(AssertionError):
            running.stop()


def api_metrics(web: LiveServer) -> dict[str, Any]:
    with web.client(headers=AUTH) as c:
        r = c.get("/api/admin/metrics")
    assert r.status_code == 200, r.text
    return r.json()


def logged_requests(web: LiveServer) -> int:
    """Requests the request log wrote, probes and monitoring routes left out (as metrics does)."""
    n = 0
    for line in web.log_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            n += record.get("event") == "request" and record.get("route") not in MONITORING_ROUTES
    return n


def shown(page: Page, key: str) -> float | None:
    """A card's figure as the page shows it (its raw value, next to the pt-PT text)."""
    raw = page.get_attribute(f"#m-{key}", "data-value")
    return None if raw in (None, "") else float(raw)


def generated_at(page: Page) -> int:
    return int(page.get_attribute("body", "data-generated-at") or 0)


def next_refresh(page: Page, after: int) -> int:
    page.wait_for_function(
        "n => Number(document.body.dataset.generatedAt || 0) > n", arg=after, timeout=WAIT_MS
    )
    return generated_at(page)


def test_dashboard_shows_live_figures_under_load(
    web: LiveServer, browser: Browser, load: Load, artifacts_dir: Path
) -> None:
    requests: list[str] = []
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 1100}, locale="pt-PT")
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(f"{web.base_url}{MONITOR}#token={TOKEN}")
        expect(page.locator("#monitor")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#login")).to_be_hidden()
        # the token left the address bar at once and lives in this tab's sessionStorage only
        assert "token" not in page.url and urlsplit(page.url).fragment == ""
        assert page.evaluate("sessionStorage.getItem('guestlist.adminToken')") == TOKEN
        expect(page.locator("#status")).to_have_attribute("data-state", "ok")
        expect(page.locator("h1")).to_contain_text("Monitor de carga")

        # the figures move with the load
        first = next_refresh(page, 0)
        total_1 = shown(page, "requestsTotal")
        assert total_1 is not None
        page.wait_for_function(
            "n => Number(document.getElementById('m-requestsTotal').dataset.value) > n",
            arg=total_1,
            timeout=WAIT_MS,
        )
        assert generated_at(page) > first
        assert (shown(page, "activeUsers") or 0) >= len(load.ips)

        # the charts draw measured points: requests/s and the queue's samples
        page.wait_for_function(
            "() => Number(document.getElementById('c-rps').dataset.max) > 0"
            " && Number(document.getElementById('c-queueDepth').dataset.points) > 0",
            timeout=WAIT_MS,
        )
        assert page.locator("#c-rps .series-line, #c-rps .series-dot").count() >= 1
        if load.jobs:
            page.wait_for_function(
                "() => Number(document.getElementById('c-jobsPerMin').dataset.max) > 0",
                timeout=WAIT_MS,
            )
            page.wait_for_function(
                "() => Number(document.getElementById('m-totalProcessed').dataset.value) > 0",
                timeout=WAIT_MS,
            )

        # quiet: stop the load, let the queue drain and the last bucket complete; then the
        # page's next reading and the API's agree
        load.stop()
        for _ in range(300):
            m = api_metrics(web)
            step = m["seriesStepSeconds"]
            in_series = round(sum(p["rps"] * step for p in m["series"] if p["rps"] is not None))
            if m["queueSize"] == 0 and m["activeJobs"] == 0 and in_series == m["requestsTotal"]:
                break
            page.wait_for_timeout(100)
        assert in_series == m["requestsTotal"]
        next_refresh(page, m["generatedAt"])
        api = api_metrics(web)
        for key in ("requestsTotal", "totalProcessed", "totalFailed", "queueSize", "activeUsers"):
            assert shown(page, key) == api[key], key
        # … and both equal what the request log wrote
        assert api["requestsTotal"] == logged_requests(web)
        page_rps_max = float(page.get_attribute("#c-rps", "data-max") or 0)
        assert page_rps_max == max(p["rps"] for p in api["series"] if p["rps"] is not None)

        # failed jobs push the error rate past 5%: the pt-PT alert appears
        figures = api_metrics(web)
        needed = math.ceil(0.1 * (figures["requestsLastMinute"] + figures["processingRate"])) + 5
        with psycopg.connect(web.db_url, autocommit=True) as conn:
            for _ in range(needed):
                conn.execute(
                    SQL["metrics_test_insert_job"],
                    {"status": "failed", "age": 2, "finished_ago": 1, "run_in": 0},
                )
        alert = page.locator("#alert-list li[data-alert=errorRate]")
        expect(alert).to_contain_text("Taxa de erro alta", timeout=WAIT_MS)
        expect(page.locator("#alerts")).to_be_visible()
        expect(page.locator(".metric[data-metric=errorRate]")).to_have_attribute(
            "data-alert", "true"
        )
        page.screenshot(path=str(artifacts_dir / "load-monitor.png"), full_page=True)
    finally:
        context.close()

    own = urlsplit(web.base_url).netloc
    hosts = {urlsplit(u).netloc for u in requests if not u.startswith("data:")}
    assert hosts == {own}, f"requests to other hosts: {hosts - {own}}"
    assert not any(TOKEN in u for u in requests), "the token went into a URL"
    assert not problems, problems  # CSP violations show up here too


def test_dashboard_asks_for_the_token_and_refuses_a_wrong_one(
    web: LiveServer, browser: Browser
) -> None:
    context = browser.new_context(locale="pt-PT")
    page = context.new_page()
    try:
        page.goto(f"{web.base_url}{MONITOR}")
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#monitor")).to_be_hidden()
        page.fill("#token", "errado")
        page.click("#login button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("Token inválido ou em falta.")
        assert page.evaluate("sessionStorage.getItem('guestlist.adminToken')") is None
        page.fill("#token", TOKEN)
        page.click("#login button[type=submit]")
        expect(page.locator("#monitor")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#m-requestsTotal")).not_to_have_text("—")
        page.click("#logout")
        expect(page.locator("#login")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('guestlist.adminToken')") is None
    finally:
        context.close()
