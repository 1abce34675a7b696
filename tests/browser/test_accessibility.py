"""WCAG 2.1 AA in a real browser (Debian's chromium, Playwright): axe-core, from npm (package.json,
installed into node_modules/ by `make install-test`), is injected into every step of the guest
page, the message page, the load monitor and the door page's screens, and must find no serious or
critical violation (contrast included). axe's source is injected as a script, which the pages'
CSP (script-src 'self') rightly refuses: these contexts bypass the CSP, the only thing that
differs from a guest's visit."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from tests.support.database import PgServer
from tests.support.server import PASSWORD, LiveServer, live_server, new_guest, register

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
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
TOKEN = "a11y-test-" + "z" * 30
# WCAG 2.0 and 2.1, levels A and AA
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    # not a skip: without axe-core these pages would go unchecked
    assert AXE.exists(), "axe-core not installed: make install-test (npm ci)"
    with live_server(
        pg_server, template_db, tmp_path_factory.mktemp("web_a11y"), ADMIN_TOKEN=TOKEN
    ) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport=PHONE_SIZE, locale="pt-PT", timezone_id="Europe/Lisbon", bypass_csp=True
    )
    yield ctx
    ctx.close()


def serious_violations(page: Page, step: str) -> list[str]:
    """axe's serious and critical violations of WCAG 2.1 A/AA on what the page shows now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    found = []
    for v in result["violations"]:
        if v["impact"] in ("serious", "critical"):
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]
            found.append(f"{step}: {v['id']} ({v['impact']}) on {targets}")
    return found


def test_every_step_of_the_guest_page_passes_axe(context: BrowserContext, web: LiveServer) -> None:
    page = context.new_page()
    found: list[str] = []
    page.goto(web.base_url + PAGE)
    expect(page.locator("#step-phone")).to_be_visible()
    found += serious_violations(page, "phone")

    page.click("#form-phone button[type=submit]")  # empty: the field error
    expect(page.locator("#phone-error")).to_be_visible()
    found += serious_violations(page, "phone with an error")

    page.click("[data-action=privacy]")
    expect(page.locator("#privacy-notice")).to_have_attribute("open", "")
    found += serious_violations(page, "privacy notice")

    # a new guest: register (its errors first), held on the processing step, then the QR
    guest = new_guest()
    web.remember(guest)
    page.fill("#phone", guest["phone"])
    page.click("#form-phone button[type=submit]")
    expect(page.locator("#step-register")).to_be_visible()
    found += serious_violations(page, "register")
    page.click("#form-register button[type=submit]")
    expect(page.locator("#reg-firstName-error")).to_be_visible()
    found += serious_violations(page, "register with errors")

    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(re.compile(r"/api/guest/register(-v2)?(\?.*)?$"), hold)
    page.fill("#reg-firstName", guest["firstName"])
    page.fill("#reg-lastName", guest["lastName"])
    page.fill("#reg-email", guest["email"])
    page.fill("#reg-password", guest["password"])
    page.fill("#reg-confirmPassword", guest["password"])
    page.click("#form-register button[type=submit]")
    expect(page.locator("#step-processing")).to_be_visible()
    found += serious_violations(page, "processing")
    for _ in range(200):  # the held request reaches the handler while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    for route in held:
        route.continue_()
    page.unroute(re.compile(r"/api/guest/register(-v2)?(\?.*)?$"))
    expect(page.locator("#step-qr")).to_be_visible()
    found += serious_violations(page, "qr")
    page.click("#my-data summary")
    found += serious_violations(page, "qr with my data open")

    # an existing guest on another device: the login step, and its wrong-password error
    other = register(web)
    page2 = context.new_page()
    page2.goto(web.base_url + PAGE)
    context.clear_cookies()
    page2.reload()
    page2.fill("#phone", other["phone"])
    page2.click("#form-phone button[type=submit]")
    expect(page2.locator("#step-login")).to_be_visible()
    found += serious_violations(page2, "login")
    page2.fill("#login-password", PASSWORD + "x")
    page2.click("#form-login button[type=submit]")
    expect(page2.locator("#login-password-error")).to_be_visible()
    found += serious_violations(page2, "login with an error")
    assert not found, "\n".join(found)


