"""The guest page off the happy path, in a real browser (Debian's chromium, Playwright): a first
visit logs nothing in the console, the number in use is shown on the next step and can be
changed without losing what was typed, a landline and an empty phone get their own messages,
a 100-character name is refused with its limit, and a link typed with capitals opens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from guestlist.web.inputs import MSG_NOT_MOBILE, MSG_PHONE_REQUIRED
from tests.browser.test_guest_page import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGE,
    Visit,
    enter_phone,
    fill_registration,
    open_page,
    qr_code_shown,
)
from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, new_guest, register


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_edges_b")) as server:
        yield server


@pytest.fixture
def visit(browser: Browser, web: LiveServer) -> Iterator[Visit]:
    v = Visit(browser, web)
    yield v
    v.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_a_first_visit_logs_no_console_error(visit: Visit) -> None:
    with visit.page.expect_response("**/api/guest/session/*") as answer:
        page = open_page(visit)
    assert answer.value.status == 200 and answer.value.json() == {"guest": None, "session": False}
    expect(page.locator("#step-phone")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert visit.console_errors == []
    assert not any("/api/guest/me/" in u for u in visit.requests)


def test_the_number_in_use_is_shown_and_can_be_changed(visit: Visit) -> None:
    guest = new_guest()
    page = open_page(visit)
    enter_phone(page, guest["phone"].replace(" ", ""))
    fill_registration(page, guest)
    expect(page.locator("#step-register [data-phone-in-use]")).to_have_text(guest["phone"])
    page.click("#step-register [data-action=change-phone]")
    expect(page.locator("#step-phone")).to_be_visible()
    expect(page.locator("#phone")).to_have_value(guest["phone"].replace(" ", ""))
    other = new_guest()
    enter_phone(page, other["phone"])
    expect(page.locator("#step-register [data-phone-in-use]")).to_have_text(other["phone"])
    # what was typed on the register step is still there
    expect(page.locator("#reg-firstName")).to_have_value(guest["firstName"])
    expect(page.locator("#reg-email")).to_have_value(guest["email"])


def test_landline_and_empty_phone_get_their_own_messages(visit: Visit) -> None:
    page = open_page(visit)
    enter_phone(page, "")
    expect(page.locator("#phone-error")).to_have_text(MSG_PHONE_REQUIRED)
    enter_phone(page, "21 123 4567")  # a Lisbon landline: the server says what is wrong
    expect(page.locator("#phone-error")).to_have_text(MSG_NOT_MOBILE)
    expect(page.locator("#phone")).to_have_attribute("placeholder", "935 886 310")


def test_a_100_character_name_is_refused_with_its_limit(visit: Visit) -> None:
    guest = new_guest()
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    fill_registration(page, guest)
    page.fill("#reg-firstName", "A" * 100)
    expect(page.locator("#reg-firstName")).to_have_value("A" * 100)  # not cut
    page.fill("#reg-birthDate", "1850-06-01")
    page.click("#form-register button[type=submit]")
    expect(page.locator("#reg-firstName-error")).to_contain_text("no máximo 80 caracteres")
    expect(page.locator("#reg-birthDate-error")).to_contain_text(
        "Indica uma data de nascimento real"
    )
    expect(page.locator("#step-register")).to_be_visible()


def test_a_link_with_capitals_opens_the_page(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.web.base_url + PAGE.replace("miguel", "Miguel").replace("festa", "FESTA"))
    expect(page.locator("#event-title")).to_have_text("Festa de Verão")
    expect(page.locator("#step-phone")).to_be_visible()


def test_the_login_step_shows_the_number_in_use(visit: Visit) -> None:
    guest = register(visit.web)
    page = open_page(visit)
    enter_phone(page, guest["phone"].replace(" ", ""))  # typed without spaces
    expect(page.locator("#step-login")).to_be_visible()
    expect(page.locator("#step-login [data-phone-in-use]")).to_have_text(guest["phone"])
    page.click("#step-login [data-action=change-phone]")
    expect(page.locator("#phone")).to_have_value(guest["phone"].replace(" ", ""))


def test_a_whole_visit_logs_no_console_error(visit: Visit) -> None:
    # a new guest from the first visit to the ticket, a reload, the signing out: nothing in the
    # console (a failed request, a refused script, the worker or the manifest's icons)
    guest = new_guest()
    visit.web.remember(guest)
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    fill_registration(page, guest)
    page.click("#form-register button[type=submit]")
    code = qr_code_shown(page)
    expect(page.locator("#qr-offline")).to_contain_text("guardado neste dispositivo")
    with page.expect_download():
        page.click("#qr-download")
    page.reload()
    assert qr_code_shown(page) == code
    page.click("#step-qr [data-action=restart]")
    expect(page.locator("#step-phone")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert visit.console_errors == []
