"""Rate limits and the login lockout over real HTTP, at the database's default settings (bcrypt
cost 4 for speed): a crowd behind one address gets through, a phone is looked up at most
10 times a minute, unknown numbers share a global ceiling, IPv6 clients are keyed by their
/64, and wrong passwords slow a phone down without locking its owner's device out."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, login_body, new_guest, register_body

PAGE = "/promotor/miguel/festa-verao"
WRONG = "Errada123"


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """app.py with in-process workers and the production limits (no test override)."""
    settings: dict[str, str | None] = {
        "rate_limit_per_minute": None,  # the per-bucket defaults, not the tests' 20
        "allow_weak_hash_for_bench": "on",
        "bcrypt_cost": "4",
    }
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_limits"), settings) as s:
        yield s


def set_setting(web: LiveServer, key: str, value: str | None) -> None:
    web.sql("web_test_set_setting", {"key": key, "value": value})


def refused(r: httpx.Response, code: str) -> int:
    """A 429 with this code; returns its Retry-After (seconds, also in the body)."""
    assert r.status_code == 429, r.text
    assert r.json()["code"] == code
    seconds = int(r.headers["retry-after"])
    assert r.json()["retry_after"] == seconds >= 1
    return seconds


def registered(web: LiveServer) -> tuple[dict[str, str], str]:
    """A new guest registered on the demo event, and their device's session token."""
    guest = new_guest()
    web.remember(guest)
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, guest))
    assert r.status_code == 200, r.text
    token = r.cookies["gl_session"]
    web.secrets.update({token, r.json()["qr_code"]})
    return guest, token


# --- a crowd behind one address ------------------------------------------------------------------


def test_300_guests_behind_one_address_all_get_through(web: LiveServer) -> None:
    """Venue Wi-Fi or carrier NAT: 300 guests, one address, one minute. Each loads the page,
    checks their phone and registers through the queue; nobody is refused."""
    ip = web.new_ip()
    guests = [new_guest() for _ in range(300)]
    for guest in guests:
        web.remember(guest)

    def journey(guest: dict[str, str]) -> tuple[int, int, int, Any]:
        with web.client(ip=ip) as c:
            page = c.get(PAGE)
            check = c.post("/api/guest/verify-phone-v2", json={"phone": guest["phone"]})
            reg = c.post("/api/guest/register-v2?wait=20", json=register_body(web, guest))
        body = reg.json()
        if reg.status_code == 200 and isinstance(body.get("result"), dict):
            web.secrets.add(str(body["result"].get("qr_code")))
        return page.status_code, check.status_code, reg.status_code, body

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(journey, guests))
    assert [r[:3] for r in results] == [(200, 200, 200)] * 300
    assert all(r[3]["status"] == "completed" for r in results)
    assert all(r[3]["result"]["success"] is True for r in results)
    # every request was counted under the one client key; the run lasts under two minutes (so
    # spans at most three one-minute windows): one window held at least 100 of a bucket's 300,
    # as many as this project's old per-address limit let through in a minute
    hits = web.sql("web_test_hits_of_client", {"client_key": ip})
    assert {b: hits[b][0] for b in ("page", "check_phone", "register")} == dict.fromkeys(
        ("page", "check_phone", "register"), 300
    )
    assert min(hits[b][1] for b in ("page", "check_phone", "register")) >= 100


# --- the phone check -----------------------------------------------------------------------------


def test_one_phone_is_looked_up_at_most_10_times_a_minute(web: LiveServer) -> None:
    phone = new_guest()["phone"]
    answers = []
    for _ in range(25):  # 10 a minute; a window may turn over once
        with web.client() as c:  # a new address each time: the limit is the phone's
            answers.append(c.post("/api/guest/verify-phone-v2", json={"phone": phone}))
        if answers[-1].status_code == 429:
            break
    assert [a.status_code for a in answers[:10]] == [200] * 10
    assert refused(answers[-1], "rate_limited") <= 60
    with web.client() as c:
        assert c.post("/api/guest/verify-phone", json={"phone": new_guest()["phone"]}).is_success


def test_unknown_numbers_share_a_ceiling_that_then_refuses_every_number(
    web: LiveServer,
) -> None:
    known, _ = registered(web)
    set_setting(web, "unknown_phone_lookups_per_minute", "3")
    try:
        web.sql("web_test_forget_unknown_lookups")
        statuses = []
        for _ in range(10):  # 3 a minute across every client; a window may turn over once
            with web.client() as c:
                r = c.post("/api/guest/verify-phone-v2", json={"phone": new_guest()["phone"]})
            statuses.append(r.status_code)
            if r.status_code == 429:
                break
        assert statuses[-1] == 429 and statuses[:3] == [200] * 3
        refused(r, "rate_limited")
        with web.client() as c:  # a registered number too: the refusal tells nothing
            refused(
                c.post("/api/guest/verify-phone", json={"phone": known["phone"]}), "rate_limited"
            )
    finally:
        set_setting(web, "unknown_phone_lookups_per_minute", None)


