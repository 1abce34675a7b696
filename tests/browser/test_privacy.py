"""The privacy notice and "Os meus dados" in a real browser (test_browser.py's harness): the
notice is reachable from the phone step, before any data is typed, and names the organization and
its retention periods; on the QR step the guest downloads their data and erases their account."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_guest_page import (  # noqa: F401 - the fixtures are used by name
    Visit,
    browser,
    enter_phone,
    fill_registration,
    no_horizontal_scroll,
    open_page,
    qr_code_shown,
    screenshot,
    visit,
    web,
)
from tests.support.server import new_guest


def test_privacy_notice_is_linked_from_the_phone_step(
    visit: Visit,  # noqa: F811 - the fixture imported above
    artifacts_dir: Path,
) -> None:
    page = open_page(visit)
    expect(page.locator("#step-phone")).to_be_visible()
    notice = page.locator("#privacy-notice")
    expect(notice).not_to_have_attribute("open", "")
    page.locator("#step-phone").get_by_role("link", name="aviso de privacidade").click()
    expect(notice).to_have_attribute("open", "")
    expect(notice).to_contain_text("Noites de Lisboa é a responsável pelo tratamento")
    expect(notice).to_contain_text("ficam anónimas 12 meses depois do evento")
    expect(notice).to_contain_text("24 meses depois da tua última entrada")
    expect(notice).to_contain_text("Os meus dados")
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "privacy-notice")


def test_guest_downloads_then_erases_their_data(
    visit: Visit,  # noqa: F811 - the fixture imported above
    artifacts_dir: Path,
) -> None:
    guest = new_guest(firstName="Matilde")
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    fill_registration(page, guest)
    page.click("#form-register button[type=submit]")
    code = qr_code_shown(page)

    page.click("#my-data summary")
    with page.expect_download() as info:
        page.click("#data-download")
    download = info.value
    assert download.suggested_filename == "os-meus-dados.json"
    data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert data["account"]["phone"] == guest["e164"]
    assert [e["qrCode"] for e in data["guestEntries"]] == [code]

    page.click("#form-erase button[type=submit]")  # not confirmed yet
    expect(page.locator("#erase-confirm-error")).to_have_text(
        "Confirma que queres apagar a tua conta."
    )
    expect(page.locator("#step-qr")).to_be_visible()
    page.check("#erase-confirm")
    no_horizontal_scroll(page)
    page.click("#form-erase button[type=submit]")
    expect(page.locator("#step-erased")).to_be_visible()
    expect(page.locator("#step-erased h2")).to_have_text("Conta apagada")
    screenshot(page, artifacts_dir, "account-erased")

    # the device's cookie is gone: the page starts again from the phone
    again = visit.new_page()
    again.goto(visit.web.base_url + "/promotor/miguel/festa-verao")
    expect(again.locator("#step-phone")).to_be_visible()
    enter_phone(again, guest["phone"])
    expect(again.locator("#step-register")).to_be_visible()
