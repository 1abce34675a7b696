"""The door page in a real browser (Debian's chromium driven by Playwright) against app.py, its
camera being Chromium's fake device playing a Y4M video this module writes from a real guest's
QR code (segno → frames): the scan admits the guest by name; the same code seen again is
already_in; offline, scans are judged against the kept list, shown as pending, survive a reload
and are synced when the network returns (the guest is inside in the database afterwards); a guest
found by name is admitted by hand and the admission undone; an under-age guest (or one of unknown
age) admitted by hand carries an unmistakable warning; a revoked link gets the refusal page and
the device forgets the list. Screenshots of each screen go to tests/artifacts/."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import segno
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, register

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
PHONE_SIZE = {"width": 390, "height": 844}
# The fake camera's video: 640 x 480, grey background, the code's modules 10 px wide.
VIDEO_SIZE = (640, 480)
VIDEO_FPS = 10
VIDEO_SECONDS = 2
MODULE_PX = 10
# An answer is on screen ~1 s; the same code is sent again 5 s after its answer.
SCAN_TIMEOUT_MS = 20_000


def until(page: Page, script: str, arg: Any = None, timeout_ms: int = SCAN_TIMEOUT_MS) -> None:
    """Wait until an async page function answers true. Playwright's wait_for_function does not
    await a Promise the function returns (a Promise is truthy: it would return at once), so an
    IndexedDB or Cache Storage condition is polled with evaluate, which does."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(script, arg):
        assert time.monotonic() < deadline, f"not true within {timeout_ms} ms: {script[:120]}"
        page.wait_for_timeout(100)


def write_y4m(path: Path, code: str | None) -> Path:
    """A YUV4MPEG2 video (4:2:0) of `code`'s QR in the middle of the frame, black on white with a
    wide quiet zone, or an empty frame (code None): Chromium's fake camera plays it in a loop."""
    width, height = VIDEO_SIZE
    luma = bytearray(b"\xa0" * (width * height))  # a grey room
    if code is not None:
        matrix = segno.make(code, error="m", micro=False).matrix
        border = 4
        size = (len(matrix) + 2 * border) * MODULE_PX
        left, top = (width - size) // 2, (height - size) // 2
        white = b"\xff" * size
        for y in range(size):
            start = (top + y) * width + left
            luma[start : start + size] = white
        for r, row in enumerate(matrix):
            for c, dark in enumerate(row):
                if dark:
                    x0 = left + (c + border) * MODULE_PX
                    y0 = top + (r + border) * MODULE_PX
                    for y in range(y0, y0 + MODULE_PX):
                        luma[y * width + x0 : y * width + x0 + MODULE_PX] = b"\x00" * MODULE_PX
    chroma = b"\x80" * ((width // 2) * (height // 2))
    frame = b"FRAME\n" + bytes(luma) + chroma + chroma
    header = f"YUV4MPEG2 W{width} H{height} F{VIDEO_FPS}:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * (VIDEO_FPS * VIDEO_SECONDS))
    return path


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_door")) as server:
        yield server


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


Camera = Callable[[str | None], Browser]


@pytest.fixture
def camera(playwright: Playwright, tmp_path: Path) -> Iterator[Camera]:
    """A browser whose camera films `code`'s QR (or nothing); closed after the test."""
    opened: list[Browser] = []

    def launch(code: str | None) -> Browser:
        video = write_y4m(tmp_path / f"camera-{len(opened)}.y4m", code)
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
        )
        opened.append(browser)
        return browser

    yield launch
    for browser in opened:
        browser.close()


def door_link(web: LiveServer, label: str = "Porta 1") -> dict[str, str]:
    link = web.sql("web_test_door_link", {"event_id": web.demo["eventId"], "label": label})
    assert isinstance(link, dict) and re.fullmatch(r"[A-Za-z0-9_-]{43,}", link["token"])
    web.secrets.add(link["token"])
    return link


def phone(browser: Browser) -> BrowserContext:
    return browser.new_context(
        viewport=PHONE_SIZE,
        locale="pt-PT",
        timezone_id="Europe/Lisbon",
        permissions=["camera"],
    )


class Door:
    """The door page open on a staff phone, its console errors and requests recorded."""

    def __init__(self, context: BrowserContext, web: LiveServer, token: str) -> None:
        self.context = context
        self.web = web
        self.url = f"{web.base_url}/porta/{token}"
        self.errors: list[str] = []
        self.page: Page = context.pages[0] if context.pages else context.new_page()
        self.page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self) -> Page:
        response = self.page.goto(self.url)
        assert response is not None
        expect(self.page.locator("#event-title")).to_have_text("Festa de Verão")
        return self.page

    def answer(self, result: str) -> None:
        expect(self.page.locator("#answer")).to_have_attribute(
            "data-result", result, timeout=SCAN_TIMEOUT_MS
        )
        expect(self.page.locator("#answer")).to_be_visible()

    def list_kept(self, code: str) -> None:
        """The page downloaded the event's list and keeps it (IndexedDB) with this code's
        guest, found by the code's sha256 (the list never holds a code)."""
        until(
            self.page,
            """async (hash) => {
                const db = await new Promise((ok, ko) => {
                    const r = indexedDB.open('guestlist-door');
                    r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error);
                });
                const token = decodeURIComponent(location.pathname.split('/')[2]);
                const list = await new Promise((ok) => {
                    const r = db.transaction('lists').objectStore('lists').get(token);
                    r.onsuccess = () => ok(r.result); r.onerror = () => ok(null);
                });
                db.close();
                return !!(list && list.guests && list.guests[hash]);
            }""",
            hashlib.sha256(code.encode()).hexdigest(),
        )

    def kept_lists(self) -> int:
        return int(
            self.page.evaluate(
                """async () => {
                    const db = await new Promise((ok, ko) => {
                        const r = indexedDB.open('guestlist-door');
                        r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error);
                    });
                    const n = await new Promise((ok) => {
                        const r = db.transaction('lists').objectStore('lists').count();
                        r.onsuccess = () => ok(r.result); r.onerror = () => ok(-1);
                    });
                    db.close();
                    return n;
                }"""
            )
        )

    def kept_for_offline(self) -> None:
        """The service worker is active and holds this page's copy (door.js stores it)."""
        state = self.page.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
        assert state in ("activating", "activated")
        until(
            self.page,
            """async () => !!(await (await caches.open('door-shell-v1'))
                .match(location.pathname))""",
        )

    def no_errors(self) -> None:
        csp = [e for e in self.errors if "Content Security Policy" in e]
        assert not csp, csp


