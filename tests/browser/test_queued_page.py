"""The guest page in a real browser through the queued routes, and its backpressure: a 503 from
the queue is waited out for its Retry-After (a countdown on the page, the form kept) and the job
submitted to the queue again, never to the synchronous route; a connection cut is retried."""

from __future__ import annotations

from pathlib import Path

from tests.support.database import PgServer
from tests.support.server import live_server, new_guest

# --- the page: queued path, 503 backpressure ------------------------------------------------------


CHROMIUM = Path("/usr/bin/chromium")
PAGE = "/promotor/miguel/festa-verao"


def test_page_goes_through_the_queue_and_waits_out_a_503(
    pg_server: PgServer, template_db: str, tmp_path: Path
) -> None:
    assert CHROMIUM.exists(), "Debian chromium is needed: apt-get install chromium"
    from playwright.sync_api import Page, Route, expect, sync_playwright

    guest = new_guest(firstName="Inês")
    with (
        live_server(pg_server, template_db, tmp_path) as server,  # in-process workers
        sync_playwright() as p,
    ):
        server.remember(guest)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])

        def log_in(page: Page) -> None:
            page.goto(server.base_url + PAGE)
            page.fill("#phone", guest["phone"])
            page.click("#form-phone button[type=submit]")
            page.fill("#login-password", guest["password"])
            page.click("#form-login button[type=submit]")
            expect(page.locator("#step-qr")).to_be_visible()

        try:
            # register, the submit's answer NOT held (as from a server without ?wait): the
            # page long-polls the job, then shows the QR code
            context = browser.new_context(locale="pt-PT")
            page = context.new_page()
            urls: list[str] = []
            page.on("request", lambda request: urls.append(request.url))
            page.route(
                "**/api/guest/register-v2?wait=25",
                lambda route: route.continue_(url=route.request.url.replace("wait=25", "wait=0")),
            )
            page.goto(server.base_url + PAGE)
            page.fill("#phone", guest["phone"])
            page.click("#form-phone button[type=submit]")
            expect(page.locator("#step-register")).to_be_visible()
            for field in ("firstName", "lastName", "email"):
                page.fill(f"#reg-{field}", guest[field])
            page.fill("#reg-password", guest["password"])
            page.fill("#reg-confirmPassword", guest["password"])
            page.click("#form-register button[type=submit]")
            expect(page.locator("#step-qr")).to_be_visible()
            expect(page.locator("#qr-greeting")).to_contain_text("Inês")
            paths = [u.removeprefix(server.base_url) for u in urls]
            assert "/api/guest/register-v2?wait=25" in paths
            assert any(u.startswith("/api/guest/status/") and "wait=25" in u for u in paths)
            assert "/api/guest/register" not in paths
            qr_code = page.locator("#qr-image").get_attribute("src")
            context.close()

            # login on another device: the held answer carries the guest pass, no long-poll
            context = browser.new_context(locale="pt-PT")
            page = context.new_page()
            urls.clear()
            page.on("request", lambda request: urls.append(request.url))
            log_in(page)
            assert page.locator("#qr-image").get_attribute("src") == qr_code
            paths = [u.removeprefix(server.base_url) for u in urls]
            assert "/api/guest/login-v2?wait=25" in paths
            assert not any(u.startswith("/api/guest/status/") for u in paths)
            assert "/api/guest/login" not in paths
            context.close()

            # login on a third device while the queue answers 503 once: the page counts the
            # Retry-After down, then submits to the queue again (not the synchronous route)
            context = browser.new_context(locale="pt-PT")
            page = context.new_page()
            urls.clear()
            page.on("request", lambda request: urls.append(request.url))
            refusals = {"left": 1}

            def queue_full_once(route: Route) -> None:
                if refusals["left"] <= 0:
                    route.continue_()
                    return
                refusals["left"] -= 1
                route.fulfill(
                    status=503,
                    headers={"Retry-After": "3"},
                    content_type="application/json",
                    body='{"success": false, "code": "queue_full", "error": "Cheio", '
                    '"retry_after": 3}',
                )

            page.route("**/api/guest/login-v2?*", queue_full_once)
            page.goto(server.base_url + PAGE)
            page.fill("#phone", guest["phone"])
            page.click("#form-phone button[type=submit]")
            page.fill("#login-password", guest["password"])
            page.click("#form-login button[type=submit]")
            expect(page.locator("#processing-text")).to_have_text(
                "Muita gente a entrar. Tentamos de novo em 3 s…"
            )
            expect(page.locator("#processing-text")).to_contain_text("Tentamos de novo em 2 s")
            expect(page.locator("#step-qr")).to_be_visible()
            assert page.locator("#qr-image").get_attribute("src") == qr_code
            paths = [u.removeprefix(server.base_url) for u in urls]
            assert paths.count("/api/guest/login-v2?wait=25") == 2
            assert "/api/guest/login" not in paths
            context.close()

            # a connection cut mid-request (fetch fails): retried, the typed password kept
            context = browser.new_context(locale="pt-PT")
            page = context.new_page()
            urls.clear()
            page.on("request", lambda request: urls.append(request.url))
            cuts = {"left": 1}

            def cut_once(route: Route) -> None:
                if cuts["left"] <= 0:
                    route.continue_()
                    return
                cuts["left"] -= 1
                route.abort("connectionreset")

            page.route("**/api/guest/login-v2?*", cut_once)
            page.goto(server.base_url + PAGE)
            page.fill("#phone", guest["phone"])
            page.click("#form-phone button[type=submit]")
            page.fill("#login-password", guest["password"])
            page.click("#form-login button[type=submit]")
            expect(page.locator("#processing-text")).to_contain_text(
                "A ligação falhou; a tentar de novo"
            )
            expect(page.locator("#step-qr")).to_be_visible()
            paths = [u.removeprefix(server.base_url) for u in urls]
            assert paths.count("/api/guest/login-v2?wait=25") == 2
            assert "/api/guest/login" not in paths
            context.close()
        finally:
            browser.close()
