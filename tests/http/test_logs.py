"""What the server writes: one JSON line per request (method, route template, status, duration,
request id), and never a phone, email, last name, password, session token or QR code."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, login_body, new_guest, register_body

REQUEST_FIELDS = {"ts", "level", "event", "method", "route", "status", "duration_ms", "request_id"}


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_logs")) as server:
        yield server


def request_lines(web: LiveServer) -> list[dict]:
    lines = []
    for line in web.log_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "request":
                lines.append(record)
    return lines


def wait_for_lines(web: LiveServer, n: int, request_id: str | None = None) -> list[dict]:
    """The request lines (of `request_id` only, if given) once there are n of them."""
    for _ in range(100):  # the server flushes its log line after answering
        lines = [
            line
            for line in request_lines(web)
            if request_id is None or line.get("request_id") == request_id
        ]
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    return lines


def test_nothing_private_reaches_the_log(web: LiveServer) -> None:
    guest = new_guest(firstName="Zacarias")
    web.remember(guest)
    wrong = "Errada999Palavra"
    sent = 0
    with web.client() as c:
        for phone in (guest["phone"], guest["e164"]):
            assert c.post("/api/guest/verify-phone", json={"phone": phone}).status_code == 200
            sent += 1
        r = c.post("/api/guest/register", json=register_body(web, guest, city="Cidadezinha"))
        assert r.status_code == 200
        qr_code, token = r.json()["qr_code"], r.cookies["gl_session"]
        sent += 1
        assert c.post("/api/guest/login", json=login_body(web, guest)).status_code == 200
        assert (
            c.post("/api/guest/login", json=login_body(web, guest, password=wrong)).status_code
            == 401
        )
        # a refused registration (phone_exists) and an invalid one (field list)
        assert c.post("/api/guest/register", json=register_body(web, guest)).status_code == 409
        bad = register_body(web, guest, email="nao-e-email", password="curta")
        assert c.post("/api/guest/register", json=bad).status_code == 400
        assert c.get(f"/api/guest/me/{web.demo['eventId']}").status_code == 200
        assert c.get(f"/api/guest/qr/{qr_code}.svg").status_code == 200
        assert c.get(f"/api/guest/qr/{'f' * 32}.svg").status_code == 404
        assert c.get("/promotor/miguel/festa-verao").status_code == 200
        assert c.post("/api/guest/verify-phone", content=b"{not json").status_code == 415
        sent += 9
    lines = wait_for_lines(web, sent)
    assert len(lines) >= sent
    log = web.log_text()
    national = guest["e164"].removeprefix("+351")
    for secret in (
        guest["phone"],
        guest["e164"],
        national,
        guest["email"],
        guest["lastName"],
        guest["password"],
        wrong,
        qr_code,
        token,
        "Cidadezinha",
        "Zacarias",
    ):
        assert secret not in log, secret


def test_one_structured_line_per_request_with_the_route_template(web: LiveServer) -> None:
    # this test's own lines, by request id: an earlier test's last lines may land meanwhile
    with web.client(headers={"X-Request-ID": "teste-123"}) as c:
        r = c.get(f"/api/guest/qr/{'a' * 32}.svg")
        assert r.headers["x-request-id"] == "teste-123"
        c.get("/promotor/miguel/festa-verao")
        c.get("/nada/aqui/935886310")
    lines = wait_for_lines(web, 3, request_id="teste-123")
    assert [line["route"] for line in lines] == [
        "/api/guest/qr/{qr_code}.svg",
        "/promotor/{promoter}/{event}",
        "-",
    ]
    assert [line["status"] for line in lines] == [404, 200, 404]
    for line in lines:
        assert set(line) >= REQUEST_FIELDS
        assert line["method"] == "GET"
        assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    assert [line["request_id"] for line in lines] == ["teste-123"] * 3
    assert lines[0]["code"] == "qr_not_found"
    assert "935886310" not in web.log_text()


def test_a_forged_request_id_is_replaced(web: LiveServer) -> None:
    with web.client(headers={"X-Request-ID": 'a b"c' + "x" * 100}) as c:
        r = c.get("/healthz")
    rid = r.headers["x-request-id"]
    assert len(rid) == 32 and rid.isalnum()
    with web.client() as c:
        ids = {c.get("/healthz").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_every_line_the_server_writes_is_json(web: LiveServer) -> None:
    """uvicorn's own lines (startup) and the app's alike: one JSON object per line, the
    libraries' carrying their logger's name."""
    with web.client() as c:
        assert c.get("/healthz").status_code == 200
    wait_for_lines(web, 1)
    lines = [line for line in web.log_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    assert all({"ts", "level", "event"} <= set(r) for r in records)
    uvicorn_lines = [r for r in records if str(r.get("logger", "")).startswith("uvicorn")]
    assert any("Application startup complete" in r["event"] for r in uvicorn_lines), records[:5]