def screenshot(page: Page, artifacts_dir: Path, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"browser-door-{name}.png"), full_page=True)


def checked_in(web: LiveServer, guest: dict[str, Any]) -> bool:
    return bool(web.sql("web_test_guest_checked_in", {"guest_id": guest["guest_id"]}))


def test_scan_admits_by_name_then_already_in(
    web: LiveServer, camera: Camera, artifacts_dir: Path
) -> None:
    guest = register(web)
    link = door_link(web, "Porta Norte")
    door = Door(phone(camera(guest["qr_code"])), web, link["token"])
    page = door.open()
    expect(page.locator("#door-label")).to_have_text("Porta Norte")

    door.answer("admitted")
    expect(page.locator("#answer-title")).to_have_text("Pode entrar")
    expect(page.locator("#answer-name")).to_have_text(f"{guest['firstName']} {guest['lastName']}")
    expect(page.locator("#answer-pending")).to_be_hidden()
    screenshot(page, artifacts_dir, "admitted")
    assert checked_in(web, guest)

    # the code is still in front of the camera: after its pause it is sent again, and the
    # door says when and where the guest went in
    door.answer("already_in")
    expect(page.locator("#answer-title")).to_have_text("Já entrou")
    expect(page.locator("#answer-detail")).to_contain_text("Porta Norte")
    expect(page.locator("#answer-detail")).to_contain_text(re.compile(r"às \d{2}:\d{2}"))
    screenshot(page, artifacts_dir, "already-in")

    # the counter: the guest is inside
    expect(page.locator("#count-inside")).to_have_text(
        re.compile(r"^[1-9][0-9]*$"), timeout=SCAN_TIMEOUT_MS
    )
    expect(page.locator("#count-list")).to_have_text(re.compile(r"^[1-9][0-9]*$"))
    door.no_errors()
    assert link["token"] not in web.log_text()


