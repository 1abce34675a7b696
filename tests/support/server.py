"""A real HTTP server for the web tests: `python app.py` (uvicorn, uvloop, httptools) as a
subprocess on a free port, against a database of its own copied from the migrated template
(database.py's template_db) with the demo loaded. Its stdout and stderr go to a file the tests read.

Every response a test's client receives is checked on the way in: security headers present, and
no registered guest's phone, email, last name or password in the body (`LiveServer.pii`), but for
the last name a session's own pass gives its guest (`own_last_name`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from guestlist.queries import load_queries
from tests.support.database import PgServer, create_database, drop_database, tq

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
WEB_TEST_QUERIES = load_queries(TESTS / "web_queries.sql")
PASSWORD = "Segredo123"
SECURITY_HEADERS = {
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
}


def wq(name: str) -> Any:
    """A statement from tests/web_queries.sql (admin-side setup for the web tests)."""
    return WEB_TEST_QUERIES[name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_security_headers(response: httpx.Response) -> None:
    missing = SECURITY_HEADERS - set(response.headers.keys())
    assert not missing, f"{response.request.method} {response.request.url.path}: {missing}"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("no-referrer", "same-origin")


# The answers of a session's own pass (the QR step, the ticket): they give its guest their last
# name, to a request with a session cookie, in the pass's last_name and nowhere else.
OWN_PASS_PATHS = ("/api/guest/me/", "/api/guest/session/")


def own_last_name(response: httpx.Response) -> str | None:
    """The last name a session's own pass answered its guest, if this is one."""
    request = response.request
    if not request.url.path.startswith(OWN_PASS_PATHS) or "gl_session" not in request.headers.get(
        "cookie", ""
    ):
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    guest = data.get("guest", data) if isinstance(data, dict) else None
    name = guest.get("last_name") if isinstance(guest, dict) else None
    return name if isinstance(name, str) else None


@dataclass
class LiveServer:
    base_url: str
    db_url: str
    log_path: Path
    demo: dict[str, str]
    proc: subprocess.Popen[bytes]
    pii: set[str] = field(default_factory=set)  # never in any answer, never in the log
    secrets: set[str] = field(default_factory=set)  # answered to their owner, never logged
    _ips: Iterator[int] = field(default_factory=lambda: iter(range(1, 60000)))

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def new_ip(self) -> str:
        """A client address of its own (rate-limit bucket), passed via the trusted proxy."""
        n = next(self._ips)
        return f"198.18.{n // 250}.{n % 250 + 1}"

    def client(self, ip: str | None = None, **kwargs: Any) -> httpx.Client:
        """An HTTP client whose answers are checked for headers and leaks."""
        headers = {"X-Forwarded-For": ip or self.new_ip(), **kwargs.pop("headers", {})}

        def check(response: httpx.Response) -> None:
            response.read()
            assert_security_headers(response)
            body = response.text.lower()
            own = own_last_name(response)
            leaked = [s for s in self.pii if s.lower() in body and s != own]
            assert not leaked, f"{response.request.url.path} answered {leaked}"

        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            event_hooks={"response": [check]},
            timeout=30,
            **kwargs,
        )

    def remember(self, guest: dict[str, str]) -> None:
        """A guest's private data, for the leak checks."""
        e164 = guest["e164"]
        national = e164.removeprefix("+351")
        self.pii.update(
            {
                e164,
                national,
                f"{national[:3]} {national[3:6]} {national[6:]}",
                guest["email"],
                guest["lastName"],
                guest["password"],
            }
        )

    def sql(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Admin-side setup (as the superuser) from tests/web_queries.sql."""
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            row = conn.execute(wq(name), params).fetchone()
        return row[0] if row else None


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"app.py not ready in 60 s:\n{log_path.read_text()}")


@contextlib.contextmanager
def run_app(db_url: str, log_path: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python app.py` against db_url; yields (base_url, process); stops it afterwards."""
    port = free_port()
    full_env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "POOL_MIN": "1",
        "POOL_MAX": "8",
        "TRUSTED_PROXIES": "127.0.0.1,::1",
        "CLEANUP_INTERVAL_SECONDS": "0",
        # plain http: the cookie is gl_session without Secure (a test turns HTTPS on)
        "HTTPS": "0",
        **env,
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=full_env, stdout=log, stderr=log
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, proc, log_path)
        yield base_url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# The web tests' security settings unless a test gives its own: every route bucket limited to
