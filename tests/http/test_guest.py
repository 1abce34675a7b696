"""The guest routes over real HTTP, on their happy paths: page, phone check, register, login,
returning device, QR image. Every answer is checked for security headers and leaks
(tests/support/server.py: LiveServer.client)."""

from __future__ import annotations

import json
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.database import PgServer
from tests.support.server import (
    LiveServer,
    live_server,
    login_body,
    new_guest,
    register,
    register_body,
)

GUEST_PASS_KEYS = {"success", "guest_id", "qr_code", "first_name", "message", "recovered", "event"}


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_guest")) as server:
        yield server
        log = server.log_text()
        for secret in server.pii | server.secrets:
            assert secret not in log, "a guest's data reached the log"


def page_data(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="page-data">(.*?)</script>', html, flags=re.S
    )
    assert match, "no page-data block"
    return json.loads(match.group(1))


# --- the page ------------------------------------------------------------------------------


def test_guest_page_inlines_its_data(web: LiveServer) -> None:
    with web.client() as c:
        r = c.get("/promotor/miguel/festa-verao")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    data = page_data(r.text)
    assert data["event"]["id"] == web.demo["eventId"]
    assert data["event"]["title"] == "Festa de Verão"
    assert data["event"]["location"] == "Lx Factory, Lisboa"
    assert data["promoter"] == {"id": web.demo["promoterId"], "displayName": "Miguel"}
    assert data["teamId"] == web.demo["teamId"]
    assert data["guestListOpen"] is True
    assert "<title>Festa de Verão · Lista de convidados</title>" in r.text
    assert 'src="/static/guest.js"' in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/promotor/ninguem/festa-verao",
        "/promotor/miguel/nao-existe",
        "/promotor/Miguel/festa\u212averao",  # no slug even lowercased (Kelvin sign)
        "/promotor/miguel/festa%00verao",
        "/promotor/miguel/" + "a" * 200,
        "/promotor/miguel/festa-verao/extra",
        "/promotor/miguel",
    ],
)
def test_unknown_page_is_a_portuguese_404(web: LiveServer, path: str) -> None:
    with web.client() as c:
        r = c.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Página não encontrada" in r.text
    assert 'lang="pt-PT"' in r.text


def test_page_json(web: LiveServer) -> None:
    with web.client() as c:
        r = c.get("/api/guest/page/miguel/festa-verao")
        missing = c.get("/api/guest/page/miguel/nao-existe")
    assert r.status_code == 200
    assert set(r.json()) == {
        "event",
        "organization",
        "promoter",
        "teamId",
        "guestListOpen",
        "closesAt",
    }
    assert r.json()["organization"]["name"] == "Noites de Lisboa"
    assert missing.status_code == 404
    assert missing.json()["code"] == "page_not_found"


def test_static_files_are_served_with_headers(web: LiveServer) -> None:
    with web.client() as c:
        for path, kind in [
            ("/static/guest.js", "javascript"),
            ("/static/guest.css", "text/css"),
            ("/static/favicon.svg", "image/svg+xml"),
        ]:
            r = c.get(path)
            assert r.status_code == 200, path
            assert kind in r.headers["content-type"]


# --- phone check ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/api/guest/verify-phone", "/api/guest/verify-phone-v2"])
def test_unknown_phone(web: LiveServer, route: str) -> None:
    with web.client() as c:
        r = c.post(route, json={"phone": new_guest()["phone"]})
    assert r.status_code == 200
    assert r.json() == {"exists": False, "user": None, "source": "database"}


@pytest.mark.parametrize("route", ["/api/guest/verify-phone", "/api/guest/verify-phone-v2"])
def test_known_phone_answers_nothing_about_its_owner(web: LiveServer, route: str) -> None:
    guest = register(web, firstName="Zulmira")
    national = guest["e164"].removeprefix("+351")
    with web.client() as c:
        for form in (
            guest["phone"],
            guest["e164"],
            "00351" + national,
            national,
            "+351 " + guest["phone"],
        ):
            r = c.post(route, json={"phone": form})
            assert r.status_code == 200, form
            assert r.json()["exists"] is True
            assert r.json()["user"] is None
            assert set(r.json()) == {"exists", "user", "source"}
            assert "Zulmira" not in r.text


