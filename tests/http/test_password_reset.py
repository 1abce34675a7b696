"""Password reset by email over real HTTP, through a real local SMTP server: the mail is read
and its link followed; unknown phones answer exactly like known ones; rate limits."""

from __future__ import annotations

import re
import secrets
import statistics
import time
from collections.abc import Iterator

import pytest

from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, login_body, new_guest, register
from tests.support.smtp import Mailbox, smtp_server

PUBLIC_URL = "https://lista.example.pt"
MAIL_FROM = "Guestlist <noreply@example.pt>"
NEW_PASSWORD = "NovaSenha456"
LINK_RE = re.compile(r"(https?://\S+?)(/promotor/[a-z0-9-]+/[a-z0-9-]+)#redefinir=([0-9a-f]{64})")
REQUESTED = (
    "Se este número tiver conta, enviámos um email para o endereço da conta com um link para "
    "definires uma nova palavra-passe. O link é válido durante 30 minutos. Não chegou? Vê a "
    "pasta de spam ou pede outro daqui a um minuto."
)


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
    with live_server(
        pg_server,
        template_db,
        tmp_path_factory.mktemp("web_reset"),
        SMTP_URL=mailbox.url,
        MAIL_FROM=MAIL_FROM,
        PUBLIC_URL=PUBLIC_URL,
    ) as server:
        yield server
        log = server.log_text()
        for secret in server.pii | server.secrets:
            assert secret not in log, "a guest's data or a reset token reached the log"


def reset_body(web: LiveServer, phone: str) -> dict[str, str]:
    return {"phone": phone, "eventId": web.demo["eventId"], "promoterId": web.demo["promoterId"]}


def mailed_link(mailbox: Mailbox, to: str, count: int = 1) -> tuple[str, str, str]:
    """(origin, page path, token) of the count-th mail to `to`."""
    message = mailbox.wait_for(to, count)[count - 1]
    assert message["From"] == MAIL_FROM
    assert message["Subject"] == "Definir uma nova palavra-passe"
    match = LINK_RE.search(message.get_content())
    assert match, message.get_content()
    return match.group(1), match.group(2), match.group(3)


