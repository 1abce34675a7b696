"""A forgotten password on the guest page (Debian's chromium driven by Playwright), with app.py
sending its mail to a real local SMTP server: "Esqueci-me da palavra-passe" → the mail → its link
opened in the page → a new password → login with it → the QR code; and the login step's warning
before the wrong password that would lock the device out, with the reset offered there.
Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_guest_page as guest_page
from tests.browser.test_guest_page import (
    PAGE,
    Visit,
    enter_phone,
    no_horizontal_scroll,
    open_page,
    qr_code_shown,
    screenshot,
)
from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, register
from tests.support.smtp import Mailbox, smtp_server

# one browser for this module, a device per test (the guest page's fixtures, this module's web)
browser = guest_page.browser
visit = guest_page.visit

PUBLIC_URL = "https://lista.example.pt"
MAIL_FROM = "Guestlist <noreply@example.pt>"
NEW_PASSWORD = "NovaSenha456"
WRONG = "Errada123"
LINK_RE = re.compile(r"(https?://\S+?)(/promotor/[a-z0-9-]+/[a-z0-9-]+)#redefinir=([0-9a-f]{64})")
LAST_TRY = "se a próxima palavra-passe também estiver errada, a conta fica bloqueada"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer,
    template_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: Mailbox,
) -> Iterator[LiveServer]:
    """app.py mailing through the local SMTP server. The per-phone delay (2, 4, 8 s after the
    third failure) is set apart, as pgtap/30-login.sql does, so that the per-client count the
    warning is about is reached without waiting on the clock."""
    with live_server(
        pg_server,
        template_db,
        tmp_path_factory.mktemp("web_reset_page"),
        {"login_phone_free_failures": "1000"},
        SMTP_URL=mailbox.url,
        MAIL_FROM=MAIL_FROM,
        PUBLIC_URL=PUBLIC_URL,
    ) as server:
        yield server
        log = server.log_text()
        for secret in server.pii | server.secrets:
            assert secret not in log, "a guest's data or a reset token reached the log"


def mailed_link(mailbox: Mailbox, to: str) -> tuple[str, str, str]:
    """(origin, page path, token) of the one reset mail to `to`."""
    [message] = mailbox.wait_for(to)
    assert message["From"] == MAIL_FROM
    assert message["Subject"] == "Definir uma nova palavra-passe"
    match = LINK_RE.search(message.get_content())
    assert match, message.get_content()
    return match.group(1), match.group(2), match.group(3)


def try_password(page: Page, password: str) -> None:
    """Submit the login step and wait for its answer (the queued route, held until the job
    ends)."""
    page.fill("#login-password", password)
    with page.expect_response(re.compile(r"/api/guest/login(-v2)?(\?.*)?$")):
        page.click("#form-login button[type=submit]")
    expect(page.locator("#step-login")).to_be_visible()


def test_forgotten_password_end_to_end(visit: Visit, mailbox: Mailbox, artifacts_dir: Path) -> None:
    web = visit.web
    guest = register(web)  # registered earlier, from another device
    web.pii.add(NEW_PASSWORD)
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    expect(page.locator("#step-login")).to_be_visible()
    screenshot(page, artifacts_dir, "reset-login-step")

    page.click("#forgot-password")
    expect(page.locator("#step-reset-sent")).to_be_visible()
    expect(page.locator("#reset-sent-text")).to_contain_text("Se este número tiver conta")
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "reset-mail-sent")

    origin, path, token = mailed_link(mailbox, guest["email"])
    web.secrets.add(token)
    assert (origin, path) == (PUBLIC_URL, PAGE)
    # the link as the guest's phone opens it: PUBLIC_URL is this test server's stand-in
    page.goto(f"{web.base_url}{path}#redefinir={token}")
    expect(page.locator("#step-reset")).to_be_visible()
    assert token not in page.url  # taken out of the address at once
    page.fill("#reset-password", NEW_PASSWORD)
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "reset-new-password")
    with page.expect_response("**/api/guest/password-reset/confirm") as answer:
        page.click("#form-reset button[type=submit]")
    assert answer.value.status == 200
    expect(page.locator("#step-phone")).to_be_visible()
    expect(page.locator("#alert")).to_be_visible()

    # the old password is refused, the new one opens the guest's place: the same QR code
    enter_phone(page, guest["phone"])
    try_password(page, guest["password"])
    expect(page.locator("#login-password-error")).to_have_text(
        "Palavra-passe incorreta. Tenta novamente."
    )
    page.fill("#login-password", NEW_PASSWORD)
    page.click("#form-login button[type=submit]")
    assert qr_code_shown(page) == guest["qr_code"]
    expect(page.locator("#qr-greeting")).to_contain_text("Ana")
    screenshot(page, artifacts_dir, "reset-login-qr")

    # the link was for one use
    again = visit.new_page()
    again.goto(f"{web.base_url}{path}#redefinir={token}")
    expect(again.locator("#step-reset")).to_be_visible()
    again.fill("#reset-password", "OutraSenha789")
    again.click("#form-reset button[type=submit]")
    expect(again.locator("#alert")).to_contain_text("Este link já não é válido")


def countdown_seconds(text: str) -> int:
    """The wait the lock's countdown shows ("… daqui a 14 min 05 s."), in seconds."""
    found = re.search(r"(\d+) min (\d\d) s", text)
    assert found is not None, text
    return int(found[1]) * 60 + int(found[2])


