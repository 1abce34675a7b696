"""Operations over real HTTP: readiness when the database goes away, idle keep-alive
connections (KEEP_ALIVE_SECONDS), rate limits off (database settings), X-Forwarded-For
ignored from an untrusted peer, security headers on every kind of answer."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.database import PgServer, drop_database
from tests.support.server import UNLIMITED, assert_security_headers, live_server, new_guest


def test_readiness_fails_when_the_database_goes_away(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("web_down")
    with live_server(pg_server, template_db, workdir, POOL_TIMEOUT="1") as web:
        with web.client() as c:
            assert c.get("/readyz").status_code == 200
            dbname = web.db_url.split("///", 1)[1].split("?", 1)[0]
            drop_database(pg_server, dbname)
            ready = c.get("/readyz")
            health = c.get("/healthz")
            verify = c.post("/api/guest/verify-phone", json={"phone": "935886310"})
            page = c.get("/promotor/miguel/festa-verao")
        assert ready.status_code == 503 and ready.json() == {"ready": False}
        assert health.status_code == 200  # the process itself is fine
        assert verify.status_code in (503, 504)
        assert verify.json()["code"] in ("unavailable", "timeout")
        assert "database" not in verify.text.lower()
        assert page.status_code in (503, 504)
        assert page.headers["content-type"].startswith("text/html")
        assert "Traceback" not in web.log_text()


def _get_on(sock: socket.socket) -> bytes:
    """GET /healthz on an open connection; the answer's status line ('' when it was closed)."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: guestlist\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:  # closed mid-answer: say so, never loop on the closed socket
            return b""
        body += chunk
    return head.split(b"\r\n", 1)[0]


def test_idle_keep_alive_connections_stay_open_for_keep_alive_seconds(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """KEEP_ALIVE_SECONDS reaches uvicorn: a connection idle for less is reused, one idle for
    longer is closed by the server (with uvicorn's own 5 s, the 3.5 s wait below would find it
    open). The default, 75 s, outlasts clients' and proxies' idle timeouts (test_config)."""
    workdir = tmp_path_factory.mktemp("web_keepalive")
    with live_server(
        pg_server, template_db, workdir, KEEP_ALIVE_SECONDS="2", RUN_WORKERS="0"
    ) as web:
        url = urlsplit(web.base_url)
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            assert _get_on(sock) == b"HTTP/1.1 200 OK"
            time.sleep(1.0)
            assert _get_on(sock) == b"HTTP/1.1 200 OK", "closed before KEEP_ALIVE_SECONDS"
            time.sleep(3.5)
            sock.settimeout(0.5)  # closed by now: recv sees the end at once, not after a wait
            try:
                closed = sock.recv(1) == b""
            except TimeoutError:
                closed = False
            assert closed, "still open well after KEEP_ALIVE_SECONDS"


def test_rate_limit_off(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("web_nolimit")
    with (
        live_server(pg_server, template_db, workdir, settings=UNLIMITED) as web,
        web.client() as c,
    ):
        phone = new_guest()["phone"]
        statuses = {
            c.post("/api/guest/verify-phone", json={"phone": phone}).status_code for _ in range(40)
        }
    assert statuses == {200}


def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("web_untrusted")
    with live_server(
        pg_server, template_db, workdir, {"rate_limit_per_minute": "5"}, TRUSTED_PROXIES=""
    ) as web:
        phone = new_guest()["phone"]
        statuses = []
        for _ in range(12):  # a new forged address each time: still one client (the peer)
            with web.client() as c:
                statuses.append(
                    c.post("/api/guest/verify-phone", json={"phone": phone}).status_code
                )
    assert 429 in statuses
    assert statuses.index(429) <= 10


def test_security_headers_on_every_kind_of_answer(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("web_headers")
    with (
        live_server(pg_server, template_db, workdir) as web,
        httpx.Client(base_url=web.base_url) as c,  # unchecked: asserted below
    ):
        answers = [
            c.get("/healthz"),
            c.get("/readyz"),
            c.get("/openapi.json"),
            c.get("/promotor/miguel/festa-verao"),
            c.get("/promotor/x/y"),
            c.get("/static/guest.css"),
            c.get("/static/nada.js"),
            c.get("/"),
            c.get(f"/api/guest/qr/{'0' * 32}.svg"),
            c.get("/api/guest/login"),
            c.post("/api/guest/verify-phone", content=b"x"),
            c.post("/api/guest/verify-phone", json={"phone": "1"}),
            c.post(
                "/api/guest/verify-phone",
                content=b"{" * 20000,
                headers={"Content-Type": "application/json"},
            ),
            c.get(f"/api/guest/me/{web.demo['eventId']}"),
        ]
    statuses = [a.status_code for a in answers]
    assert statuses == [200, 200, 200, 200, 404, 200, 404, 404, 404, 405, 415, 400, 413, 401]
    for answer in answers:
        assert_security_headers(answer)
        assert "x-request-id" in answer.headers
        assert answer.headers.get("server") is None
    no_store = [a for a in answers if a.request.url.path.startswith("/api/")]
    assert all(
        a.headers["cache-control"] in ("no-store",)
        for a in no_store
        if "/qr/" not in a.request.url.path
    )
