"""The guest page gets over a lost answer by itself: a job that expired (a failover took its
password), a connection cut after the server did the work, a status long-poll cut or answered
job_expired — the page submits the same form to the queue again, the guest types nothing, and
gets the QR code. When every resubmit is lost too, the form is shown with what was typed and a
message that says what to do. Debian chromium through Playwright; a missing browser fails."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.database import PgServer
from tests.support.server import PASSWORD, LiveServer, live_server, new_guest

CHROMIUM = Path("/usr/bin/chromium")
PAGE = "/promotor/miguel/festa-verao"
SUBMIT = "**/api/guest/register-v2?*"
# guest.js: RESUBMITS, and the message once they are spent
RESUBMITS = 4
RETRIES_SPENT = (
    "Não conseguimos falar com o servidor. O que escreveste continua aqui: verifica a tua rede "
    "e carrega de novo no botão."
)
EXPIRED = {
    "success": False,
    "code": "job_expired",
    "error": "O teu pedido expirou antes de ser processado. Submete-o novamente.",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), "Debian chromium is needed: apt-get install chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def server(pg_server: PgServer, template_db: str, tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path) as live:  # in-process workers
        yield live


def fill_registration(page: Any, server: LiveServer, guest: dict[str, str]) -> None:
    """The guest opens the page and types the phone, then the whole registration form."""
    from playwright.sync_api import expect

    page.goto(server.base_url + PAGE)
    page.fill("#phone", guest["phone"])
    page.click("#form-phone button[type=submit]")
    expect(page.locator("#step-register")).to_be_visible()
    for field in ("firstName", "lastName", "email"):
        page.fill(f"#reg-{field}", guest[field])
    page.fill("#reg-password", guest["password"])
    page.fill("#reg-confirmPassword", guest["password"])


def registers_with(
    browser: Any, server: LiveServer, routes: dict[str, Callable[[Any], None]], **context: Any
) -> tuple[Any, list[str]]:
    """A new device (`context`: its options) registering a new guest while each handler of
    `routes` answers the requests to its pattern; the page after the submit and the paths it
    asked for."""
    guest = new_guest(firstName="Rita")
    server.remember(guest)
    context = browser.new_context(locale="pt-PT", **context)
    page = context.new_page()
    paths: list[str] = []
    page.on("request", lambda request: paths.append(request.url.removeprefix(server.base_url)))
    for pattern, handler in routes.items():
        page.route(pattern, handler)
    fill_registration(page, server, guest)
    page.click("#form-register button[type=submit]")
    return page, paths


def once(answer: Callable[[Any], None], times: int = 1) -> Callable[[Any], None]:
    """A route handler: `answer` for the first request (or `times` requests), the server for
    the rest."""
    left = {"n": times}

    def handler(route: Any) -> None:
        if left["n"] <= 0:
            route.continue_()
            return
        left["n"] -= 1
        answer(route)

    return handler


def shows_the_pass(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#step-qr")).to_be_visible(timeout=30000)
    expect(page.locator("#qr-greeting")).to_contain_text("Rita")
    assert re.search(r"/api/guest/qr/[^/]+\.svg$", page.locator("#qr-image").get_attribute("src"))


def test_a_submit_answered_job_expired_is_sent_again(browser: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    def expired(route: Any) -> None:
        # the held answer of a job whose password a failover took: failed, job_expired
        job = {"success": True, "jobId": "5b1c1f0e-0000-4000-8000-000000000001",
               "jobToken": "A" * 32, "status": "failed", "result": EXPIRED}  # fmt: skip
        route.fulfill(status=200, content_type="application/json", body=json.dumps(job))

    page, paths = registers_with(browser, server, {SUBMIT: once(expired)})
    expect(page.locator("#processing-text")).to_contain_text("A ligação falhou; a tentar de novo")
    shows_the_pass(page)
    assert paths.count("/api/guest/register-v2?wait=25") == 2
    assert "/api/guest/register" not in paths and "/api/guest/login-v2?wait=25" not in paths
    assert page.locator("#alert").is_hidden()
    page.context.close()


def test_a_cut_after_the_guest_was_registered_logs_in(browser: Any, server: LiveServer) -> None:
    def done_then_cut(route: Any) -> None:
        # the server registers the guest, then the connection drops before the answer
        response = route.fetch()
        assert response.status == 200 and response.json()["status"] == "completed"
        route.abort("connectionreset")

    before = server.sql("web_test_event_guest_count", {"event_id": server.demo["eventId"]})
    page, paths = registers_with(browser, server, {SUBMIT: once(done_then_cut)})
    shows_the_pass(page)
    # the resubmit found the phone registered (phone_exists): the same password logged in
    assert paths.count("/api/guest/register-v2?wait=25") == 2
    assert paths.count("/api/guest/login-v2?wait=25") == 1
    assert page.locator("#alert").is_hidden()
    after = server.sql("web_test_event_guest_count", {"event_id": server.demo["eventId"]})
    assert after == before + 1, "one guest added to the list, once"
    page.context.close()


def test_a_status_poll_answered_job_expired_is_sent_again(browser: Any, server: LiveServer) -> None:
    def not_held(route: Any) -> None:
        # the submit's answer not held: the page long-polls the job
        route.continue_(url=route.request.url.replace("wait=25", "wait=0"))

    def expired(route: Any) -> None:
        body = {"id": "x", "status": "failed", "result": EXPIRED, "error": EXPIRED["error"]}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page, paths = registers_with(
        browser, server, {SUBMIT: once(not_held), "**/api/guest/status/*": once(expired)}
    )
    shows_the_pass(page)
    # the resubmit joined the job, still pending, or found the guest registered and logged in
    assert paths.count("/api/guest/register-v2?wait=25") == 2
    assert "/api/guest/register" not in paths
    page.context.close()


def test_every_resubmit_lost_keeps_the_form_and_says_what_to_do(
    browser: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    page, paths = registers_with(
        browser, server, {SUBMIT: lambda route: route.abort("connectionreset")}
    )
    expect(page.locator("#alert")).to_have_text(RETRIES_SPENT, timeout=60000)
    expect(page.locator("#step-register")).to_be_visible()
    assert paths.count("/api/guest/register-v2?wait=25") == 1 + RESUBMITS
    assert "/api/guest/register" not in paths
    # what the guest typed is still there: one press sends it again
    assert page.locator("#reg-firstName").input_value() == "Rita"
    assert page.locator("#reg-password").input_value() != ""
    assert page.locator("#reg-confirmPassword").input_value() != ""
    stored = page.evaluate("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert PASSWORD not in stored, "the password is kept in memory only"
    page.unroute(SUBMIT)
    page.click("#form-register button[type=submit]")
    shows_the_pass(page)
    page.context.close()


def test_a_qr_image_the_server_could_not_answer_is_asked_again(
    browser: Any, server: LiveServer
) -> None:
    """The QR image is a GET the browser makes by itself: answered 503 twice (an instance
    restarting, the database failing over), the page asks again and the code is shown, not a
    broken image. (The service worker is blocked: this is the page's own retry.)"""
    from playwright.sync_api import expect

    def unavailable(route: Any) -> None:
        body = {"success": False, "code": "unavailable", "error": "Indisponível."}
        route.fulfill(status=503, headers={"Retry-After": "1"}, body=json.dumps(body))

    qr_paths = "**/api/guest/qr/*"
    page, paths = registers_with(
        browser, server, {qr_paths: once(unavailable, times=2)}, service_workers="block"
    )
    expect(page.locator("#step-qr")).to_be_visible(timeout=30000)
    page.wait_for_function(
        "() => { const i = document.getElementById('qr-image');"
        " return i.complete && i.naturalWidth > 0; }",
        timeout=20000,
    )
    image_paths = [p for p in paths if p.startswith("/api/guest/qr/")]
    assert len(image_paths) >= 3, image_paths
    assert page.locator("#alert").is_hidden()
    page.context.close()
