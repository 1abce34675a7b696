"""The console and the promoter page in a real browser (Debian's chromium, Playwright) against
app.py: an owner signs up through an invite, creates an event with an age limit, adds
promoters, sets a quota, opens the list (search, figures, chart), exports the CSV (the file is
read: BOM, accents, a formula neutralized), makes a door link (its QR code decoded back to the
link, the door page opened there, then revoked and refused), invites a promoter, who lands on
their own page and sees only their own guests, with no phone. No request leaves for another
host. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from tests.support import staff
from tests.support.database import ROOT
from tests.support.server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
JSQR = ROOT / "node_modules" / "jsqr" / "dist" / "jsQR.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "Consola123"
HYPERLINK = '=HYPERLINK("http://atacante.example";"Clique")'


web = staff.web  # the module's server (tests/support/staff.py)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Device:
    """A browser context with every request and console error recorded."""

    def __init__(self, browser: Browser, viewport: dict[str, int]) -> None:
        self.context: BrowserContext = browser.new_context(
            viewport=viewport, locale="pt-PT", timezone_id="Europe/Lisbon", accept_downloads=True
        )
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page: Page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def check(self, web: LiveServer) -> None:
        own = urlsplit(web.base_url).netloc
        hosts = {urlsplit(u).netloc for u in self.requests if not u.startswith(("data:", "blob:"))}
        assert hosts <= {own}, f"requests to other hosts: {hosts - {own}}"
        csp = [e for e in self.errors if "Content Security Policy" in e]
        assert not csp, csp
        self.context.close()


def shot(page: Page, artifacts_dir: Path, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"console-{name}.png"), full_page=True)


def read_qr(browser: Browser, png: bytes) -> str | None:
    """What a camera reads in a screenshot of a QR code: jsQR (the door page's own decoder,
    from node_modules/) in a blank page of its own, the image given as a data URL."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_script_tag(content=JSQR.read_text())
        return page.evaluate(
            """async (src) => {
                const img = new Image();
                await new Promise((ok, ko) => {
                    img.onload = ok; img.onerror = ko; img.src = src;
                });
                const canvas = document.createElement('canvas');
                canvas.width = img.width; canvas.height = img.height;
                const ctx = canvas.getContext('2d');
                ctx.drawImage(img, 0, 0);
                const data = ctx.getImageData(0, 0, img.width, img.height);
                const code = jsQR(data.data, img.width, img.height);
                return code ? code.data : null;
            }""",
            "data:image/png;base64," + base64.b64encode(png).decode(),
        )
    finally:
        context.close()


def seed(web: LiveServer, event: str, promoter: str, name: str, n: int, base: int) -> None:
    web.sql(
        "web_test_seed_guests",
        {
            "event_id": event,
            "promoter_id": promoter,
            "team_id": None,
            "name": name,
            "n": n,
            "base": base,
            "inside_every": 2,
        },
    )