# 20 requests a minute per client address (the production ceilings are far higher, see
# docs/config.md), so a test can reach a limit in a few requests.
TEST_SETTINGS: dict[str, str | None] = {"rate_limit_per_minute": "20"}
# Every rate limit off: per address, per phone and the ceiling on unknown numbers.
UNLIMITED: dict[str, str | None] = {
    "rate_limit_per_minute": "0",
    "phone_lookups_per_minute": "0",
    "unknown_phone_lookups_per_minute": "0",
}


@contextlib.contextmanager
def live_server(
    pg_server: PgServer,
    template_db: str,
    workdir: Path,
    settings: dict[str, str | None] | None = None,
    **env: str,
) -> Iterator[LiveServer]:
    """A database of its own (demo loaded, `settings` over TEST_SETTINGS written with
    admin.set_setting; None = the database's default) and app.py serving it."""
    dbname = f"web_{secrets.token_hex(6)}"
    create_database(pg_server, dbname, template=template_db)
    try:
        db_url = pg_server.url(dbname)
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute(tq("load_demo")).fetchone()
            for key, value in {**TEST_SETTINGS, **(settings or {})}.items():
                conn.execute(wq("web_test_set_setting"), {"key": key, "value": value})
        assert row is not None
        demo = {k: str(v) for k, v in row[0].items()}
        log_path = workdir / "app.log"
        with run_app(db_url, log_path, **env) as (base_url, proc):
            yield LiveServer(base_url, db_url, log_path, demo, proc)
    finally:
        drop_database(pg_server, dbname)


_phones = iter(range(10_000_000))
_PHONE_BASE = secrets.randbelow(9_000_000)


def new_guest(**over: str) -> dict[str, str]:
    """A guest nobody registered yet: a valid PT mobile (several ways to write it) and details."""
    n = (_PHONE_BASE + next(_phones)) % 10_000_000
    national = f"91{n:07d}"
    tag = secrets.token_hex(4)
    guest = {
        "phone": f"{national[:3]} {national[3:6]} {national[6:]}",
        "e164": f"+351{national}",
        "firstName": "Ana",
        "lastName": f"Apelido{tag}",
        "email": f"ana.{tag}@example.pt",
        "password": PASSWORD,
    }
    guest.update(over)
    return guest


def register_body(server: LiveServer, guest: dict[str, str], **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "phone": guest["phone"],
        "firstName": guest["firstName"],
        "lastName": guest["lastName"],
        "email": guest["email"],
        "password": guest["password"],
        "eventId": server.demo["eventId"],
        "promoterId": server.demo["promoterId"],
        "teamId": server.demo["teamId"],
    }
    body.update(over)
    return body


def login_body(server: LiveServer, guest: dict[str, str], **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "phone": guest["phone"],
        "password": guest["password"],
        "eventId": server.demo["eventId"],
        "promoterId": server.demo["promoterId"],
        "teamId": server.demo["teamId"],
    }
    body.update(over)
    return body


def register(server: LiveServer, client: httpx.Client | None = None, **over: Any) -> dict[str, Any]:
    """Register a new guest on the demo event; returns the guest with guest_id and qr_code."""
    guest = new_guest()
    server.remember(guest)
    own = client is None
    client = client or server.client()
    try:
        r = client.post("/api/guest/register", json=register_body(server, guest, **over))
        assert r.status_code == 200, r.text
        data = r.json()
        server.secrets.update({data["qr_code"], r.cookies.get("gl_session", "")} - {""})
        return {**guest, "guest_id": data["guest_id"], "qr_code": data["qr_code"]}
    finally:
        if own:
            client.close()