def test_unknown_code_is_red(web: LiveServer, camera: Camera, artifacts_dir: Path) -> None:
    link = door_link(web)
    door = Door(phone(camera("0" * 32)), web, link["token"])
    page = door.open()
    door.answer("not_found")
    expect(page.locator("#answer")).to_have_class(re.compile(r"\brefused-scan\b"))
    expect(page.locator("#answer-title")).to_have_text("Não está na lista")
    screenshot(page, artifacts_dir, "not-found")
    door.no_errors()


def test_offline_scans_wait_survive_a_reload_and_sync(
    web: LiveServer, playwright: Playwright, tmp_path: Path, artifacts_dir: Path
) -> None:
    """One staff phone (a persistent profile): opened online with nothing in front of the
    camera, it keeps the page and the list; reopened offline, the guest's code is judged from
    the list and waits; a reload offline keeps it waiting; the network back, it is synced."""
    guest = register(web)
    link = door_link(web, "Porta Sul")
    profile = tmp_path / "profile"

    def open_phone(code: str | None) -> BrowserContext:
        video = write_y4m(tmp_path / f"camera-{code or 'empty'}.y4m", code)
        return playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
            viewport=PHONE_SIZE,
            locale="pt-PT",
            timezone_id="Europe/Lisbon",
            permissions=["camera"],
        )

    context = open_phone(None)
    try:
        door = Door(context, web, link["token"])
        door.open()
        door.list_kept(guest["qr_code"])
        door.kept_for_offline()
        # once more online, now served through the service worker: the worker controls the
        # page (its registration is stored) before this phone is closed
        door.open()
        door.page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        door.kept_for_offline()
    finally:
        context.close()

    context = open_phone(guest["qr_code"])
    try:
        context.set_offline(True)
        door = Door(context, web, link["token"])
        page = door.open()  # from the service worker's copy
        door.answer("admitted")
        expect(page.locator("#answer-name")).to_have_text(
            f"{guest['firstName']} {guest['lastName']}"
        )
        expect(page.locator("#answer-pending")).to_be_visible()
        expect(page.locator("#answer-pending")).to_contain_text("pendente")
        screenshot(page, artifacts_dir, "offline-pending")
        expect(page.locator("#pending-status")).to_have_text("1 entrada pendente por sincronizar")
        expect(page.locator("#net-status")).to_contain_text("Sem rede")
        assert not checked_in(web, guest)

        page.reload()
        expect(page.locator("#event-title")).to_have_text("Festa de Verão")
        expect(page.locator("#pending-status")).to_have_text("1 entrada pendente por sincronizar")
        # the same code again, from the kept list: already in, and not queued twice
        door.answer("already_in")
        expect(page.locator("#answer-pending")).to_be_visible()
        expect(page.locator("#pending-status")).to_have_text("1 entrada pendente por sincronizar")
        screenshot(page, artifacts_dir, "offline-after-reload")
        assert not checked_in(web, guest)

        with page.expect_response("**/api/door/sync", timeout=SCAN_TIMEOUT_MS) as synced:
            context.set_offline(False)
        assert synced.value.status == 200
        expect(page.locator("#pending-status")).to_be_hidden(timeout=SCAN_TIMEOUT_MS)
        assert checked_in(web, guest)
        assert web.sql("web_test_door_admissions", {"guest_id": guest["guest_id"]}) == {
            "admissions": 1,
            "inside": True,
        }
        expect(page.locator("#answer")).to_be_hidden()
        screenshot(page, artifacts_dir, "synced")
        door.no_errors()
    finally:
        context.close()