def test_ipv6_clients_are_limited_by_their_64(web: LiveServer) -> None:
    set_setting(web, "rate_limit.check_phone", "2")
    try:
        prefix = f"2001:db8:{web.new_ip().split('.')[-1]}:7"
        statuses = []
        for n in range(1, 6):  # a new address of the same /64 each time
            with web.client(ip=f"{prefix}::{n}") as c:
                r = c.post("/api/guest/verify-phone-v2", json={"phone": new_guest()["phone"]})
            statuses.append(r.status_code)
            if r.status_code == 429:
                break
        assert statuses[-1] == 429 and len(statuses) <= 5
        with web.client(ip=f"{prefix}1::1") as c:  # the next /64 is another client
            r = c.post("/api/guest/verify-phone-v2", json={"phone": new_guest()["phone"]})
        assert r.status_code == 200
    finally:
        set_setting(web, "rate_limit.check_phone", None)


# --- the login lockout ---------------------------------------------------------------------------


def test_one_address_locks_itself_out_of_a_phone_not_the_guest(web: LiveServer) -> None:
    guest, _ = registered(web)
    set_setting(web, "login_phone_free_failures", "1000")  # the per-phone delay apart
    try:
        attacker = web.new_ip()
        with web.client(ip=attacker) as c:
            wrong = [
                c.post("/api/guest/login", json=login_body(web, guest, password=WRONG))
                for _ in range(5)
            ]
            locked = c.post("/api/guest/login", json=login_body(web, guest))
        assert [w.status_code for w in wrong] == [401] * 5
        # each refusal says how many tries this address has left: at 1 the page warns
        assert [w.json()["attempts_left"] for w in wrong] == [4, 3, 2, 1, 0]
        # …and how long the lock they count towards lasts (login_failure_window_seconds)
        assert {w.json()["lock_minutes"] for w in wrong} == {15}
        assert refused(locked, "account_locked") > 800  # until 15 min after its last failure
        assert "attempts_left" not in locked.json() and "lock_minutes" not in locked.json()
        with web.client() as c:  # the guest, from anywhere else, with the right password
            assert c.post("/api/guest/login", json=login_body(web, guest)).status_code == 200
    finally:
        set_setting(web, "login_phone_free_failures", None)


def test_attempts_left_reaches_the_queued_login_and_its_status(web: LiveServer) -> None:
    guest, _ = registered(web)
    stranger = new_guest()
    set_setting(web, "login_phone_free_failures", "1000")  # the per-phone delay apart
    try:
        with web.client() as c:
            wrong = login_body(web, guest, password=WRONG)
            sync = c.post("/api/guest/login", json=wrong)
            held = c.post("/api/guest/login-v2?wait=20", json=wrong)
            assert held.status_code == 200, held.text
            job = held.json()
            status = c.get(
                f"/api/guest/status/{job['jobId']}", headers={"X-Job-Token": job["jobToken"]}
            )
            unknown = c.post("/api/guest/login", json=login_body(web, stranger))
        assert (sync.status_code, sync.json()["attempts_left"]) == (401, 4)
        assert job["status"] == "completed"
        assert job["result"]["code"] == "invalid_credentials"
        assert job["result"]["attempts_left"] == 3
        assert sync.json()["lock_minutes"] == job["result"]["lock_minutes"] == 15
        assert status.status_code == 200 and status.json()["result"] == job["result"]
        # an unknown phone's count runs alike: the number reveals no account
        assert unknown.json() == {**sync.json(), "attempts_left": 4}
    finally:
        set_setting(web, "login_phone_free_failures", None)


def test_failures_slow_a_phone_down_but_never_its_own_device(web: LiveServer) -> None:
    guest, token = registered(web)
    attacker = web.new_ip()

    def fail_three_times() -> None:
        for _ in range(3):
            with web.client() as c:  # from three addresses: the delay is the phone's
                r = c.post("/api/guest/login", json=login_body(web, guest, password=WRONG))
            assert r.status_code == 401

    fail_three_times()
    with web.client() as c:  # anyone else, the right password included, waits
        assert (
            refused(c.post("/api/guest/login", json=login_body(web, guest)), "account_locked") <= 2
        )
    # the guest's own device (its session cookie), even from the attacker's address
    with web.client(ip=attacker, cookies={"gl_session": token}) as device:
        wrong = device.post("/api/guest/login", json=login_body(web, guest, password=WRONG))
        right = device.post("/api/guest/login", json=login_body(web, guest))
    assert wrong.status_code == 401  # the password is still checked
    assert right.status_code == 200 and right.json()["first_name"] == "Ana"
    web.secrets.add(right.cookies.get("gl_session", ""))

    # the queued login decides the same way (the session is checked when the job is queued)
    fail_three_times()
    with web.client() as c:
        other = c.post("/api/guest/login-v2?wait=20", json=login_body(web, guest)).json()
    with web.client(ip=attacker, cookies={"gl_session": token}) as device:
        own = device.post("/api/guest/login-v2?wait=20", json=login_body(web, guest))
    assert other["status"] == "completed" and other["result"]["code"] == "account_locked"
    assert own.status_code == 200
    assert own.json()["status"] == "completed" and own.json()["result"]["success"] is True
    web.secrets.add(own.cookies.get("gl_session", ""))
