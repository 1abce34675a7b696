"""The guest page in a real browser (Debian's chromium driven by Playwright) against app.py:
register → QR, login → the same QR, a wrong password, a returning device, a phone-sized screen
without horizontal scroll, and not one request to any other host. Screenshots of each final step
go to tests/artifacts/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from guestlist.web.inputs import MSG_PHONE
from tests.support.database import PgServer
from tests.support.server import PASSWORD, LiveServer, live_server, new_guest, register

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE = "/promotor/miguel/festa-verao"
PHONE_SIZE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_browser")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Visit:
    """A browser context (one device) with every request it makes recorded."""

    def __init__(self, browser: Browser, web: LiveServer) -> None:
        self.web = web
        self.context: BrowserContext = browser.new_context(
            viewport=PHONE_SIZE, locale="pt-PT", timezone_id="Europe/Lisbon"
        )
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page: Page = self.new_page()

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("request", lambda request: self.requests.append(request.url))
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        return page

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc for url in self.requests if not url.startswith("data:")}

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Browser, web: LiveServer) -> Iterator[Visit]:
    v = Visit(browser, web)
    yield v
    own = urlsplit(web.base_url).netloc
    assert v.hosts() <= {own}, f"requests to other hosts: {v.hosts() - {own}}"
    csp_errors = [e for e in v.console_errors if "Content Security Policy" in e]
    assert not csp_errors, csp_errors
    v.close()


def screenshot(page: Page, artifacts_dir: Path, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"browser-{name}.png"), full_page=True)


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_SIZE["width"], f"page is {width}px wide"


def open_page(visit: Visit) -> Page:
    page = visit.page
    page.goto(visit.web.base_url + PAGE)
    expect(page.locator("#event-title")).to_have_text("Festa de Verão")
    return page


def enter_phone(page: Page, phone: str) -> None:
    expect(page.locator("#step-phone")).to_be_visible()
    page.fill("#phone", phone)
    page.click("#form-phone button[type=submit]")


def fill_registration(page: Page, guest: dict[str, str]) -> None:
    expect(page.locator("#step-register")).to_be_visible()
    page.fill("#reg-firstName", guest["firstName"])
    page.fill("#reg-lastName", guest["lastName"])
    page.fill("#reg-email", guest["email"])
    page.fill("#reg-birthDate", "1996-03-21")
    page.select_option("#reg-gender", "F")
    page.fill("#reg-city", "Lisboa")
    page.fill("#reg-password", guest["password"])
    page.fill("#reg-confirmPassword", guest["password"])


def qr_code_shown(page: Page) -> str:
    expect(page.locator("#step-qr")).to_be_visible()
    image = page.locator("#qr-image")
    expect(image).to_have_attribute("src", re.compile(r"^/api/guest/qr/[0-9a-f]{32}\.svg$"))
    # a function, not a bare expression: Playwright evaluates expressions with new Function,
    # which the page's CSP (script-src 'self', no unsafe-eval) rightly refuses
    page.wait_for_function("() => document.getElementById('qr-image').complete")
    assert page.evaluate("document.getElementById('qr-image').naturalWidth") > 0
    src = image.get_attribute("src") or ""
    expect(page.locator("#qr-download")).to_have_text("Guardar código QR")  # a PNG ticket
    return src.removeprefix("/api/guest/qr/").removesuffix(".svg")


# --- the journeys ----------------------------------------------------------------------------


def test_page_shows_the_event_in_portuguese(visit: Visit, artifacts_dir: Path) -> None:
    page = open_page(visit)
    expect(page.locator("#event-location")).to_have_text("Lx Factory, Lisboa")
    expect(page.locator("#event-org")).to_have_text("Noites de Lisboa")
    date_text = page.locator("#event-date").inner_text()
    assert re.search(r"\d{1,2} de [a-zç]+ de \d{4}", date_text), date_text
    assert "23:00" in date_text  # 23:00 in Lisbon, whatever the machine's zone
    expect(page.locator("#step-phone h2")).to_have_text("Número de telemóvel")
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "phone-step")


def test_new_guest_registers_and_sees_a_qr_code(visit: Visit, artifacts_dir: Path) -> None:
    guest = new_guest(firstName="Beatriz")
    visit.web.remember(guest)
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    fill_registration(page, guest)
    no_horizontal_scroll(page)
    page.click("#form-register button[type=submit]")
    code = qr_code_shown(page)
    expect(page.locator("#qr-greeting")).to_contain_text("Beatriz")
    expect(page.locator("#qr-event")).to_have_text("Festa de Verão")
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "register-qr")

    # the same device comes back later: its QR code, without logging in
    again = visit.new_page()
    again.goto(visit.web.base_url + PAGE)
    assert qr_code_shown(again) == code
    expect(again.locator("#step-phone")).to_be_hidden()
    screenshot(again, artifacts_dir, "returning-device-qr")


def test_existing_guest_logs_in_and_gets_the_same_qr_code(
    visit: Visit, artifacts_dir: Path
) -> None:
    guest = register(visit.web)  # registered earlier, from another device
    page = open_page(visit)
    enter_phone(page, guest["e164"])
    # no name before the password; the QR step greets by name
    expect(page.locator("#login-greeting")).to_have_text("Olá de novo!")
    page.fill("#login-password", PASSWORD)
    page.click("#form-login button[type=submit]")
    assert qr_code_shown(page) == guest["qr_code"]
    expect(page.locator("#qr-greeting")).to_contain_text("Ana")
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "login-qr")


def test_not_you_logs_the_device_out(visit: Visit) -> None:
    guest = register(visit.web)
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    page.fill("#login-password", PASSWORD)
    page.click("#form-login button[type=submit]")
    assert qr_code_shown(page) == guest["qr_code"]
    with page.expect_response("**/api/guest/logout") as answer:
        page.click("#step-qr [data-action=restart]")
    assert answer.value.status == 200
    expect(page.locator("#step-phone")).to_be_visible()
    # the next person on this device does not get the last one's QR code back
    again = visit.new_page()
    again.goto(visit.web.base_url + PAGE)
    expect(again.locator("#step-phone")).to_be_visible()
    expect(again.locator("#step-qr")).to_be_hidden()


def test_wrong_password_shows_the_portuguese_error(visit: Visit, artifacts_dir: Path) -> None:
    guest = register(visit.web)
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    page.fill("#login-password", "Errada123")
    page.click("#form-login button[type=submit]")
    error = page.locator("#login-password-error")
    expect(error).to_have_text("Palavra-passe incorreta. Tenta novamente.")
    expect(page.locator("#login-password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#step-qr")).to_be_hidden()
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "wrong-password")


def test_registration_rules_are_checked_before_sending(visit: Visit, artifacts_dir: Path) -> None:
    guest = new_guest()
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    fill_registration(page, guest)
    page.fill("#reg-firstName", "   ")
    page.fill("#reg-email", "nao-e-email")
    page.fill("#reg-password", "fraca")
    page.fill("#reg-confirmPassword", "outra")
    page.fill("#reg-birthDate", "2999-01-01")
    sent_before = len(visit.requests)
    page.click("#form-register button[type=submit]")
    expect(page.locator("#reg-firstName-error")).to_have_text("Indica o teu nome.")
    expect(page.locator("#reg-email-error")).to_have_text(
        "Indica um email válido, como nome@exemplo.pt."
    )
    expect(page.locator("#reg-password-error")).to_contain_text("pelo menos 8 caracteres")
    expect(page.locator("#reg-confirmPassword-error")).to_have_text(
        "As palavras-passe não coincidem. Escreve a mesma nas duas caixas."
    )
    expect(page.locator("#reg-birthDate-error")).to_have_text(
        "A data de nascimento tem de ser anterior a hoje. Corrige-a ou deixa-a em branco."
    )
    assert len(visit.requests) == sent_before  # nothing was sent
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "register-errors")


def test_server_field_errors_are_shown_on_their_field(visit: Visit) -> None:
    guest = new_guest()
    visit.web.remember(guest)
    page = open_page(visit)

    # the real server answers; only the body on its way is changed, to one the page would
    # never send (a last name over 80 characters), so the error must come from the server
    def tamper(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        body["lastName"] = "x" * 81
        route.continue_(post_data=json.dumps(body))

    page.route(re.compile(r"/api/guest/register(-v2)?(\?.*)?$"), tamper)  # sync or queued
    enter_phone(page, guest["phone"])
    fill_registration(page, guest)
    page.click("#form-register button[type=submit]")
    expect(page.locator("#reg-lastName-error")).to_have_text(
        "Indica o teu apelido, com 80 caracteres no máximo."
    )
    expect(page.locator("#step-register")).to_be_visible()


def test_invalid_phone_is_refused_on_the_phone_step(visit: Visit) -> None:
    page = open_page(visit)
    enter_phone(page, "12345")
    expect(page.locator("#phone-error")).to_have_text(MSG_PHONE)
    sent_before = len(visit.requests)
    enter_phone(page, "+351 935 886 3100")  # looks fine here, the server says no
    expect(page.locator("#phone-error")).to_have_text(MSG_PHONE)
    assert any(u.endswith("/api/guest/verify-phone") for u in visit.requests[sent_before:])


def test_unknown_link_is_a_portuguese_404(visit: Visit, artifacts_dir: Path) -> None:
    page = visit.page
    response = page.goto(visit.web.base_url + "/promotor/ninguem/nada")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Página não encontrada")
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "not-found")


def test_closed_list_says_so(visit: Visit, artifacts_dir: Path) -> None:
    web = visit.web
    slug = "fechada-" + new_guest()["e164"][-6:]
    web.sql(
        "web_test_close_event_now",
        {
            "organization_id": web.demo["organizationId"],
            "title": "Festa Fechada",
            "slug": slug,
            "capacity": None,
        },
    )
    page = visit.page
    page.goto(f"{web.base_url}/promotor/miguel/{slug}")
    expect(page.locator("#event-title")).to_have_text("Festa Fechada")
    expect(page.locator("#step-closed")).to_be_visible()
    expect(page.locator("#step-phone")).to_be_hidden()
    screenshot(page, artifacts_dir, "closed-list")