def test_the_mailed_link_sets_a_new_password_ends_sessions_and_clears_the_lockout(
    web: LiveServer, mailbox: Mailbox
) -> None:
    with web.client() as device:
        guest = register(web, device)
        session = device.cookies["gl_session"]
        assert device.get(f"/api/guest/me/{web.demo['eventId']}").status_code == 200
    web.pii.add(NEW_PASSWORD)
    locked_ip = web.new_ip()
    with web.client(locked_ip) as c:
        # three free failures, then the phone's delay: the right password waits too
        for _ in range(3):
            r = c.post("/api/guest/login", json=login_body(web, guest, password="Errada123"))
            assert r.status_code == 401
        r = c.post("/api/guest/login", json=login_body(web, guest))
        assert (r.status_code, r.json()["code"]) == (429, "account_locked")

    # a client choosing the Host header does not choose where the link points
    with web.client(headers={"Host": "evil.example"}) as c:
        r = c.post("/api/guest/password-reset", json=reset_body(web, guest["phone"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "message": REQUESTED}
    assert r.headers["cache-control"] == "no-store"
    origin, path, token = mailed_link(mailbox, guest["email"])
    web.secrets.add(token)
    assert origin == PUBLIC_URL
    assert path == "/promotor/miguel/festa-verao"
    message = mailbox.to(guest["email"])[0]
    assert "Olá Ana" in message.get_content() and "30" not in message["Subject"]

    with web.client() as c:
        assert c.get(path).status_code == 200  # the page the link opens
        r = c.post("/api/guest/password-reset/confirm", json={"token": token, "password": "fraca"})
        assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "password")
        r = c.post(
            "/api/guest/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
        )
        assert r.status_code == 200, r.text
        assert r.json()["success"] is True
        assert "set-cookie" not in r.headers
        again = c.post(
            "/api/guest/password-reset/confirm", json={"token": token, "password": "OutraSenha789"}
        )
        assert (again.status_code, again.json()["code"]) == (404, "reset_link_invalid")

    with web.client(cookies={"gl_session": session}) as device:
        r = device.get(f"/api/guest/me/{web.demo['eventId']}")
        assert (r.status_code, r.json()["code"]) == (401, "session_invalid")
    with web.client(locked_ip) as c:
        r = c.post("/api/guest/login", json=login_body(web, guest))
        assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
        r = c.post("/api/guest/login", json=login_body(web, guest, password=NEW_PASSWORD))
        assert r.status_code == 200, r.text
        assert r.json()["qr_code"] == guest["qr_code"]


def test_a_newer_link_replaces_the_older(web: LiveServer, mailbox: Mailbox) -> None:
    guest = register(web)
    tokens = []
    for count in (1, 2):  # each mail read before the next request: mails may overtake
        with web.client() as c:
            assert c.post(
                "/api/guest/password-reset", json=reset_body(web, guest["phone"])
            ).is_success
        tokens.append(mailed_link(mailbox, guest["email"], count)[2])
    first, second = tokens
    web.secrets.update(tokens)
    assert first != second
    with web.client() as c:
        r = c.post(
            "/api/guest/password-reset/confirm", json={"token": first, "password": NEW_PASSWORD}
        )
        assert (r.status_code, r.json()["code"]) == (404, "reset_link_invalid")
        r = c.post(
            "/api/guest/password-reset/confirm", json={"token": second, "password": NEW_PASSWORD}
        )
        assert r.status_code == 200


def test_known_and_unknown_phones_get_the_same_answer(web: LiveServer, mailbox: Mailbox) -> None:
    known = register(web)
    unknown = new_guest()
    web.remember(unknown)
    answers = []
    for guest in (known, unknown):
        with web.client() as c:
            r = c.post("/api/guest/password-reset", json=reset_body(web, guest["phone"]))
        headers = {k: v for k, v in r.headers.items() if k not in ("date", "x-request-id")}
        answers.append((r.status_code, r.content, headers))
    assert answers[0] == answers[1]
    mailbox.wait_for(known["email"])
    time.sleep(0.5)  # any mail the unknown phone's request might have caused has arrived
    assert mailbox.to(unknown["email"]) == []


def test_known_and_unknown_phones_answer_in_the_same_time_class(
    web: LiveServer, mailbox: Mailbox
) -> None:
    # the same work either way (one token made, the mail sent after the answer): the time of the
    # answer tells no more than its body. Medians of interleaved requests (each pair's order
    # alternating, each from an address of its own), compared as a ratio, generously: the
    # machine is shared, the classes must not be told apart by more than noise.
    pairs = 15
    known = [register(web) for _ in range(pairs)]
    unknown = [new_guest() for _ in range(pairs)]
    for guest in unknown:
        web.remember(guest)
    with web.client() as c:  # warm-up: pools, plans, the first mail connection
        c.post("/api/guest/password-reset", json=reset_body(web, register(web)["phone"]))
    took: dict[str, list[float]] = {"known": [], "unknown": []}
    for i in range(pairs):
        order = [("known", known[i]), ("unknown", unknown[i])]
        for label, guest in order if i % 2 == 0 else reversed(order):
            with web.client() as c:
                started = time.perf_counter()
                r = c.post("/api/guest/password-reset", json=reset_body(web, guest["phone"]))
                took[label].append(time.perf_counter() - started)
            assert r.status_code == 200
    ratio = statistics.median(took["known"]) / statistics.median(took["unknown"])
    assert 1 / 3 < ratio < 3, took
    assert len(mailbox.wait_for(known[-1]["email"])) == 1


def test_refusals_name_the_field_and_never_spend_a_link(web: LiveServer) -> None:
    with web.client() as c:
        r = c.post("/api/guest/password-reset/confirm", json={"token": "abc", "password": "x"})
        assert r.status_code == 400
        assert {e["field"] for e in r.json()["errors"]} == {"token", "password"}
        r = c.post(
            "/api/guest/password-reset/confirm",
            json={"token": secrets.token_hex(32), "password": NEW_PASSWORD},
        )
        assert (r.status_code, r.json()["code"]) == (404, "reset_link_invalid")
        r = c.post("/api/guest/password-reset", json=reset_body(web, "123"))
        assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "phone")
        body = {**reset_body(web, new_guest()["phone"]), "promoterId": web.demo["eventId"]}
        r = c.post("/api/guest/password-reset", json=body)
        assert (r.status_code, r.json()["code"]) == (404, "page_not_found")


def test_requests_are_limited_per_phone_known_or_not(web: LiveServer) -> None:
    known = register(web)
    for guest in (known, new_guest()):
        statuses = []
        for _ in range(4):
            with web.client() as c:  # a new address each time: the phone's own limit
                r = c.post("/api/guest/password-reset", json=reset_body(web, guest["phone"]))
            statuses.append(r.status_code)
        assert statuses == [200, 200, 200, 429]
        assert r.json()["code"] == "rate_limited"
        assert 0 < int(r.headers["retry-after"]) <= 3600


def test_requests_are_limited_per_client(web: LiveServer) -> None:
    ip = web.new_ip()
    with web.client(ip) as c:
        statuses = [
            c.post(
                "/api/guest/password-reset", json=reset_body(web, new_guest()["phone"])
            ).status_code
            for _ in range(21)
        ]
    assert statuses == [200] * 20 + [429]
