"""The guest page as an app on the guest's phone (Debian's chromium driven by Playwright): the
pass opens offline after it was shown once (service worker), the saved ticket is a phone-sized
PNG whose QR decodes to the guest's code, "Não és tu?" signs the device out and takes the kept
pass with it, a second guest on the device is told and replaces the first, and Back/Forward move
between the steps keeping what was typed. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.browser import test_guest_page as guest_page
from tests.browser.test_guest_page import (
    PAGE,
    Visit,
    enter_phone,
    fill_registration,
    open_page,
    qr_code_shown,
    screenshot,
)
from tests.support.server import PASSWORD, new_guest, register

# the guest page's fixtures: one live server and one browser for this module, a device per test
web = guest_page.web
browser = guest_page.browser
visit = guest_page.visit

TICKET_SIZE = (1080, 1920)


def log_in(page: Page, phone: str) -> str:
    enter_phone(page, phone)
    expect(page.locator("#step-login")).to_be_visible()
    page.fill("#login-password", PASSWORD)
    page.click("#form-login button[type=submit]")
    return qr_code_shown(page)


def kept_for_offline(page: Page) -> None:
    """The pass is kept and the service worker is active (it serves the next navigation)."""
    expect(page.locator("#qr-offline")).to_contain_text("guardado neste dispositivo")
    state = page.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
    assert state in ("activating", "activated")


def kept_pass(page: Page) -> dict[str, Any] | None:
    """This device's pass store for the demo event, if any."""
    kept: dict[str, Any] | None = page.evaluate(
        """async () => {
            if (!(await caches.has('guestlist-pass-v1'))) return null;
            const cache = await caches.open('guestlist-pass-v1');
            const id = JSON.parse(document.getElementById('page-data').textContent).event.id;
            const kept = await cache.match(`/guest-pass/${encodeURIComponent(id)}`);
            return kept ? await kept.json() : null;
        }"""
    )
    return kept


def kept_code(page: Page) -> str | None:
    """The QR code in this device's pass store for the demo event, if any."""
    kept = kept_pass(page)
    return None if kept is None else kept["qr_code"]


def record_drawn_text(page: Page) -> None:
    """From now on the page's canvas text calls are noted in window.drawnText (and still drawn):
    the ticket's words, which no OCR needs to read back."""
    page.evaluate(
        """() => {
            window.drawnText = [];
            const fill = CanvasRenderingContext2D.prototype.fillText;
            CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
                window.drawnText.push(String(text));
                return fill.call(this, text, ...rest);
            };
        }"""
    )


def drawn_text(page: Page) -> list[str]:
    texts: list[str] = page.evaluate("() => window.drawnText")
    return texts


def test_pass_opens_offline_after_it_was_shown(visit: Visit, artifacts_dir: Path) -> None:
    guest = register(visit.web)
    page = open_page(visit)
    code = log_in(page, guest["phone"])
    kept_for_offline(page)
    kept = kept_pass(page)
    assert kept is not None and kept["qr_code"] == code
    # the guest's own full name is kept for the ticket, though the login answered the first only
    assert (kept["first_name"], kept["last_name"]) == ("Ana", guest["lastName"])

    visit.context.set_offline(True)
    page.reload()
    assert qr_code_shown(page) == code
    # offline, the saved ticket still bears the full name, from the kept pass
    record_drawn_text(page)
    with page.expect_download():
        page.click("#qr-download")
    assert f"Ana {guest['lastName']}" in drawn_text(page)
    expect(page.locator("#qr-greeting")).to_contain_text("Ana")
    expect(page.locator("#qr-event")).to_have_text("Festa de Verão")
    expect(page.locator("#event-location")).to_have_text("Lx Factory, Lisboa")
    expect(page.locator("#qr-offline")).to_have_text(
        "Sem rede: este é o código guardado neste dispositivo."
    )
    screenshot(page, artifacts_dir, "offline-pass")

    # signing out needs the server: without signal the page says so and keeps the pass
    page.click("#step-qr [data-action=restart]")
    expect(page.locator("#alert")).to_contain_text("precisas de rede")
    expect(page.locator("#step-qr")).to_be_visible()
    assert kept_code(page) == code
    visit.context.set_offline(False)


def test_saved_ticket_is_a_png_with_the_guests_code(visit: Visit, artifacts_dir: Path) -> None:
    guest = register(visit.web)
    page = open_page(visit)
    code = log_in(page, guest["phone"])
    record_drawn_text(page)
    with page.expect_download() as download:
        page.click("#qr-download")
    # the ticket bears the guest's name (first and last), the event, its date and place
    drawn = drawn_text(page)
    assert f"Ana {guest['lastName']}" in drawn
    assert "Festa de Verão" in drawn
    assert "Lx Factory, Lisboa" in drawn
    assert "Mostra este código à entrada." in drawn
    assert download.value.suggested_filename == "convite-festa-de-verao.png"
    path = artifacts_dir / "browser-ticket.png"
    download.value.save_as(path)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == TICKET_SIZE  # a phone screen, portrait
        found = zxingcpp.read_barcodes(image.convert("L"))
    assert [r.text for r in found if r.format == zxingcpp.BarcodeFormat.QRCode] == [code]


