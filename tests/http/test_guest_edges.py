"""What a guest off the happy path meets over HTTP: a landline or an empty phone, a birth date
before 1900, a name past the limit, a link typed with capitals, the page's first question on a
device with no session, and compressed answers (gzip) that leave the long-poll whole."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import pytest

from guestlist.web.inputs import MSG_BIRTH_DATE_OLD, MSG_NOT_MOBILE, MSG_PHONE_REQUIRED
from guestlist.web.page import STATIC_DIR
from tests.support.database import PgServer
from tests.support.server import (
    LiveServer,
    live_server,
    login_body,
    new_guest,
    register,
    register_body,
)


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_edges")) as server:
        yield server


def field_errors(r: httpx.Response) -> list[tuple[str, str, str]]:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "invalid_input"
    return [(e["field"], e["code"], e["message"]) for e in body["errors"]]


# --- phone -----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/api/guest/verify-phone", "/api/guest/verify-phone-v2"])
def test_a_lisbon_landline_is_refused_with_its_own_code(web: LiveServer, route: str) -> None:
    with web.client() as c:
        r = c.post(route, json={"phone": "21 123 4567"})
    assert field_errors(r) == [("phone", "not_mobile", MSG_NOT_MOBILE)]


def test_registering_with_a_landline_is_refused(web: LiveServer) -> None:
    guest = new_guest()
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, guest, phone="213 456 789"))
    assert ("phone", "not_mobile", MSG_NOT_MOBILE) in field_errors(r)


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_phone_is_asked_for(web: LiveServer, empty: str) -> None:
    with web.client() as c:
        r = c.post("/api/guest/verify-phone", json={"phone": empty})
    assert field_errors(r) == [("phone", "required", MSG_PHONE_REQUIRED)]


def test_a_mobile_passes(web: LiveServer) -> None:
    with web.client() as c:
        r = c.post("/api/guest/verify-phone", json={"phone": new_guest()["phone"]})
    assert r.status_code == 200 and r.json()["exists"] is False


# --- registration fields ---------------------------------------------------------------------


def test_a_birth_date_of_1850_asks_for_a_real_one(web: LiveServer) -> None:
    guest = new_guest()
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, guest, birthDate="1850-06-01"))
    assert field_errors(r) == [("birthDate", "invalid", MSG_BIRTH_DATE_OLD)]


def test_a_100_character_name_is_refused_never_cut(web: LiveServer) -> None:
    guest = new_guest()
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, guest, firstName="A" * 100))
    message = "Indica o teu nome, com 80 caracteres no máximo."
    assert field_errors(r) == [("firstName", "length", message)]


def test_the_page_does_not_cut_what_the_server_measures() -> None:
    # a maxlength at the server's limit would cut a 100-character name to 80 without a word
    html = (STATIC_DIR / "guest.html").read_text(encoding="utf-8")
    for name in ("reg-firstName", "reg-lastName", "reg-city", "reg-email"):
        tag = html[html.index(f'id="{name}"') :]
        tag = tag[: tag.index(">")]
        assert "maxlength" not in tag, name
    assert 'placeholder="935 886 310"' in html


# --- slugs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/promotor/Miguel/festa-verao",
        "/promotor/MIGUEL/Festa-Verao",
        "/api/guest/page/Miguel/FESTA-VERAO",
    ],
)
def test_slugs_are_matched_case_insensitively(web: LiveServer, path: str) -> None:
    with web.client() as c:
        r = c.get(path)
    assert r.status_code == 200, r.text
    assert web.demo["eventId"] in r.text


def test_a_letter_that_only_lowercases_to_ascii_is_no_slug(web: LiveServer) -> None:
    # U+212A KELVIN SIGN lowercases to "k": still no slug of ours
    with web.client() as c:
        r = c.get("/api/guest/page/\u212aiguel/festa-verao")
    assert r.status_code == 404 and r.json()["code"] == "page_not_found"


# --- the page's first question ---------------------------------------------------------------


def test_a_device_without_a_session_gets_guest_null(web: LiveServer) -> None:
    with web.client() as c:
        r = c.get(f"/api/guest/session/{web.demo['eventId']}")
        stale = c.get(
            f"/api/guest/session/{web.demo['eventId']}",
            headers={"Cookie": f"gl_session={'0' * 64}"},
        )
    assert r.status_code == 200 and r.json() == {"guest": None, "session": False}
    assert r.headers["cache-control"] == "no-store"
    assert stale.status_code == 200 and stale.json() == {"guest": None, "session": False}


def test_a_returning_device_gets_its_pass(web: LiveServer) -> None:
    with web.client() as c:
        guest = register(web, client=c)
        r = c.get(f"/api/guest/session/{web.demo['eventId']}")
        c.post("/api/guest/logout", json={})
        after = c.get(f"/api/guest/session/{web.demo['eventId']}")
    assert r.status_code == 200
    assert r.json()["guest"]["qr_code"] == guest["qr_code"]
    assert r.json()["guest"]["event"]["id"] == web.demo["eventId"]
    assert r.json()["session"] is True
    assert after.json() == {"guest": None, "session": False}


def test_the_session_route_refuses_a_bad_event_id(web: LiveServer) -> None:
    with web.client() as c:
        r = c.get("/api/guest/session/not-a-uuid")
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"


# --- gzip ------------------------------------------------------------------------------------


def raw_get(web: LiveServer, path: str, encoding: str) -> tuple[httpx.Response, bytes]:
    """The answer as sent: its headers and its bytes before any decoding."""
    headers = {"Accept-Encoding": encoding, "X-Forwarded-For": web.new_ip()}
    with (
        httpx.Client(base_url=web.base_url, timeout=30) as c,
        c.stream("GET", path, headers=headers) as r,
    ):
        return r, b"".join(r.iter_raw())


@pytest.mark.parametrize("name", ["guest.js", "guest.css", "guest.html", "load-monitor.js"])
def test_static_files_are_gzipped_when_accepted(web: LiveServer, name: str) -> None:
    original = (STATIC_DIR / name).read_bytes()
    r, sent = raw_get(web, f"/static/{name}", "gzip, deflate, br")
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert gzip.decompress(sent) == original
    assert len(sent) < len(original)
    plain, plain_sent = raw_get(web, f"/static/{name}", "identity")
    assert "content-encoding" not in plain.headers
    assert plain_sent == original


def test_large_json_is_gzipped_and_small_json_is_not(web: LiveServer) -> None:
    big, big_sent = raw_get(web, "/openapi.json", "gzip")
    assert big.headers["content-encoding"] == "gzip"
    assert gzip.decompress(big_sent).startswith(b"{")
    small, small_sent = raw_get(web, "/healthz", "gzip")
    assert "content-encoding" not in small.headers
    assert small_sent == b'{"status":"ok"}'


def test_the_held_long_poll_answers_whole_when_gzip_is_accepted(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    with web.client(headers={"Accept-Encoding": "gzip"}) as c:
        r = c.post("/api/guest/register-v2?wait=20", json=register_body(web, guest))
        assert r.status_code in (200, 202), r.text
        job = r.json()
        while job.get("status") not in ("completed", "failed"):
            s = c.get(
                f"/api/guest/status/{job['jobId']}?wait=20",
                headers={"X-Job-Token": r.json()["jobToken"]},
            )
            assert s.status_code == 200, s.text
            job = s.json()
    assert job["status"] == "completed" and job["result"]["success"] is True
    web.secrets.add(job["result"]["qr_code"])


# --- the full name, to its own guest only ------------------------------------------------------


def test_a_sessions_own_pass_carries_its_guests_last_name_only(web: LiveServer) -> None:
    event = web.demo["eventId"]
    with web.client() as ana, web.client() as rui:
        first = register(web, client=ana)
        second = register(web, client=rui)
        login = ana.post("/api/guest/login", json=login_body(web, first))
        answers = {
            name: (c.get(f"/api/guest/session/{event}").json(), c.get(f"/api/guest/me/{event}"))
            for name, c in (("ana", ana), ("rui", rui))
        }
    assert answers["ana"][0]["guest"]["last_name"] == first["lastName"]
    assert answers["ana"][1].json()["last_name"] == first["lastName"]
    assert answers["rui"][0]["guest"]["last_name"] == second["lastName"]
    assert answers["rui"][1].json()["last_name"] == second["lastName"]
    # the login's answer, the page's data and a device with no session: no last name at all
    assert login.status_code == 200 and "last_name" not in login.json()
    with web.client() as nobody:
        page = nobody.get("/api/guest/page/miguel/festa-verao")
        none = nobody.get(f"/api/guest/session/{event}")
    for r in (login, page, none):
        assert first["lastName"].lower() not in r.text.lower()
    assert none.json() == {"guest": None, "session": False}
