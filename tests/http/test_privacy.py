"""A guest's own data over real HTTP: the download (session cookie, or phone + password counted as
a login attempt), the erasure (confirmed; everything personal gone, the cookie cleared, the phone
free to register again) and their rate limit. The guests whose data these routes answer are kept
out of LiveServer.pii (their own export holds it by design); every other guest's data is still
checked absent from every answer, and theirs from the log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from guestlist.web.readers import SESSION_COOKIE
from tests.support.database import PgServer
from tests.support.server import (
    LiveServer,
    live_server,
    login_body,
    new_guest,
    register,
    register_body,
)

# Phone, email, last name and password of the guests registered here, for the log check.
_OWN_PII: set[str] = set()


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    # the per-phone delay apart (its seconds would race the requests): a client's own failures
    # lock it out of the phone for the whole window
    settings = {"login_phone_free_failures": "1000"}
    workdir = tmp_path_factory.mktemp("web_privacy")
    with live_server(pg_server, template_db, workdir, settings) as server:
        register(server)  # someone else: their data must never show in the answers below
        yield server
        log = server.log_text()
        for secret in server.pii | server.secrets | _OWN_PII:
            assert secret not in log, "a guest's data reached the log"


def own_guest(web: LiveServer, client: httpx.Client) -> dict[str, Any]:
    """Register a guest through `client` (which keeps the session cookie), not in web.pii."""
    guest = new_guest(birthDate="1994-02-03")
    _OWN_PII.update({guest["e164"], guest["email"], guest["lastName"]})
    r = client.post(
        "/api/guest/register",
        json=register_body(web, guest, birthDate="1994-02-03", city="Braga"),
    )
    assert r.status_code == 200, r.text
    web.secrets.add(r.json()["qr_code"])
    web.secrets.add(r.cookies[SESSION_COOKIE])
    return {**guest, "guest_id": r.json()["guest_id"], "qr_code": r.json()["qr_code"]}


def assert_download(web: LiveServer, r: httpx.Response, guest: dict[str, Any]) -> dict[str, Any]:
    """A download of `guest`'s data: a JSON attachment, never cached, with all of it and no
    hash, token or password."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"] == 'attachment; filename="os-meus-dados.json"'
    assert r.headers["cache-control"] == "no-store"
    data = r.json()
    assert set(data) == {"exportedAt", "account", "guestEntries", "sessions", "jobs"}
    account = data["account"]
    assert account["phone"] == guest["e164"]
    assert account["email"] == guest["email"]
    assert (account["firstName"], account["lastName"]) == ("Ana", guest["lastName"])
    assert (account["birthDate"], account["city"]) == ("1994-02-03", "Braga")
    [entry] = data["guestEntries"]
    assert entry["id"] == guest["guest_id"] and entry["qrCode"] == guest["qr_code"]
    assert entry["event"]["id"] == web.demo["eventId"]
    assert entry["promoter"]["displayName"] == "Miguel"
    assert entry["organization"]["name"] == "Noites de Lisboa"
    assert entry["status"] == "pending" and entry["checkedIn"] is False
    assert data["sessions"] and all(set(s) == {"createdAt", "expiresAt"} for s in data["sessions"])
    # no hash, no token, no password anywhere in the file
    assert not re.search(r"\$2[abxy]\$|[0-9a-f]{64}", r.text)
    assert guest["password"] not in r.text
    return data


def download(client: httpx.Client, **kwargs: Any) -> httpx.Response:
    """GET /api/guest/data (the client's cookie), or POST it with json= credentials."""
    return client.request("POST" if "json" in kwargs else "GET", "/api/guest/data", **kwargs)


# --- download --------------------------------------------------------------------------------


def test_download_with_the_session_cookie(web: LiveServer) -> None:
    with web.client() as c:
        guest = own_guest(web, c)
        r = download(c)
    data = assert_download(web, r, guest)
    assert len(data["sessions"]) == 1
    assert r.cookies.get(SESSION_COOKIE) is None  # the cookie is read, never re-sent


def test_download_with_phone_and_password(web: LiveServer) -> None:
    with web.client() as c:
        guest = own_guest(web, c)
    with web.client() as c:  # another device: no cookie
        r = download(c, json={"phone": guest["phone"], "password": guest["password"]})
    assert_download(web, r, guest)


