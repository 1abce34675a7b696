"""The console seen by an attacker over real HTTP: bodies a client may send that once reached
PostgreSQL unchecked (a 500), and ids of another organization passed in bodies."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support import staff
from tests.support.server import LiveServer

PASSWORD = "Consola123"


web = staff.web  # the module's server (tests/support/staff.py)


def new_org(web: LiveServer) -> tuple[str, httpx.Client]:
    """(organization id, its owner's logged-in client, which sends this site's Origin)."""
    tag = secrets.token_hex(4)
    made = web.sql(
        "web_test_create_organization",
        {"name": f"Org {tag}", "slug": f"org-{tag}", "owner_email": f"dona.{tag}@example.pt"},
    )
    client = httpx.Client(base_url=web.base_url, headers={"Origin": web.base_url}, timeout=30)
    r = client.post(
        "/api/staff/invite/accept",
        json={"token": made["inviteToken"], "password": PASSWORD, "displayName": "Dona"},
    )
    assert r.status_code == 200, r.text
    return made["organizationId"], client


def event_body(org: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organizationId": org,
        "title": "Noite",
        "slug": f"noite-{secrets.token_hex(3)}",
        "startsAt": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
        "location": "Lisboa",
        "guestCapacity": 100,
    }
    body.update(over)
    return body


def test_event_times_with_any_iso_offset_are_their_instant(web: LiveServer) -> None:
    """ISO 8601 offsets run to ±23:59, PostgreSQL's to ±15:59: an event's start or list closing
    at +17:21 is an instant like any other, never a 500."""
    org, owner = new_org(web)
    created = owner.post(
        "/api/console/events",
        json=event_body(org, startsAt="2035-03-04T18:23:41+17:21"),
    )
    assert created.status_code == 200, created.text
    starts = datetime.fromisoformat(created.json()["startsAt"])
    assert starts == datetime(2035, 3, 4, 1, 2, 41, tzinfo=UTC)
    event = created.json()["id"]
    edited = owner.post(
        f"/api/console/events/{event}",
        json=event_body(
            org,
            slug=created.json()["slug"],
            startsAt="2035-03-05T10:00:00-18:30",
            guestListClosesAt="2035-03-05T20:00:00+16:00",
        ),
    )
    assert edited.status_code == 200, edited.text
    assert datetime.fromisoformat(edited.json()["startsAt"]) == datetime(
        2035, 3, 6, 4, 30, tzinfo=UTC
    )
    assert datetime.fromisoformat(edited.json()["guestListClosesAt"]) == datetime(
        2035, 3, 5, 4, 0, tzinfo=UTC
    )


def test_look_alike_and_null_origins_are_refused(web: LiveServer) -> None:
    """A staff POST carrying the cookie from anywhere but this exact origin runs nothing: a
    sandboxed frame's `null`, the origin with a suffix, a trailing slash, another scheme or
    port."""
    org, owner = new_org(web)
    host = web.base_url.removeprefix("http://")
    port = int(host.rsplit(":", 1)[1])
    for origin in (
        "null",
        f"{web.base_url}.evil.example",
        f"{web.base_url}/",
        f"https://{host}",
        f"http://127.0.0.1:{port + 1}",
        f"http://evil.example/{host}",
    ):
        r = owner.post("/api/console/events", json=event_body(org), headers={"Origin": origin})
        assert r.status_code == 403 and r.json()["code"] == "forbidden", origin
    assert owner.get("/api/console/events", params={"organizationId": org}).json() == {"events": []}


def test_a_planted_staff_cookie_is_never_adopted(web: LiveServer) -> None:
    """Session fixation: a cookie set before logging in is replaced by one the database made,
    and the planted value opens nothing."""
    tag = secrets.token_hex(4)
    email = f"dona.{tag}@example.pt"
    made = web.sql(
        "web_test_create_organization",
        {"name": f"Org {tag}", "slug": f"org-{tag}", "owner_email": email},
    )
    planted = secrets.token_hex(32)
    with httpx.Client(base_url=web.base_url, headers={"Origin": web.base_url}) as c:
        c.cookies.set("gl_staff", planted)
        accepted = c.post(
            "/api/staff/invite/accept",
            json={"token": made["inviteToken"], "password": PASSWORD, "displayName": "Dona"},
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.cookies["gl_staff"] != planted
        c.cookies.set("gl_staff", planted)
        login = c.post("/api/staff/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert login.cookies["gl_staff"] not in (planted, accepted.cookies["gl_staff"])
    with httpx.Client(base_url=web.base_url) as c:
        c.cookies.set("gl_staff", planted)
        assert c.get("/api/staff/me").status_code == 401


def test_staff_lockout_answers_alike_for_known_and_unknown_emails(web: LiveServer) -> None:
    """Guessing a staff password: the email locks after the same number of failures whether an
    account has it or not (no way to tell which exist), and the lock is a 429 with Retry-After
    that even the right password does not pass."""
    tag = secrets.token_hex(4)
    known = f"dona.{tag}@example.pt"
    made = web.sql(
        "web_test_create_organization",
        {"name": f"Org {tag}", "slug": f"org-{tag}", "owner_email": known},
    )
    with httpx.Client(base_url=web.base_url, headers={"Origin": web.base_url}) as c:
        ok = c.post(
            "/api/staff/invite/accept",
            json={"token": made["inviteToken"], "password": PASSWORD, "displayName": "Dona"},
        )
        assert ok.status_code == 200, ok.text

    def failures_until_locked(email: str, address: str) -> tuple[int, httpx.Response]:
        with httpx.Client(
            base_url=web.base_url,
            headers={"Origin": web.base_url, "X-Forwarded-For": address},
        ) as c:
            for n in range(1, 30):
                r = c.post("/api/staff/login", json={"email": email, "password": "Errada123"})
                if r.status_code != 401:
                    return n, r
                assert r.json()["code"] == "invalid_credentials"
        raise AssertionError(f"{email} never locked")

    n_known, locked = failures_until_locked(known, "198.18.200.1")
    n_unknown, locked_unknown = failures_until_locked(f"x.{tag}@example.pt", "198.18.200.2")
    assert n_known == n_unknown > 1
    for r in (locked, locked_unknown):
        assert r.status_code == 429 and r.json()["code"] == "account_locked", r.text
        assert int(r.headers["retry-after"]) > 0
    with httpx.Client(
        base_url=web.base_url, headers={"Origin": web.base_url, "X-Forwarded-For": "198.18.200.3"}
    ) as c:
        right = c.post("/api/staff/login", json={"email": known, "password": PASSWORD})
        assert right.status_code == 429 and "gl_staff" not in right.cookies