def test_not_you_signs_out_and_forgets_the_kept_pass(visit: Visit, artifacts_dir: Path) -> None:
    guest = register(visit.web)
    page = open_page(visit)
    code = log_in(page, guest["phone"])
    kept_for_offline(page)
    with page.expect_response("**/api/guest/logout") as answer:
        page.click("#step-qr [data-action=restart]")
    assert answer.value.status == 200
    expect(page.locator("#step-phone")).to_be_visible()
    assert kept_code(page) is None

    page.reload()
    expect(page.locator("#step-phone")).to_be_visible()
    expect(page.locator("#step-qr")).to_be_hidden()
    expect(page.locator("#device-holder")).to_be_hidden()  # the device holds no one now

    # offline, the page itself still opens (service worker) but the old pass is gone
    visit.context.set_offline(True)
    page.reload()
    expect(page.locator("#step-phone")).to_be_visible()
    expect(page.locator("#step-qr")).to_be_hidden()
    assert code not in (page.locator("#qr-image").get_attribute("src") or "")
    expect(page.locator("#alert")).to_contain_text("Sem ligação")
    screenshot(page, artifacts_dir, "offline-after-sign-out")
    visit.context.set_offline(False)


def test_second_guest_is_told_and_replaces_the_first(visit: Visit, artifacts_dir: Path) -> None:
    first = register(visit.web)
    second = register(visit.web)
    page = open_page(visit)
    log_in(page, first["phone"])
    kept_for_offline(page)

    # Back from the pass: the phone step says the device already holds a guest
    page.go_back()
    expect(page.locator("#step-phone")).to_be_visible()
    expect(page.locator("#device-holder")).to_be_visible()
    expect(page.locator("#device-holder")).to_contain_text("um convidado de cada vez")
    screenshot(page, artifacts_dir, "second-guest-notice")

    with page.expect_response("**/api/guest/logout") as answer:
        code = log_in(page, second["phone"])
    assert answer.value.status == 200  # the first guest's session ended before the second's
    assert code == second["qr_code"]
    kept_for_offline(page)
    assert kept_code(page) == second["qr_code"]

    page.reload()
    assert qr_code_shown(page) == second["qr_code"]


def test_back_and_forward_move_between_steps_keeping_typed_data(visit: Visit) -> None:
    guest = new_guest(firstName="Inês")
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    fill_registration(page, guest)

    page.go_back()
    expect(page.locator("#step-phone")).to_be_visible()
    expect(page.locator("#phone")).to_have_value(guest["phone"])
    page.go_forward()
    expect(page.locator("#step-register")).to_be_visible()
    expect(page.locator("#reg-firstName")).to_have_value("Inês")
    expect(page.locator("#reg-email")).to_have_value(guest["email"])
    expect(page.locator("#reg-city")).to_have_value("Lisboa")
    expect(page.locator("#reg-password")).to_have_value(guest["password"])

    # Back, another number, Forward: the step Forward shows is the one the number led to
    existing = register(visit.web)
    page.go_back()
    enter_phone(page, existing["phone"])
    expect(page.locator("#step-login")).to_be_visible()
    page.fill("#login-password", "Meio-escrita1")
    page.go_back()
    expect(page.locator("#phone")).to_have_value(existing["phone"])
    page.go_forward()
    expect(page.locator("#step-login")).to_be_visible()
    expect(page.locator("#login-password")).to_have_value("Meio-escrita1")
    assert page.url.endswith(PAGE)  # the steps never left the page


def test_chromium_finds_the_page_installable(
    browser: Browser, visit: Visit, tmp_path: Path
) -> None:
    # Chromium never offers to install from an off-the-record context (Playwright's usual
    # one): this device is a profile on disk, as a phone's browser is
    phone = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=str(guest_page.CHROMIUM),
        args=guest_page.CHROMIUM_ARGS,
        viewport=guest_page.PHONE_SIZE,
        locale="pt-PT",
        timezone_id="Europe/Lisbon",
    )
    try:
        page = phone.pages[0] if phone.pages else phone.new_page()
        page.goto(visit.web.base_url + PAGE)
        guest = register(visit.web)
        log_in(page, guest["phone"])
        kept_for_offline(page)  # the manifest is linked and the worker controls the page
        manifest = page.evaluate(
            """async () => {
                const link = document.querySelector('link[rel="manifest"]');
                const answer = await fetch(link.href);
                return {status: answer.status, type: answer.headers.get('content-type'),
                        body: await answer.json()};
            }"""
        )
        assert (manifest["status"], manifest["type"]) == (200, "application/manifest+json")
        body = manifest["body"]
        assert {"id", "name", "short_name", "start_url", "scope", "display", "icons"} <= set(body)
        assert body["display"] == "standalone" and body["start_url"].startswith(body["scope"])

        # Chromium's own verdict, as its install prompt would decide it
        cdp = phone.new_cdp_session(page)
        parsed = cdp.send("Page.getAppManifest")
        assert parsed["errors"] == []
        assert parsed["url"].endswith("/promotor/miguel/festa-verao/manifest.webmanifest")
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        phone.close()