def test_download_names_queued_jobs_without_their_request(web: LiveServer) -> None:
    with web.client() as c:
        guest = own_guest(web, c)
        queued = c.post("/api/guest/login-v2?wait=10", json=login_body(web, guest))
        assert queued.status_code == 200, queued.text
        r = download(c)
    data = assert_download(web, r, guest)
    [job] = data["jobs"]
    assert job["kind"] == "login" and job["status"] == "completed"
    assert job["eventId"] == web.demo["eventId"]
    # a job names a phone, not an account: nothing of its request or result is shown
    assert set(job) == {"id", "kind", "status", "eventId", "createdAt", "finishedAt"}


def test_wrong_password_is_refused_like_the_login(web: LiveServer) -> None:
    with web.client() as c:
        guest = own_guest(web, c)
    unknown = new_guest()
    with web.client() as c:
        wrong = download(c, json={"phone": guest["phone"], "password": "Errada123"})
        nobody = download(c, json={"phone": unknown["phone"], "password": "Errada123"})
        login = c.post("/api/guest/login", json=login_body(web, guest, password="Errada123"))
    assert wrong.status_code == nobody.status_code == login.status_code == 401
    # one count per phone and client: the download's failure is the login's first
    left = [r.json()["attempts_left"] for r in (wrong, nobody, login)]
    assert left == [4, 4, 3]
    bodies = [
        {k: v for k, v in r.json().items() if k != "attempts_left"} for r in (wrong, nobody, login)
    ]
    assert bodies[0] == bodies[1] == bodies[2]
    assert wrong.json()["code"] == "invalid_credentials"


def test_failed_downloads_count_toward_the_login_lockout(web: LiveServer) -> None:
    with web.client() as c:
        guest = own_guest(web, c)
    with web.client() as c:
        for _ in range(5):
            r = download(c, json={"phone": guest["phone"], "password": "Errada123"})
            assert r.status_code == 401
        locked = download(c, json={"phone": guest["phone"], "password": guest["password"]})
        login = c.post("/api/guest/login", json=login_body(web, guest))
    for r in (locked, login):
        assert r.status_code == 429, r.text
        assert r.json()["code"] == "account_locked"
        assert int(r.headers["retry-after"]) > 0


def test_download_needs_a_session_or_credentials(web: LiveServer) -> None:
    with web.client() as c:
        no_cookie = download(c)
        c.cookies.set(SESSION_COOKIE, "f" * 64)
        unknown = download(c)
    with web.client() as c:
        bad = download(c, json={"phone": "12", "password": ""})
        junk = c.post("/api/guest/data", content=b"phone=1", headers={"Content-Type": "text/plain"})
    assert no_cookie.status_code == unknown.status_code == 401
    assert no_cookie.json()["code"] == unknown.json()["code"] == "session_invalid"
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"phone", "password"}
    assert junk.status_code == 415


# --- erasure ---------------------------------------------------------------------------------


def test_erasure_by_session_removes_everything_and_clears_the_cookie(web: LiveServer) -> None:
    before = web.sql("web_test_event_guest_count", {"event_id": web.demo["eventId"]})
    with web.client() as c:
        guest = own_guest(web, c)
        token = c.cookies[SESSION_COOKIE]
        queued = c.post("/api/guest/login-v2?wait=10", json=login_body(web, guest))
        assert queued.status_code == 200, queued.text
        unconfirmed = c.post("/api/guest/erase", json={})
        falsy = c.post("/api/guest/erase", json={"confirm": "true"})
        assert web.sql("web_test_phone_traces", {"phone": guest["e164"]}) == 3
        r = c.post("/api/guest/erase", json={"confirm": True})
        jar_after = c.cookies.get(SESSION_COOKIE)
    for refused in (unconfirmed, falsy):
        assert refused.status_code == 400
        assert [e["field"] for e in refused.json()["errors"]] == ["confirm"]
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True
    assert r.json()["erased"]["accounts"] == 1
    assert r.json()["erased"]["guestRows"] == 1
    assert r.json()["erased"]["jobs"] == 1
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f'{SESSION_COOKIE}=""') and "Max-Age=0" in cookie
    assert jar_after is None
    assert web.sql("web_test_phone_traces", {"phone": guest["e164"]}) == 0
    count = web.sql("web_test_event_guest_count", {"event_id": web.demo["eventId"]})
    assert count == before + 1, "the erased guest still counts on the event"

    with web.client() as c:
        c.cookies.set(SESSION_COOKIE, token)
        by_cookie = download(c)
        returning = c.get(f"/api/guest/me/{web.demo['eventId']}")
        again = c.post("/api/guest/erase", json={"confirm": True})
    with web.client() as c:
        by_password = download(c, json={"phone": guest["phone"], "password": guest["password"]})
        login = c.post("/api/guest/login", json=login_body(web, guest))
        qr = c.get(f"/api/guest/qr/{guest['qr_code']}.svg")
    assert by_cookie.status_code == returning.status_code == again.status_code == 401
    assert by_password.status_code == login.status_code == 401
    assert qr.status_code == 404

    with web.client() as c:  # the phone is free again
        r = c.post("/api/guest/register", json=register_body(web, guest))
    assert r.status_code == 200, r.text
    web.secrets.update({r.json()["qr_code"], r.cookies[SESSION_COOKIE]})