def test_owner_runs_an_event_and_a_promoter_sees_only_theirs(
    browser: Browser, web: LiveServer, artifacts_dir: Path
) -> None:
    tag = secrets.token_hex(3)
    made = web.sql(
        "web_test_create_organization",
        {"name": "Noites do Porto", "slug": f"porto-{tag}", "owner_email": f"dona.{tag}@porto.pt"},
    )
    owner = Device(browser, LAPTOP)
    page = owner.page

    # the invite: the token rides after '#', so no request carries it
    page.goto(web.base_url + made["invitePath"])
    expect(page.locator("#invite-form")).to_be_visible()
    page.fill("#invite-name", "Joana Dona")
    page.fill("#invite-password", PASSWORD)
    page.click("#invite-form button[type=submit]")
    expect(page.locator("#who-name")).to_have_text("Joana Dona")
    assert urlsplit(page.url).path == "/organizador" and "#" not in page.url
    assert not any(made["inviteToken"] in url for url in owner.requests)

    # an event with a capacity and an age limit
    page.click("#new-event")
    slug = f"noite-{tag}"
    starts = (datetime.now() + timedelta(days=10)).replace(hour=23, minute=0)
    page.fill("#ev-title", "Noite de Inverno")
    page.fill("#ev-slug", slug)
    page.fill("#ev-start", starts.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#ev-location", "Ribeira")
    page.fill("#ev-capacity", "300")
    page.fill("#ev-min-age", "18")
    page.click("#event-form button[type=submit]")
    expect(page.locator("#notice")).to_have_text("Evento criado.")
    item = page.locator("#event-list li").filter(has_text="Noite de Inverno")
    expect(item).to_contain_text("18+")
    expect(item).to_contain_text("lista aberta")
    event_id = item.get_attribute("data-event-id")
    assert event_id

    # two promoters, each in a team
    page.click("nav.tabs button[data-view=promoters]")
    for name, pslug in (("Rita Promotora", f"rita-{tag}"), ("Bruno Outro", f"bruno-{tag}")):
        page.fill("#pr-name", name)
        page.fill("#pr-slug", pslug)
        page.fill("#pr-team", "Equipa Azul")
        page.click("#promoter-add button[type=submit]")
        expect(page.locator("#promoter-rows tr").filter(has_text=name)).to_be_visible()
    rita = page.locator("#promoter-rows tr").filter(has_text="Rita Promotora")
    bruno = page.locator("#promoter-rows tr").filter(has_text="Bruno Outro")
    rita_id, bruno_id = (
        rita.get_attribute("data-promoter-id"),
        bruno.get_attribute("data-promoter-id"),
    )
    assert rita_id and bruno_id
    shot(page, artifacts_dir, "promoters")

    seed(web, event_id, rita_id, "Conceição Rita", 3, 7_000_000 + secrets.randbelow(10**5))
    seed(web, event_id, rita_id, HYPERLINK, 1, 7_200_000 + secrets.randbelow(10**5))
    seed(web, event_id, bruno_id, "Bruno Convidado", 2, 7_400_000 + secrets.randbelow(10**5))

    # the list: figures, a quota, search, the chart
    page.click("nav.tabs button[data-view=events]")
    page.locator("#event-list li").filter(has_text="Noite de Inverno").get_by_role(
        "button", name="Abrir lista"
    ).click()
    expect(page.locator("#event-title")).to_have_text("Noite de Inverno")
    expect(page.locator("#guest-total")).to_have_text("6 convidados")
    expect(page.locator("#event-figures")).to_contain_text("6")
    quota_row = page.locator("#promoter-figures tr").filter(has_text="Rita Promotora")
    expect(quota_row.locator("td").nth(1)).to_have_text("4")
    quota_row.locator("input").fill("10")
    quota_row.get_by_role("button", name="Guardar").click()
    expect(page.locator("#notice")).to_have_text("Quota de Rita Promotora guardada.")
    expect(page.locator("#chart svg rect").first).to_be_attached()
    page.fill("#g-query", "Conceição")
    page.click("#guest-filter button[type=submit]")
    expect(page.locator("#guest-total")).to_have_text("3 convidados")
    expect(page.locator("#guest-rows tr").first).to_contain_text("+351")
    page.fill("#g-query", "")
    page.select_option("#g-promoter", bruno_id)
    page.click("#guest-filter button[type=submit]")
    expect(page.locator("#guest-total")).to_have_text("2 convidados")
    shot(page, artifacts_dir, "event-list")

    # the export: a real download, read back
    with page.expect_download() as info:
        page.click("#export-link")
    download = info.value
    assert download.suggested_filename == f"convidados-{event_id}.csv"
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.startswith("Nome;Telefone;Promotor;Equipa;Estado;Entrada;Registo\r\n")
    assert "Conceição Rita 1;'+351" in text
    assert '"\'=HYPERLINK(""http://atacante.example"";""Clique"")"' in text
    assert "\n=HYPERLINK" not in text and ";=HYPERLINK" not in text
    assert len(text.strip().split("\r\n")) == 1 + 6

    # a door link for a staff phone: shown once, as the URL and as a QR code that reads as it
    page.fill("#door-label", "Porta da Ribeira")
    with page.expect_response(f"**/api/console/events/{event_id}/doors") as created:
        page.click("#door-form button[type=submit]")
    assert created.value.status == 200
    expect(page.locator("#door-created")).to_be_visible()
    expect(page.locator("#door-qr svg")).to_be_visible()
    door_url = page.locator("#door-link").inner_text()
    assert door_url.startswith(f"{web.base_url}/porta/")
    token = door_url.rsplit("/", 1)[1]
    assert not any(token in url for url in owner.requests), "the token rides in no request"
    assert read_qr(browser, page.locator("#door-qr svg").screenshot()) == door_url
    row = page.locator("#door-rows tr").filter(has_text="Porta da Ribeira")
    expect(row).to_contain_text("Ativo até")
    shot(page, artifacts_dir, "door-link")
    page.click("#hide-door")
    expect(page.locator("#door-created")).to_be_hidden()
    assert token not in page.content(), "hidden, the link leaves the page"

    # the staff phone opens it: the door of this event
    staff_phone = Device(browser, PHONE)
    door_page = staff_phone.page
    door_page.goto(door_url)
    expect(door_page.locator("#event-title")).to_have_text("Noite de Inverno")
    expect(door_page.locator("#door-label")).to_have_text("Porta da Ribeira")

    # revoked from the console (two clicks): the phone's next load is the refusal
    row.get_by_role("button", name="Revogar").click()
    row.get_by_role("button", name="Confirmar revogação").click()
    expect(page.locator("#notice")).to_contain_text("revogado")
    expect(row).to_contain_text("Revogado")
    expect(row.get_by_role("button")).to_have_count(0)
    response = door_page.reload()
    assert response is not None and response.status == 401
    expect(door_page.locator("#refused h1")).to_have_text("Link da porta inválido")
    staff_phone.check(web)

    # Rita gets an account and sees her own page (typed once the tab's rows are fresh: the
    # reload replaces the rows shown from the last visit, inputs and all)
    page.click("nav.tabs button[data-view=promoters]")
    expect(page.locator("#promoter-rows")).to_have_attribute("aria-busy", "false")
    rita = page.locator("#promoter-rows tr").filter(has_text="Rita Promotora")
    rita.locator("input[type=email]").fill(f"rita.{tag}@porto.pt")
    rita.get_by_role("button", name="Convidar para a conta").click()
    expect(page.locator("#invite-result")).to_be_visible()
    invite_link = page.locator("#invite-link").inner_text()
    assert "/organizador/convite#" in invite_link

    promoter = Device(browser, PHONE)
    phone_page = promoter.page
    phone_page.goto(invite_link)
    phone_page.fill("#invite-name", "Rita")
    phone_page.fill("#invite-password", PASSWORD)
    phone_page.click("#invite-form button[type=submit]")
    phone_page.wait_for_url("**/promotor/painel")
    card = phone_page.locator("section[data-event-id]").filter(has_text="Noite de Inverno")
    expect(card).to_be_visible()
    expect(card.locator("tbody tr")).to_have_count(4)
    expect(card).to_contain_text("4 convidados teus")
    expect(card).not_to_contain_text("Bruno Convidado")
    expect(card).not_to_contain_text("+351")
    expect(card.locator(".link-box")).to_have_text(f"{web.base_url}/promotor/rita-{tag}/{slug}")
    share = card.get_by_role("link", name="Partilhar no WhatsApp").get_attribute("href")
    assert share and share.startswith("https://wa.me/?text=") and f"rita-{tag}" in share
    expect(card.locator(".figures")).to_contain_text("10")  # the quota
    expect(card.locator("ol li")).to_have_count(2)  # the team's ranking
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide"
    shot(phone_page, artifacts_dir, "promoter-page")
    # her session may not export (phones): refused, whatever a promoter types in the address bar
    r = phone_page.request.get(f"{web.base_url}/api/console/events/{event_id}/export.csv")
    assert r.status == 403
    promoter.check(web)

    # log out everywhere: the owner's session is gone
    page.click("#logout-all")
    expect(page.locator("#login-form")).to_be_visible()
    r = page.request.get(f"{web.base_url}/api/staff/me")
    assert r.status == 401
    page.fill("#login-email", f"dona.{tag}@porto.pt")
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#event-list li")).to_have_count(1)
    shot(page, artifacts_dir, "events")
    owner.check(web)


def test_a_late_answer_never_replaces_the_page_asked_after_it(
    browser: Browser, web: LiveServer
) -> None:
    """Next, next: the first page's answer held back until the second has been shown; when it
    arrives the list keeps the page asked last."""
    tag = secrets.token_hex(3)
    made = web.sql(
        "web_test_create_organization",
        {"name": "Noites Lentas", "slug": f"lentas-{tag}", "owner_email": f"dona.{tag}@lx.pt"},
    )
    owner = Device(browser, LAPTOP)
    page = owner.page
    page.goto(web.base_url + made["invitePath"])
    page.fill("#invite-name", "Dona Lenta")
    page.fill("#invite-password", PASSWORD)
    page.click("#invite-form button[type=submit]")
    expect(page.locator("#who-name")).to_have_text("Dona Lenta")
    starts = (datetime.now() + timedelta(days=10)).replace(hour=23, minute=0)
    created = page.request.post(
        f"{web.base_url}/api/console/events",
        data={
            "organizationId": made["organizationId"],
            "title": "Noite Lenta",
            "slug": f"lenta-{tag}",
            "startsAt": starts.astimezone().isoformat(),
        },
        headers={"Origin": web.base_url},
    )
    assert created.status == 200, created.text()
    seed(web, created.json()["id"], None, "Convidado", 120, 7_600_000 + secrets.randbelow(10**5))
    page.reload()
    page.locator("#event-list li").filter(has_text="Noite Lenta").get_by_role(
        "button", name="Abrir lista"
    ).click()
    expect(page.locator("#page-label")).to_have_text("1\u201350 de 120")

    held: list[Route] = []

    def hold_the_second_page(route: Route) -> None:
        if not held and "offset=50" in route.request.url:
            held.append(route)  # answered later, by hand
        else:
            route.continue_()

    page.route("**/api/console/events/*/guests?*", hold_the_second_page)
    page.click("#next-page")  # guests 51 to 100: held
    page.click("#next-page")  # 101 to 120: answered at once
    expect(page.locator("#page-label")).to_have_text("101\u2013120 de 120")
    expect(page.locator("#guest-rows tr")).to_have_count(20)
    assert len(held) == 1
    with page.expect_response(lambda r: "offset=50" in r.url) as late:
        held[0].continue_()
    late.value.finished()  # its body read: the page's await on it resolves in the next tasks
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")
    expect(page.locator("#page-label")).to_have_text("101\u2013120 de 120")
    expect(page.locator("#guest-rows tr")).to_have_count(20)
    owner.check(web)