# --- register / login ----------------------------------------------------------------------


def test_register_answers_the_pass_and_sets_the_session_cookie(web: LiveServer) -> None:
    guest = new_guest(firstName="Inês")
    web.remember(guest)
    with web.client() as c:
        r = c.post(
            "/api/guest/register",
            json=register_body(web, guest, birthDate="1995-06-01", gender="F", city="Porto"),
        )
    assert r.status_code == 200, r.text
    data = r.json()
    web.secrets.add(data["qr_code"])
    assert set(data) == GUEST_PASS_KEYS
    assert data["success"] is True and data["recovered"] is False
    assert data["first_name"] == "Inês"
    assert re.fullmatch(r"[0-9a-f]{32}", data["qr_code"])
    assert data["event"]["id"] == web.demo["eventId"]
    assert data["event"]["title"] == "Festa de Verão"
    cookie = r.headers["set-cookie"]
    token = r.cookies["gl_session"]
    web.secrets.add(token)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert token not in r.text and "session" not in r.text
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Path=/" in cookie and "Secure" not in cookie
    max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))  # type: ignore[union-attr]
    assert 29 * 86400 < max_age <= 30 * 86400


def test_cookie_is_secure_behind_a_trusted_https_proxy(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    with web.client(headers={"X-Forwarded-Proto": "https"}) as c:
        r = c.post("/api/guest/register", json=register_body(web, guest))
    assert r.status_code == 200
    token = r.headers["set-cookie"].split(";")[0].removeprefix("__Host-gl_session=")
    web.secrets.update({r.json()["qr_code"], token})
    assert_host_cookie(r.headers["set-cookie"])
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    # over plain http (HTTPS=0 here): neither
    with web.client() as c:
        plain = c.get("/healthz")
    assert "strict-transport-security" not in plain.headers


def assert_host_cookie(set_cookie: str) -> None:
    """A session cookie only this host over https can set: __Host-, Secure, Path=/, no Domain."""
    assert set_cookie.startswith("__Host-gl_session=")
    attributes = [a.strip().lower() for a in set_cookie.split(";")[1:]]
    assert "secure" in attributes and "httponly" in attributes and "path=/" in attributes
    assert not any(a.startswith("domain") for a in attributes)


# --- logout ----------------------------------------------------------------------------------


def test_logout_ends_the_session_on_the_server(web: LiveServer) -> None:
    me = f"/api/guest/me/{web.demo['eventId']}"
    with web.client() as c:
        register(web, client=c)
        token = c.cookies["gl_session"]
        assert c.get(me).status_code == 200
        out = c.post("/api/guest/logout", json={})
        again = c.post("/api/guest/logout", json={})  # idempotent, now without a cookie
    assert out.status_code == 200 and out.json() == {"success": True}
    cleared = out.headers["set-cookie"]
    assert cleared.startswith('gl_session="";') or cleared.startswith("gl_session=;")
    assert "max-age=0" in cleared.lower()
    assert again.status_code == 200 and again.json() == {"success": True}
    # the old token, kept by whoever copied the cookie, opens nothing any more
    with web.client() as other:
        stale = other.get(me, headers={"Cookie": f"gl_session={token}"})
    assert stale.status_code == 401 and stale.json()["code"] == "session_invalid"


def test_logout_refuses_cross_site_requests(web: LiveServer) -> None:
    with web.client() as c:
        guest = register(web, client=c)
        cross = c.post("/api/guest/logout", json={}, headers={"Sec-Fetch-Site": "cross-site"})
        form = c.post(
            "/api/guest/logout",
            content=b"x=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        still = c.get(f"/api/guest/me/{web.demo['eventId']}")
        own = c.post("/api/guest/logout", json={}, headers={"Sec-Fetch-Site": "same-origin"})
    assert cross.status_code == 403 and cross.json()["code"] == "forbidden"
    assert form.status_code == 415
    assert "set-cookie" not in cross.headers and "set-cookie" not in form.headers
    assert still.status_code == 200 and still.json()["qr_code"] == guest["qr_code"]
    assert own.status_code == 200


@pytest.fixture(scope="module")
def https_web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The app with HTTPS on (the default of a deployment), still reached over plain http."""
    workdir = tmp_path_factory.mktemp("web_https")
    with live_server(pg_server, template_db, workdir, HTTPS="1") as server:
        yield server


def test_over_https_the_cookie_is_host_only_and_hsts_is_sent(https_web: LiveServer) -> None:
    web = https_web
    guest = new_guest()
    web.remember(guest)
    me = f"/api/guest/me/{web.demo['eventId']}"
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, guest))
        health = c.get("/healthz")
    assert r.status_code == 200, r.text
    web.secrets.add(r.json()["qr_code"])
    assert_host_cookie(r.headers["set-cookie"])
    token = r.headers["set-cookie"].split(";")[0].removeprefix("__Host-gl_session=")
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    web.secrets.add(token)
    for answer in (r, health):
        assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    with web.client() as c:
        host = c.get(me, headers={"Cookie": f"__Host-gl_session={token}"})
        plain = c.get(me, headers={"Cookie": f"gl_session={token}"})  # not read over HTTPS
        out = c.post("/api/guest/logout", json={}, headers={"Cookie": f"__Host-gl_session={token}"})
        after = c.get(me, headers={"Cookie": f"__Host-gl_session={token}"})
    assert host.status_code == 200 and host.json()["qr_code"] == r.json()["qr_code"]
    assert plain.status_code == 401
    assert out.status_code == 200
    cleared = out.headers["set-cookie"].lower()
    assert cleared.startswith("__host-gl_session=") and "secure" in cleared
    assert after.status_code == 401


def test_login_gets_the_same_qr_code(web: LiveServer) -> None:
    guest = register(web)
    with web.client() as c:
        r = c.post("/api/guest/login", json=login_body(web, guest, phone=guest["e164"]))
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == GUEST_PASS_KEYS
    assert (data["guest_id"], data["qr_code"]) == (guest["guest_id"], guest["qr_code"])
    assert data["recovered"] is True
    assert data["first_name"] == "Ana"
    web.secrets.add(r.cookies["gl_session"])
    assert "HttpOnly" in r.headers["set-cookie"]


def test_login_without_promoter_and_team(web: LiveServer) -> None:
    guest = register(web)
    body = login_body(web, guest)
    del body["promoterId"], body["teamId"]
    with web.client() as c:
        r = c.post("/api/guest/login", json=body)
    assert r.status_code == 200
    assert r.json()["qr_code"] == guest["qr_code"]


def test_register_with_json_charset_and_nulls_for_optional_fields(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    body = register_body(
        web, guest, birthDate=None, gender=None, city=None, promoterId=None, teamId=None
    )
    with web.client() as c:
        r = c.post(
            "/api/guest/register",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
    assert r.status_code == 200, r.text
    web.secrets.add(r.json()["qr_code"])


# --- a returning device ----------------------------------------------------------------------


def test_returning_device_sees_its_qr_without_logging_in(web: LiveServer) -> None:
    with web.client() as c:
        guest = register(web, client=c)
        r = c.get(f"/api/guest/me/{web.demo['eventId']}")
    assert r.status_code == 200
    assert r.json() == {
        "success": True,
        "guest_id": guest["guest_id"],
        "qr_code": guest["qr_code"],
        "first_name": "Ana",
        "last_name": guest["lastName"],  # the device's own guest: the full name
        "event": r.json()["event"],
    }
    assert r.json()["event"]["id"] == web.demo["eventId"]


def test_returning_device_on_an_event_it_has_no_place_on(web: LiveServer) -> None:
    slug = f"outra-{secrets.token_hex(3)}"
    other = web.sql(
        "web_test_create_event",
        {
            "organization_id": web.demo["organizationId"],
            "title": "Outra",
            "slug": slug,
            "capacity": None,
            "closes_at": None,
        },
    )
    with web.client() as c:
        register(web, client=c)
        r = c.get(f"/api/guest/me/{other}")
    assert r.status_code == 404
    assert r.json()["code"] == "event_not_found"


def test_no_cookie_or_a_forged_one_is_401(web: LiveServer) -> None:
    path = f"/api/guest/me/{web.demo['eventId']}"
    with web.client() as c:
        none = c.get(path)
        malformed = c.get(path, headers={"Cookie": "gl_session=abc"})
        unknown = c.get(path, headers={"Cookie": f"gl_session={secrets.token_hex(32)}"})
    for r in (none, malformed, unknown):
        assert r.status_code == 401
        assert r.json()["code"] == "session_invalid"
        assert r.json()["success"] is False


def test_me_with_a_bad_event_id_is_400(web: LiveServer) -> None:
    with web.client() as c:
        r = c.get("/api/guest/me/not-a-uuid")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "eventId"


# --- the QR image --------------------------------------------------------------------------


def test_qr_svg(web: LiveServer) -> None:
    guest = register(web)
    with web.client() as c:
        r = c.get(f"/api/guest/qr/{guest['qr_code']}.svg")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.headers["cache-control"].startswith("private")
    root = ET.fromstring(r.content)
    assert root.tag.endswith("svg")


@pytest.mark.parametrize(
    "code",
    ["0" * 32, "A" * 32, "abc", "g" * 32, "0" * 33, "%00" + "0" * 29, "..%2f..%2fetc"],
)
def test_unknown_or_malformed_qr_is_404(web: LiveServer, code: str) -> None:
    with web.client() as c:
        r = c.get(f"/api/guest/qr/{code}.svg")
    assert r.status_code == 404


# --- operations ------------------------------------------------------------------------------


def test_health_and_readiness(web: LiveServer) -> None:
    with web.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True}


def test_openapi_describes_every_route_and_body(web: LiveServer) -> None:
    with web.client() as c:
        doc = c.get("/openapi.json").json()
    paths = doc["paths"]
    for path, method in [
        ("/api/guest/verify-phone", "post"),
        ("/api/guest/verify-phone-v2", "post"),
        ("/api/guest/login", "post"),
        ("/api/guest/register", "post"),
        ("/api/guest/page/{promoter}/{event}", "get"),
        ("/api/guest/me/{event_id}", "get"),
        ("/api/guest/qr/{qr_code}.svg", "get"),
        ("/api/guest/logout", "post"),
        ("/promotor/{promoter}/{event}", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/openapi.json", "get"),
    ]:
        assert method in paths[path], path
    register_schema = paths["/api/guest/register"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert set(register_schema["required"]) == {
        "phone",
        "firstName",
        "lastName",
        "email",
        "password",
        "eventId",
    }
    assert {"birthDate", "gender", "city", "promoterId", "teamId"} <= set(
        register_schema["properties"]
    )
    login_responses = paths["/api/guest/login"]["post"]["responses"]
    assert {"200", "400", "401", "404", "409", "413", "415", "429", "500"} <= set(login_responses)


def test_the_app_is_a_real_uvicorn_process(web: LiveServer) -> None:
    assert web.proc.poll() is None
    assert Path(web.log_path).exists()


def test_the_leak_check_itself_catches_a_leak(web: LiveServer) -> None:
    # guard against a check that cannot fail: pretend the event title were private
    web.pii.add("Festa de Verão")
    try:
        with web.client() as c, pytest.raises(AssertionError, match="answered"):
            c.get("/api/guest/page/miguel/festa-verao")
    finally:
        web.pii.discard("Festa de Verão")