def test_the_message_page_passes_axe(context: BrowserContext, web: LiveServer) -> None:
    page = context.new_page()
    page.goto(web.base_url + "/promotor/ninguem/nada")
    expect(page.locator("h1")).to_have_text("Página não encontrada")
    assert not serious_violations(page, "404")


def test_the_dashboard_passes_axe(context: BrowserContext, web: LiveServer) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(web.base_url + "/admin/load-monitor")
    expect(page.locator("#login")).to_be_visible()
    found = serious_violations(page, "dashboard login")
    page.fill("#token", "errado")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_be_visible()
    found += serious_violations(page, "dashboard login error")
    page.fill("#token", TOKEN)
    page.click("#login button[type=submit]")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#monitor")).to_be_visible()
    page.wait_for_function("() => document.getElementById('status').dataset.state !== 'idle'")
    found += serious_violations(page, "dashboard")
    assert not found, "\n".join(found)


def answer_with(status: int, body: dict[str, Any]) -> Callable[[Route], None]:
    """A route handler answering `status` and `body` instead of the server."""

    def answer(route: Route) -> None:
        route.fulfill(status=status, json=body)

    return answer


def test_the_other_states_of_the_guest_page_pass_axe(
    context: BrowserContext, web: LiveServer
) -> None:
    """The login step's warnings (the last try, the lock counting down), the password reset's
    two steps, a sign-in over another guest's session (the one-guest notice) and an erased
    account: each checked as a guest sees it."""
    page = context.new_page()
    found: list[str] = []
    other = register(web)
    page.goto(web.base_url + PAGE)
    page.fill("#phone", other["phone"])
    page.click("#form-phone button[type=submit]")
    expect(page.locator("#step-login")).to_be_visible()

    # the server's answers for the fourth and the sixth wrong try, as the page gets them
    login = re.compile(r"/api/guest/login(-v2)?(\?.*)?$")
    answers = [
        (401, {"success": False, "code": "invalid_credentials", "error": "x",
               "attempts_left": 1, "lock_minutes": 15}),
        (429, {"success": False, "code": "account_locked", "error": "x", "retry_after": 840}),
    ]  # fmt: skip
    for status, body in answers:
        page.route(login, answer_with(status, body))
        page.fill("#login-password", PASSWORD + "x")
        page.click("#form-login button[type=submit]")
        expect(page.locator("#login-warning")).to_be_visible()
        found += serious_violations(page, f"login warning ({body['code']})")
        page.unroute(login)
    expect(page.locator("#login-warning-wait")).to_contain_text("daqui a 1")

    page.click("#forgot-password")
    expect(page.locator("#step-reset-sent")).to_be_visible()
    found += serious_violations(page, "reset mail sent")

    page.goto(web.base_url + PAGE + "#redefinir=" + "ab" * 32)
    expect(page.locator("#step-reset")).to_be_visible()
    found += serious_violations(page, "new password")
    page.fill("#reset-password", "fraca")
    page.click("#form-reset button[type=submit]")
    expect(page.locator("#reset-password-error")).to_be_visible()
    found += serious_violations(page, "new password with an error")

    # a guest with a pass on this device; a second one is told the device holds one guest
    guest = register(web)
    page.goto(web.base_url + PAGE)
    page.fill("#phone", guest["phone"])
    page.click("#form-phone button[type=submit]")
    page.fill("#login-password", PASSWORD)
    page.click("#form-login button[type=submit]")
    expect(page.locator("#step-qr")).to_be_visible()
    expect(page.locator("#qr-offline")).to_be_visible()
    found += serious_violations(page, "qr kept offline")
    page.evaluate("() => history.back()")
    expect(page.locator("#device-holder")).to_be_visible()
    found += serious_violations(page, "one guest per device")
    page.evaluate("() => history.forward()")
    expect(page.locator("#step-qr")).to_be_visible()

    page.click("#my-data summary")
    page.check("#erase-confirm")
    page.click("#form-erase button[type=submit]")
    expect(page.locator("#step-erased")).to_be_visible()
    found += serious_violations(page, "erased")
    assert not found, "\n".join(found)