def test_the_last_try_is_announced_with_the_reset(
    visit: Visit, mailbox: Mailbox, artifacts_dir: Path
) -> None:
    web = visit.web
    guest = register(web)
    page = open_page(visit)
    enter_phone(page, guest["phone"])
    warning = page.locator("#login-warning")
    for _ in range(3):
        try_password(page, WRONG)
        expect(page.locator("#login-password-error")).to_have_text(
            "Palavra-passe incorreta. Tenta novamente."
        )
        expect(warning).to_be_hidden()

    # the fourth failure: one more locks this device out, for how long, and the reset is offered
    try_password(page, WRONG)
    expect(warning).to_be_visible()
    expect(page.locator("#login-warning-text")).to_contain_text(
        f"{LAST_TRY} neste dispositivo durante 15 minutos."
    )
    expect(page.locator("#login-warning-reset")).to_be_visible()
    no_horizontal_scroll(page)
    screenshot(page, artifacts_dir, "login-last-try-warning")

    # the fifth: locked for the setting's 15 minutes, counting down, the reset still offered
    try_password(page, WRONG)
    expect(page.locator("#login-warning-text")).to_contain_text(
        "a conta ficou bloqueada neste dispositivo durante 15 minutos"
    )
    expect(page.locator("#login-password-error")).to_have_text(
        "Palavra-passe incorreta. Lê o aviso abaixo."
    )
    wait = page.locator("#login-warning-wait")
    expect(wait).to_have_text(re.compile(r"^Podes tentar de novo daqui a 1[45] min \d\d s\.$"))

    # the right password now waits: the server's retry_after, counting down on the page's clock
    page.clock.install()
    try_password(page, guest["password"])
    expect(page.locator("#login-warning-text")).to_contain_text(
        "a conta está bloqueada neste dispositivo"
    )
    expect(wait).to_have_text(re.compile(r"^Podes tentar de novo daqui a 1[45] min \d\d s\.$"))
    screenshot(page, artifacts_dir, "login-locked-reset-offered")
    before = countdown_seconds(wait.inner_text())
    page.clock.run_for(61_000)
    # a minute of the page's clock (and whatever real time the test itself took)
    assert 60 <= before - countdown_seconds(wait.inner_text()) <= 70
    page.clock.run_for(16 * 60_000)
    expect(wait).to_have_text("Já podes tentar de novo: escreve a tua palavra-passe.")
    expect(page.locator("#login-warning-text")).to_have_text(
        "O bloqueio terminou neste dispositivo."
    )
    expect(page.locator("#alert")).to_be_hidden()
    screenshot(page, artifacts_dir, "login-lock-over")

    page.click("#login-warning-reset")
    expect(page.locator("#step-reset-sent")).to_be_visible()
    origin, path, token = mailed_link(mailbox, guest["email"])
    web.secrets.add(token)
    assert (origin, path) == (PUBLIC_URL, PAGE)
