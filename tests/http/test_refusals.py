"""Every refusal over real HTTP: status, stable code, pt-PT message, field list named by JSON keys,
Retry-After where due; bad bodies never reach a 500."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
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

POST_ROUTES = [
    "/api/guest/verify-phone",
    "/api/guest/verify-phone-v2",
    "/api/guest/login",
    "/api/guest/register",
]


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_refusals")) as server:
        yield server
        log = server.log_text()
        for secret in server.pii | server.secrets:
            assert secret not in log, "a guest's data reached the log"
        assert "Traceback" not in log


def assert_refusal(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["success"] is False
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body["errors"]]


def new_event(web: LiveServer, capacity: int | None = None, closed: bool = False) -> str:
    slug = f"evento-{secrets.token_hex(4)}"
    params = {
        "organization_id": web.demo["organizationId"],
        "title": "Evento de teste",
        "slug": slug,
        "capacity": capacity,
    }
    if closed:
        return str(web.sql("web_test_close_event_now", params))
    return str(web.sql("web_test_create_event", {**params, "closes_at": None}))


# --- 400: the field list, named by JSON keys -----------------------------------------------------


def test_register_lists_every_bad_field_by_its_json_key(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    body = register_body(
        web,
        guest,
        firstName="   ",
        lastName="x" * 81,
        email="nao-e-email",
        password="fraca",
        birthDate=tomorrow,
        gender="X",
        city="c" * 81,
    )
    with web.client() as c:
        r = c.post("/api/guest/register", json=body)
    refusal = assert_refusal(r, 400, "invalid_input")
    assert fields(refusal) == [
        "firstName",
        "lastName",
        "email",
        "password",
        "birthDate",
        "gender",
        "city",
    ]
    assert all(e["message"] and e["code"] for e in refusal["errors"])


@pytest.mark.parametrize("route", ["/api/guest/register", "/api/guest/register-v2"])
def test_empty_names_bad_email_and_weak_password_in_one_answer(web: LiveServer, route: str) -> None:
    guest = new_guest()
    web.remember(guest)
    body = register_body(web, guest, firstName="", lastName="", email="x", password="a")
    with web.client() as c:
        r = c.post(route, json=body)
    refusal = assert_refusal(r, 400, "invalid_input")
    assert fields(refusal) == ["firstName", "lastName", "email", "password"]


@pytest.mark.parametrize("route", ["/api/guest/register", "/api/guest/register-v2"])
def test_invisible_characters_in_names_are_refused(web: LiveServer, route: str) -> None:
    guest = new_guest()
    web.remember(guest)
    body = register_body(
        web,
        guest,
        firstName="Ana\u202e",  # RIGHT-TO-LEFT OVERRIDE: would show "Ana" + a reversed tail
        lastName="Sil\u200bva",
        email="ana\u2066@example.pt",
        city="Porto\x07",
    )
    with web.client() as c:
        r = c.post(route, json=body)
    refusal = assert_refusal(r, 400, "invalid_input")
    assert [(e["field"], e["code"]) for e in refusal["errors"]] == [
        ("firstName", "invalid_characters"),
        ("lastName", "invalid_characters"),
        ("email", "invalid_characters"),
        ("city", "invalid_characters"),
    ]
    assert all("invisíveis" in e["message"] for e in refusal["errors"])


@pytest.mark.parametrize(
    "route", ["/api/guest/login", "/api/guest/login-v2", "/api/guest/register"]
)
def test_a_password_over_72_bytes_is_refused(web: LiveServer, route: str) -> None:
    guest = new_guest(password="Aa1" + "é" * 35)  # 38 characters, 73 bytes
    web.remember(guest)
    body = (register_body if route.endswith("register") else login_body)(web, guest)
    with web.client() as c:
        r = c.post(route, json=body)
    refusal = assert_refusal(r, 400, "invalid_input")
    assert [(e["field"], e["code"]) for e in refusal["errors"]] == [("password", "too_long")]
    assert "72 bytes" in refusal["errors"][0]["message"]


def test_a_72_byte_password_registers_and_logs_in(web: LiveServer) -> None:
    guest = new_guest(password="Aa1" + "é" * 34 + "x")  # 72 bytes
    web.remember(guest)
    with web.client() as c:
        reg = c.post("/api/guest/register", json=register_body(web, guest))
        login = c.post("/api/guest/login", json=login_body(web, guest))
    assert reg.status_code == 200, reg.text
    assert login.status_code == 200, login.text
    web.secrets.add(reg.json()["qr_code"])


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"password": "semmaiusculas1"}, "password"),
        ({"password": "SEMMINUSCULAS1"}, "password"),
        ({"password": "SemNumeros"}, "password"),
        ({"password": "Curta1"}, "password"),
        ({"firstName": "n" * 81}, "firstName"),
        ({"email": "a@b"}, "email"),
        ({"birthDate": "1899-12-31"}, "birthDate"),
        ({"gender": "masculino"}, "gender"),
    ],
)
def test_each_rule_names_its_field(web: LiveServer, over: dict[str, str], field: str) -> None:
    guest = new_guest()
    web.remember(guest)
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, guest, **over))
    assert fields(assert_refusal(r, 400, "invalid_input")) == [field]


def test_missing_fields_are_listed_at_once(web: LiveServer) -> None:
    with web.client() as c:
        register_r = c.post("/api/guest/register", json={})
        login_r = c.post("/api/guest/login", json={"phone": "935886310"})
        phone_r = c.post("/api/guest/verify-phone", json={})
    assert fields(assert_refusal(register_r, 400, "invalid_input")) == [
        "phone",
        "firstName",
        "lastName",
        "email",
        "password",
        "eventId",
    ]
    assert fields(assert_refusal(login_r, 400, "invalid_input")) == ["password", "eventId"]
    assert fields(assert_refusal(phone_r, 400, "invalid_input")) == ["phone"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": 935886310}, "phone"),
        ({"phone": ["935886310"]}, "phone"),
        ({"phone": {"n": 1}}, "phone"),
        ({"phone": True}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"phone": "not a phone"}, "phone"),
        ({"phone": "+351 935 886 3100"}, "phone"),
        ({"phone": "935\x00886310"}, "phone"),
    ],
)
def test_bad_phones(web: LiveServer, body: dict[str, Any], field: str) -> None:
    with web.client() as c:
        r = c.post("/api/guest/verify-phone", json=body)
    refusal = assert_refusal(r, 400, "invalid_input")
    assert fields(refusal) == [field]


@pytest.mark.parametrize(
    "over",
    [
        {"eventId": "nao-uuid"},
        {"eventId": 5},
        {"promoterId": "x"},
        {"teamId": []},
        {"password": 12345678},
        {"birthDate": "01/02/1990"},
        {"birthDate": 19900102},
        {"city": {"nome": "Porto"}},
        {"gender": 1},
        {"firstName": None},
    ],
)
def test_wrong_types_are_400_with_the_key(web: LiveServer, over: dict[str, Any]) -> None:
    guest = new_guest()
    web.remember(guest)
    key = next(iter(over))
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, guest, **over))
    assert key in fields(assert_refusal(r, 400, "invalid_input"))


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"[1,2",
        b"\xff\xfe",
        b'{"phone": "935886310"',
        b"null",
        b"[]",
        b'"texto"',
        b"123",
        b"NaN",
    ],
)
def test_bodies_that_are_not_a_json_object(web: LiveServer, route: str, raw: bytes) -> None:
    with web.client() as c:
        r = c.post(route, content=raw, headers={"Content-Type": "application/json"})
    refusal = assert_refusal(r, 400, "invalid_input")
    assert fields(refusal) == ["body"]


# --- 401 ------------------------------------------------------------------------------------------


def test_wrong_password_and_unknown_phone_answer_alike(web: LiveServer) -> None:
    guest = register(web)
    stranger = new_guest()
    with web.client() as c:
        wrong = c.post("/api/guest/login", json=login_body(web, guest, password="Errada123"))
        unknown = c.post("/api/guest/login", json=login_body(web, stranger))
    a = assert_refusal(wrong, 401, "invalid_credentials")
    b = assert_refusal(unknown, 401, "invalid_credentials")
    assert a == b
    assert "set-cookie" not in wrong.headers


# --- 404 ------------------------------------------------------------------------------------------


def test_unknown_event(web: LiveServer) -> None:
    guest = register(web)
    other = new_guest()
    web.remember(other)
    missing = "00000000-0000-4000-8000-000000000000"
    with web.client() as c:
        login = c.post("/api/guest/login", json=login_body(web, guest, eventId=missing))
        reg = c.post("/api/guest/register", json=register_body(web, other, eventId=missing))
    assert_refusal(login, 404, "event_not_found")
    assert_refusal(reg, 404, "event_not_found")


def test_promoter_not_working_the_event(web: LiveServer) -> None:
    guest = register(web)
    stranger = "00000000-0000-4000-8000-000000000001"
    with web.client() as c:
        r = c.post("/api/guest/login", json=login_body(web, guest, promoterId=stranger))
    assert_refusal(r, 404, "promoter_not_found")


def test_unknown_api_route_and_method(web: LiveServer) -> None:
    with web.client() as c:
        missing = c.get("/api/guest/nada")
        method = c.get("/api/guest/login")
        html = c.get("/nada")
    assert_refusal(missing, 404, "not_found")
    assert_refusal(method, 405, "method_not_allowed")
    assert "POST" in method.headers["allow"]
    assert html.status_code == 404 and "Página não encontrada" in html.text


# --- 409 ------------------------------------------------------------------------------------------


def test_phone_already_registered(web: LiveServer) -> None:
    guest = register(web)
    with web.client() as c:
        again = register_body(web, guest, phone=guest["e164"], email="outro@example.pt")
        r = c.post("/api/guest/register", json=again)
    assert_refusal(r, 409, "phone_exists")


def test_closed_list(web: LiveServer) -> None:
    event = new_event(web, closed=True)
    known = register(web)
    newcomer = new_guest()
    web.remember(newcomer)
    with web.client() as c:
        login = c.post("/api/guest/login", json=login_body(web, known, eventId=event, teamId=None))
        reg = c.post(
            "/api/guest/register", json=register_body(web, newcomer, eventId=event, teamId=None)
        )
        verify = c.post("/api/guest/verify-phone", json={"phone": newcomer["phone"]})
    assert_refusal(login, 409, "guest_list_closed")
    assert_refusal(reg, 409, "guest_list_closed")
    assert verify.json()["exists"] is False  # the refused registration left no account


def test_full_list(web: LiveServer) -> None:
    event = new_event(web, capacity=1)
    first = new_guest()
    second = new_guest()
    web.remember(first)
    web.remember(second)
    known = register(web)
    with web.client() as c:
        ok = c.post("/api/guest/register", json=register_body(web, first, eventId=event))
        assert ok.status_code == 200, ok.text
        web.secrets.add(ok.json()["qr_code"])
        reg = c.post("/api/guest/register", json=register_body(web, second, eventId=event))
        login = c.post("/api/guest/login", json=login_body(web, known, eventId=event))
        # the guest already on the list still gets their pass
        again = c.post("/api/guest/login", json=login_body(web, first, eventId=event))
    assert_refusal(reg, 409, "guest_list_full")
    assert_refusal(login, 409, "guest_list_full")
    assert again.status_code == 200 and again.json()["qr_code"] == ok.json()["qr_code"]


# --- 429 ------------------------------------------------------------------------------------------


def retry_after(r: httpx.Response) -> int:
    value = int(r.headers["retry-after"])
    assert 1 <= value <= 60 * 15
    assert r.json()["retry_after"] == value
    return value


@pytest.mark.parametrize("route", ["/api/guest/verify-phone", "/api/guest/verify-phone-v2"])
def test_rate_limit_per_client(web: LiveServer, route: str) -> None:
    ip = web.new_ip()
    statuses = []
    with web.client(ip=ip) as c:
        for _ in range(45):  # the limit is 20 a minute; a window may turn over once
            # a new phone each time: the per-phone limit (10 a minute) is not what answers
            r = c.post(route, json={"phone": new_guest()["phone"]})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert_refusal(r, 429, "rate_limited")
                assert retry_after(r) <= 60
                break
    assert statuses[-1] == 429
    assert set(statuses[:-1]) == {200}
    with web.client() as other:  # another client is not limited
        assert other.post(route, json={"phone": new_guest()["phone"]}).status_code == 200


def test_login_rate_limit_is_returned_by_the_function(web: LiveServer) -> None:
    statuses = []
    with web.client() as c:
        for n in itertools.count():
            # each attempt from a fresh phone, so the account lock cannot answer first
            body = login_body(web, new_guest(), password="Errada123")
            r = c.post("/api/guest/login", json=body)
            statuses.append(r.status_code)
            if r.status_code == 429 or n > 45:
                break
    assert statuses[-1] == 429
    assert_refusal(r, 429, "rate_limited")
    retry_after(r)


def test_repeated_wrong_passwords_make_the_phone_wait(web: LiveServer) -> None:
    guest = register(web)
    with web.client() as c:
        answers = [
            c.post("/api/guest/login", json=login_body(web, guest, password="Errada123"))
            for _ in range(3)
        ]
    with web.client() as other:  # another address, the right password: the phone waits
        delayed = other.post("/api/guest/login", json=login_body(web, guest))
    assert [a.status_code for a in answers] == [401] * 3
    assert_refusal(delayed, 429, "account_locked")
    assert 1 <= retry_after(delayed) <= 2


# --- 413 / 415 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", POST_ROUTES)
def test_huge_body_is_413(web: LiveServer, route: str) -> None:
    body = json.dumps({"phone": "935886310", "pad": "x" * 20_000}).encode()
    with web.client() as c:
        r = c.post(route, content=body, headers={"Content-Type": "application/json"})
    assert_refusal(r, 413, "payload_too_large")


def test_huge_chunked_body_without_length_is_413(web: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"phone": "935886310", "pad": "'
        for _ in range(40):
            yield b"x" * 1024
        yield b'"}'

    with web.client() as c:
        r = c.post(
            "/api/guest/verify-phone",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    assert "content-length" not in r.request.headers
    assert_refusal(r, 413, "payload_too_large")


def test_body_just_under_the_limit_is_read(web: LiveServer) -> None:
    body = json.dumps({"phone": new_guest()["phone"], "pad": "x" * 16_000}).encode()
    assert len(body) <= 16 * 1024
    with web.client() as c:
        r = c.post(
            "/api/guest/verify-phone", content=body, headers={"Content-Type": "application/json"}
        )
    assert r.status_code == 200


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "text/json",
    ],
)
def test_non_json_content_type_is_415(
    web: LiveServer, route: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with web.client() as c:
        r = c.post(route, content=b'{"phone": "935886310"}', headers=headers)
    assert_refusal(r, 415, "unsupported_media_type")


# --- never a 500 for bad input --------------------------------------------------------------------

NASTY_VALUES: list[Any] = [
    None,
    "",
    " ",
    0,
    -1,
    1e308,
    True,
    [],
    {},
    "x" * 5000,
    "\x00",
    "\ud800",
    "' OR 1=1 --",
    "%s",
    "%(phone)s",
    "{}",
    "😀" * 50,
    "00000000-0000-0000-0000-000000000000",
    "9999-99-99",
    "2000-01-01",
    "+351935886310",
    2**70,
]


@pytest.mark.parametrize("route", POST_ROUTES)
def test_no_input_reaches_a_500(web: LiveServer, route: str) -> None:
    keys = [
        "phone",
        "password",
        "eventId",
        "promoterId",
        "teamId",
        "firstName",
        "lastName",
        "email",
        "birthDate",
        "gender",
        "city",
    ]
    guest = new_guest()
    web.remember(guest)
    base = register_body(web, guest)
    statuses = set()
    with web.client() as c:
        for key, value in itertools.product(keys, NASTY_VALUES):
            raw = json.dumps({**base, key: value}).encode()  # ASCII: "\ud800" stays an escape
            r = c.post(
                route,
                content=raw,
                headers={"Content-Type": "application/json", "X-Forwarded-For": web.new_ip()},
            )
            assert r.status_code < 500, (key, value, r.text)
            statuses.add(r.status_code)
            if r.status_code == 200 and route == "/api/guest/register":
                web.secrets.add(r.json()["qr_code"])
                base = register_body(web, guest := new_guest())
                web.remember(guest)
    assert 400 in statuses


@pytest.mark.parametrize(
    "path",
    [
        "/api/guest/me/%00",
        "/api/guest/me/" + "9" * 500,
        "/api/guest/qr/%00.svg",
        "/api/guest/page/%00/x",
        "/api/guest/page/a/" + "b" * 5000,
        "/promotor/%ff/%fe",
        "/api/guest/qr/" + "a" * 32 + ".svg/x",
    ],
)
def test_odd_paths_are_never_500(web: LiveServer, path: str) -> None:
    with web.client() as c:
        r = c.get(path)
    assert 400 <= r.status_code < 500
