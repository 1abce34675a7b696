"""The guest page on an event with a minimum age (Debian's chromium driven by Playwright): an
account made without a birth date logs in, the page asks for the date once, records it and logs
in again to show the QR code; a date that makes the guest too young is refused in Portuguese.
Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser import test_guest_page as guest_page
from tests.browser.test_guest_page import (
    Visit,
    enter_phone,
    no_horizontal_scroll,
    qr_code_shown,
    screenshot,
)
from tests.support.server import register

browser = guest_page.browser
visit = guest_page.visit
web = guest_page.web


def open_min_age_page(visit: Visit, slug: str) -> Page:
    event_id = visit.web.sql(
        "web_test_create_event",
        {
            "organization_id": visit.web.demo["organizationId"],
            "title": "Noite +18",
            "slug": slug,
            "capacity": None,
            "closes_at": None,
        },
    )
    visit.web.sql("web_test_set_min_age", {"event_id": event_id, "min_age": 18})
    page = visit.page
    page.goto(f"{visit.web.base_url}/promotor/miguel/{slug}")
    expect(page.locator("#event-title")).to_have_text("Noite +18")
    return page


def log_in(page: Page, password: str) -> None:
    page.fill("#login-password", password)
    with page.expect_response(re.compile(r"/api/guest/login(-v2)?(\?.*)?$")):
        page.click("#form-login button[type=submit]")


def test_birth_date_asked_once_then_the_qr_code(visit: Visit, artifacts_dir: Path) -> None:
    guest = register(visit.web)  # on the demo event, without a birth date
    page = open_min_age_page(visit, "noite-mais-18")
    enter_phone(page, guest["phone"])
    expect(page.locator("#step-login")).to_be_visible()
    log_in(page, guest["password"])
    expect(page.locator("#login-birth")).to_be_visible()
    expect(page.locator("#login-birth-text")).to_contain_text("idade mínima")
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "birth-date-asked")
    page.fill("#login-password", guest["password"])
    page.fill("#login-birthDate", "1995-05-17")
    with page.expect_response("**/api/guest/birth-date") as given:
        page.click("#form-login button[type=submit]")
    assert given.value.status == 200
    qr_code_shown(page)
    screenshot(page, artifacts_dir, "birth-date-qr")


def test_too_young_is_refused(visit: Visit, artifacts_dir: Path) -> None:
    guest = register(visit.web)
    page = open_min_age_page(visit, "noite-mais-18-b")
    enter_phone(page, guest["phone"])
    log_in(page, guest["password"])
    expect(page.locator("#login-birth")).to_be_visible()
    young = date(date.today().year - 15, 1, 1).isoformat()
    page.fill("#login-password", guest["password"])
    page.fill("#login-birthDate", young)
    with page.expect_response(re.compile(r"/api/guest/login(-v2)?(\?.*)?$")):
        page.click("#form-login button[type=submit]")
    expect(page.locator("#alert")).to_have_text(
        "Este evento tem idade mínima e ainda não a tens. Fala com o teu promotor se for um erro."
    )
    expect(page.locator("#login-birth")).to_be_hidden()
    screenshot(page, artifacts_dir, "birth-date-too-young")