def test_the_door_page_passes_axe(context: BrowserContext, web: LiveServer) -> None:
    """The door page's screens: the scanner (no camera in this browser: its message shows), a
    search with its result, a full-screen answer (the page's clock held, so it stays), the undo,
    and a revoked link's refusal."""
    guest = register(web)
    link = web.sql("web_test_door_link", {"event_id": web.demo["eventId"], "label": "Porta 1"})
    page = context.new_page()
    page.clock.install()
    page.goto(f"{web.base_url}/porta/{link['token']}")
    expect(page.locator("#event-title")).to_have_text("Festa de Verão")
    expect(page.locator("#camera-msg")).not_to_have_text("A ligar a câmara…")
    found = serious_violations(page, "door")

    page.fill("#search", guest["lastName"])
    page.press("#search", "Enter")
    row = page.locator("#search-results li", has_text=guest["lastName"])
    expect(row).to_have_count(1)
    found += serious_violations(page, "door search")
    row.get_by_role("button").click()
    expect(page.locator("#answer")).to_have_attribute("data-result", "admitted")
    found += serious_violations(page, "door admitted")
    page.clock.run_for(2000)
    expect(page.locator("#answer")).to_be_hidden()
    expect(page.locator("#undo")).to_be_visible()
    found += serious_violations(page, "door with undo")

    web.sql("web_test_door_revoke", {"door_id": link["doorId"]})
    page.reload()
    expect(page.locator("#refused")).to_be_visible()
    found += serious_violations(page, "door refused")
    assert not found, "\n".join(found)


# --- the console and the promoter page ---------------------------------------------------------


def test_the_console_and_the_promoter_page_pass_axe(
    context: BrowserContext, web: LiveServer
) -> None:
    tag = re.sub(r"[^0-9]", "", str(id(context)))[-6:]
    made = web.sql(
        "web_test_create_organization",
        {"name": "Org A11y", "slug": f"a11y-{tag}", "owner_email": f"dona.{tag}@a11y.pt"},
    )
    page = context.new_page()
    page.goto(web.base_url + "/organizador")
    expect(page.locator("#login-form")).to_be_visible()
    found = serious_violations(page, "console login")
    page.fill("#login-email", "ninguem@a11y.pt")
    page.fill("#login-password", "Errada123")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#alert")).to_be_visible()
    found += serious_violations(page, "console login error")
    page.goto(web.base_url + "/promotor/painel")
    expect(page.locator("#login-form")).to_be_visible()
    found += serious_violations(page, "promoter login")
    page.goto(web.base_url + made["invitePath"])
    expect(page.locator("#invite-form")).to_be_visible()
    found += serious_violations(page, "console invite")
    page.fill("#invite-name", "Dona")
    page.fill("#invite-password", PASSWORD)
    page.click("#invite-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible()
    page.click("#new-event")
    found += serious_violations(page, "console event form")
    page.fill("#ev-title", "Noite")
    page.fill("#ev-slug", f"noite-{tag}")
    page.fill("#ev-start", "2030-06-01T23:00")
    page.click("#event-form button[type=submit]")
    expect(page.locator("#event-list li")).to_have_count(1)
    found += serious_violations(page, "console events")
    page.get_by_role("button", name="Abrir lista").click()
    expect(page.locator("#guest-total")).to_have_text("0 convidados")
    found += serious_violations(page, "console event list")
    page.click("nav.tabs button[data-view=promoters]")
    expect(page.locator("#promoter-add")).to_be_visible()
    found += serious_violations(page, "console promoters")
    page.click("nav.tabs button[data-view=members]")
    expect(page.locator("#member-rows tr")).to_have_count(1)
    found += serious_violations(page, "console members")
    # an owner on the promoter page: no promoter of theirs, said in words
    page.goto(web.base_url + "/promotor/painel")
    expect(page.locator("#no-events")).to_be_visible()
    found += serious_violations(page, "promoter page")
    assert not found, "\n".join(found)