def test_erasure_by_phone_and_password(web: LiveServer) -> None:
    with web.client() as c:
        guest = own_guest(web, c)
    with web.client() as c:
        half = c.post("/api/guest/erase", json={"confirm": True, "phone": guest["phone"]})
        wrong = c.post(
            "/api/guest/erase",
            json={"confirm": True, "phone": guest["phone"], "password": "Errada123"},
        )
        both_bad = c.post("/api/guest/erase", json={"phone": "12", "password": "x"})
        r = c.post(
            "/api/guest/erase",
            json={"confirm": True, "phone": guest["phone"], "password": guest["password"]},
        )
    assert half.status_code == 400
    assert [e["field"] for e in half.json()["errors"]] == ["password"]
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    assert both_bad.status_code == 400
    assert {e["field"] for e in both_bad.json()["errors"]} == {"phone", "confirm"}
    assert r.status_code == 200, r.text
    assert r.json()["erased"]["accounts"] == 1
    assert web.sql("web_test_phone_traces", {"phone": guest["e164"]}) == 0


def test_erasure_without_a_session_or_credentials(web: LiveServer) -> None:
    with web.client() as c:
        r = c.post("/api/guest/erase", json={"confirm": True})
    assert r.status_code == 401
    assert r.json()["code"] == "session_invalid"


# --- rate limit ------------------------------------------------------------------------------


def test_privacy_routes_have_a_rate_limit_of_their_own(web: LiveServer) -> None:
    """rate_limit_per_minute=20 (TEST_SETTINGS in tests/support/server.py): the 21st call in a
    minute is refused; a window that turns over mid-test only delays it, so the calls go on
    until the refusal (at most 41)."""
    statuses: list[int] = []
    with web.client() as c:
        c.cookies.set(SESSION_COOKIE, "e" * 64)
        for _ in range(41):
            r = download(c)
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.json()["code"] == "rate_limited"
                assert int(r.headers["retry-after"]) > 0
                break
        other_bucket = c.post("/api/guest/verify-phone", json={"phone": new_guest()["phone"]})
    assert statuses[-1] == 429
    assert len(statuses) > 20 and set(statuses[:-1]) == {401}
    assert other_bucket.status_code == 200


# --- the description -------------------------------------------------------------------------


def test_openapi_documents_the_privacy_routes(web: LiveServer) -> None:
    with web.client() as c:
        doc = c.get("/openapi.json").json()
    get_data = doc["paths"]["/api/guest/data"]["get"]
    assert get_data["parameters"] == [
        {
            "name": SESSION_COOKIE,
            "in": "cookie",
            "required": True,
            "description": "The session token; named __Host-gl_session over HTTPS.",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        }
    ]
    erase = doc["paths"]["/api/guest/erase"]["post"]
    schema = erase["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["confirm"]
    assert schema["properties"]["confirm"]["const"] is True
    assert schema["dependentRequired"] == {"phone": ["password"], "password": ["phone"]}
    assert schema["properties"]["password"]["minLength"] == 1
    assert erase["parameters"][0]["required"] is False
    assert {"400", "401", "429"} <= set(erase["responses"])