def test_search_admit_by_hand_and_undo(
    web: LiveServer, camera: Camera, artifacts_dir: Path
) -> None:
    guest = register(web)
    link = door_link(web)
    door = Door(phone(camera(None)), web, link["token"])
    page = door.open()

    page.fill("#search", guest["lastName"])
    row = page.locator("#search-results li", has_text=guest["lastName"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text(guest["firstName"])
    screenshot(page, artifacts_dir, "search")
    row.get_by_role("button", name=re.compile("Dar entrada")).click()
    door.answer("admitted")
    expect(page.locator("#answer-name")).to_have_text(f"{guest['firstName']} {guest['lastName']}")
    screenshot(page, artifacts_dir, "admitted-by-hand")
    assert checked_in(web, guest)

    undo = page.locator("#undo")
    expect(undo).to_be_visible()
    expect(undo).to_contain_text(guest["firstName"])
    with page.expect_response("**/api/door/undo") as undone:
        undo.click()
    assert undone.value.status == 200
    expect(undo).to_be_hidden()
    expect(page.locator("#net-status")).to_contain_text("anulada")
    screenshot(page, artifacts_dir, "undone")
    assert not checked_in(web, guest)

    # searched again, the guest can be admitted again
    page.fill("#search", guest["lastName"])
    expect(
        page.locator("#search-results li", has_text=guest["lastName"]).get_by_role("button")
    ).to_be_visible()
    door.no_errors()


def test_an_under_age_guest_is_admitted_with_a_warning(
    web: LiveServer, camera: Camera, artifacts_dir: Path
) -> None:
    """The event gets a minimum age after these guests joined (registration would refuse the
    under-aged): the door still admits each by hand, and says so when one is under the age or
    their age is unknown; an adult's answer carries no warning."""
    today = date.today()
    minor = register(web, birthDate=today.replace(year=today.year - 15).isoformat())
    unknown = register(web)
    adult = register(web, birthDate="1990-05-01")
    web.sql("web_test_set_min_age", {"event_id": web.demo["eventId"], "min_age": 18})
    try:
        link = door_link(web, "Porta Idade")
        door = Door(phone(camera(None)), web, link["token"])
        page = door.open()
        for guest, warning in (
            (minor, "Menor de 18 — pede identificação"),
            (unknown, "Idade desconhecida (evento 18+) — pede identificação"),
            (adult, None),
        ):
            expect(page.locator("#answer")).to_be_hidden(timeout=SCAN_TIMEOUT_MS)
            page.fill("#search", guest["lastName"])
            row = page.locator("#search-results li", has_text=guest["lastName"])
            expect(row).to_have_count(1)
            if warning:
                expect(row).to_contain_text(warning)
            row.get_by_role("button", name=re.compile("Dar entrada")).click()
            door.answer("admitted")
            expect(page.locator("#answer-name")).to_have_text(
                f"{guest['firstName']} {guest['lastName']}"
            )
            if warning:
                expect(page.locator("#answer-age")).to_be_visible()
                expect(page.locator("#answer-age")).to_have_text(warning)
                screenshot(page, artifacts_dir, f"age-{'minor' if guest is minor else 'unknown'}")
            else:
                expect(page.locator("#answer-age")).to_be_hidden()
            assert checked_in(web, guest), "the door decides: the guest is inside"
        door.no_errors()
    finally:
        web.sql("web_test_set_min_age", {"event_id": web.demo["eventId"], "min_age": None})


def test_revoked_link_refused_and_list_forgotten(
    web: LiveServer, camera: Camera, artifacts_dir: Path
) -> None:
    guest = register(web)
    link = door_link(web)
    door = Door(phone(camera(None)), web, link["token"])
    page = door.open()
    door.list_kept(guest["qr_code"])
    assert door.kept_lists() == 1

    web.sql("web_test_door_revoke", {"door_id": link["doorId"]})
    response = page.reload()
    assert response is not None and response.status == 401
    expect(page.locator("#refused")).to_be_visible()
    expect(page.locator("#refused h1")).to_have_text("Link da porta inválido")
    until(
        page,
        """async () => {
            const db = await new Promise((ok) => {
                const r = indexedDB.open('guestlist-door'); r.onsuccess = () => ok(r.result);
            });
            const n = await new Promise((ok) => {
                const r = db.transaction('lists').objectStore('lists').count();
                r.onsuccess = () => ok(r.result);
            });
            db.close();
            return n === 0;
        }""",
    )
    screenshot(page, artifacts_dir, "revoked")

    # a path that cannot be a door link is no page at all
    response = page.goto(f"{web.base_url}/porta/not-a-token")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Página não encontrada")
    assert link["token"] not in web.log_text()
