"""The staff side over real HTTP: invites, login, the staff cookie, logout (here and everywhere),
session expiry, the Origin check on every state-changing route, every console route with its
refusals, another organization's ids answered as missing, a promoter's narrow view, the
promoter's quota and an event's minimum age on the guest's own routes."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support import staff
from tests.support.server import LiveServer, new_guest, register_body

PASSWORD = "Consola123"
ORIGIN = "http://127.0.0.1"  # replaced by the server's own origin in the fixture


web = staff.web  # the module's server (tests/support/staff.py)


def staff_client(web: LiveServer) -> httpx.Client:
    """A browser-like client of this site: its POSTs carry this site's Origin."""
    return httpx.Client(base_url=web.base_url, headers={"Origin": web.base_url}, timeout=30)


def accept(web: LiveServer, token: str, name: str = "Ana Dona") -> httpx.Client:
    client = staff_client(web)
    r = client.post(
        "/api/staff/invite/accept",
        json={"token": token, "password": PASSWORD, "displayName": name},
    )
    assert r.status_code == 200, r.text
    web.secrets.add(r.cookies["gl_staff"])
    assert "gl_staff" not in r.text and r.cookies["gl_staff"] not in r.text
    return client


def new_org(web: LiveServer) -> tuple[str, str, httpx.Client]:
    """(organization id, owner email, owner's logged-in client)."""
    tag = secrets.token_hex(4)
    email = f"dona.{tag}@example.pt"
    made = web.sql(
        "web_test_create_organization",
        {"name": f"Org {tag}", "slug": f"org-{tag}", "owner_email": email},
    )
    return made["organizationId"], email, accept(web, made["inviteToken"])


def event_body(org: str | None, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Noite de Teste",
        "slug": f"noite-{secrets.token_hex(3)}",
        "startsAt": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
        "location": "Lisboa",
        "guestCapacity": 100,
        "minAge": None,
    }
    if org is not None:
        body["organizationId"] = org
    body.update(over)
    return body


def code(r: httpx.Response) -> str:
    return str(r.json()["code"])


@pytest.fixture(scope="module")
def owner(web: LiveServer) -> dict[str, Any]:
    """The demo organization's owner, an event of it, its promoter miguel with a team."""
    email = f"dono.{secrets.token_hex(4)}@example.pt"
    invite = web.sql(
        "web_test_invite_member",
        {
            "organization_id": web.demo["organizationId"],
            "email": email,
            "role": "owner",
            "promoter_id": None,
        },
    )
    client = accept(web, invite["inviteToken"])
    return {"client": client, "email": email, "org": web.demo["organizationId"]}


def test_login_logout_and_cookie_flags(web: LiveServer, owner: dict[str, Any]) -> None:
    with staff_client(web) as c:
        bad = c.post("/api/staff/login", json={"email": owner["email"], "password": "Errada123"})
        unknown = c.post("/api/staff/login", json={"email": "ninguem@x.pt", "password": "Errada1"})
        assert bad.status_code == unknown.status_code == 401
        assert bad.json() == unknown.json()
        assert code(bad) == "invalid_credentials"
        r = c.post("/api/staff/login", json={"email": owner["email"].upper(), "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        assert "gl_staff=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        token = r.cookies["gl_staff"]
        web.secrets.add(token)
        assert c.get("/api/staff/me").json()["staff"]["email"] == owner["email"]
        out = c.post("/api/staff/logout", json={})
        assert out.status_code == 200 and out.json() == {"success": True}
        # the token itself is dead, not only the cookie
        c.cookies.set("gl_staff", token)
        assert c.get("/api/staff/me").status_code == 401


def test_logout_everywhere_and_expiry(web: LiveServer) -> None:
    _, email, first = new_org(web)
    with staff_client(web) as second:
        r = second.post("/api/staff/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200
        web.secrets.add(r.cookies["gl_staff"])
        out = second.post("/api/staff/logout-everywhere", json={})
        assert out.status_code == 200 and out.json()["ended"] == 2
        assert code(first.get("/api/console/events")) == "session_invalid"
        r = second.post("/api/staff/login", json={"email": email, "password": PASSWORD})
        web.secrets.add(r.cookies["gl_staff"])
        assert second.get("/api/console/events").status_code == 200
        assert web.sql("web_test_expire_staff_sessions", {"email": email}) == 1
        expired = second.get("/api/console/events")
        assert expired.status_code == 401 and code(expired) == "session_invalid"
    assert code(staff_client(web).get("/api/staff/me")) == "session_invalid"


def test_invite_is_single_use(web: LiveServer) -> None:
    tag = secrets.token_hex(4)
    made = web.sql(
        "web_test_create_organization",
        {"name": "Uso Único", "slug": f"uso-{tag}", "owner_email": f"u.{tag}@example.pt"},
    )
    accept(web, made["inviteToken"])
    with staff_client(web) as c:
        again = c.post(
            "/api/staff/invite/accept",
            json={"token": made["inviteToken"], "password": PASSWORD, "displayName": "X"},
        )
        assert again.status_code == 404 and code(again) == "invite_invalid"
        weak = c.post(
            "/api/staff/invite/accept",
            json={"token": "0" * 64, "password": "fraca", "displayName": "X"},
        )
        assert weak.status_code == 404


def test_cross_site_posts_are_refused(web: LiveServer, owner: dict[str, Any]) -> None:
    client: httpx.Client = owner["client"]
    evil = {"Origin": "https://evil.example"}
    for path, body in (
        ("/api/console/events", event_body(owner["org"])),
        ("/api/staff/logout", {}),
        ("/api/staff/logout-everywhere", {}),
        (f"/api/console/events/{web.demo['eventId']}/close", {}),
        ("/api/staff/login", {"email": owner["email"], "password": PASSWORD}),
    ):
        r = client.post(path, json=body, headers=evil)
        assert r.status_code == 403 and code(r) == "forbidden", path
        r = client.post(path, json=body, headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403, path
    # still logged in: nothing above ran
    assert client.get("/api/staff/me").status_code == 200


def test_console_routes_end_to_end(web: LiveServer, owner: dict[str, Any]) -> None:
    client: httpx.Client = owner["client"]
    org = owner["org"]
    created = client.post("/api/console/events", json=event_body(org, minAge=18))
    assert created.status_code == 200, created.text
    event = created.json()
    assert event["minAge"] == 18 and event["listOpen"] is True
    ev = event["id"]
    taken = client.post("/api/console/events", json=event_body(org, slug=event["slug"]))
    assert taken.status_code == 409 and code(taken) == "slug_taken"
    bad = client.post("/api/console/events", json=event_body(org, guestCapacity=0, startsAt="x"))
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"guestCapacity", "startsAt"}
    edited = client.post(
        f"/api/console/events/{ev}",
        json=event_body(None, slug=event["slug"], title="Outra Noite", minAge=18),
    )
    assert edited.status_code == 200 and edited.json()["title"] == "Outra Noite"
    assert edited.json()["minAge"] == 18 and edited.json()["slug"] == event["slug"]
    closed = client.post(f"/api/console/events/{ev}/close", json={})
    assert closed.json()["listOpen"] is False
    reopened = client.post(f"/api/console/events/{ev}/reopen", json={})
    assert reopened.json()["listOpen"] is True
    dup = client.post(f"/api/console/events/{ev}/duplicate", json={})
    assert dup.status_code == 200
    assert dup.json()["startsAt"] != event["startsAt"] and dup.json()["minAge"] == 18
    listed = client.get("/api/console/events", params={"organizationId": org}).json()["events"]
    assert {ev, dup.json()["id"]} <= {e["id"] for e in listed}

    added = client.post(
        f"/api/console/organizations/{org}/promoters",
        json={
            "slug": f"rita-{secrets.token_hex(3)}",
            "displayName": "Rita",
            "teamName": "Equipa R",
        },
    )
    assert added.status_code == 200, added.text
    rita = added.json()["id"]
    again = client.post(
        f"/api/console/organizations/{org}/promoters",
        json={"slug": "miguel", "displayName": "Outro", "teamName": "Equipa R"},
    )
    assert again.status_code == 409 and code(again) == "slug_taken"
    team = client.post(
        f"/api/console/organizations/{org}/promoters/{rita}/teams", json={"teamName": "Equipa 2"}
    )
    assert team.status_code == 200
    promoters = client.get(f"/api/console/organizations/{org}/promoters").json()
    assert rita in {p["id"] for p in promoters["promoters"]}
    quota = client.post(f"/api/console/events/{ev}/quotas/{rita}", json={"quota": 5})
    assert quota.status_code == 200 and quota.json()["quota"] == 5
    bad_quota = client.post(f"/api/console/events/{ev}/quotas/{rita}", json={"quota": -1})
    assert bad_quota.status_code == 400

    guests = client.get(
        f"/api/console/events/{web.demo['eventId']}/guests",
        params={"limit": 10, "sort": "name", "checkedIn": "false"},
    )
    assert guests.status_code == 200 and set(guests.json()) == {"total", "guests"}
    bad_page = client.get(f"/api/console/events/{ev}/guests", params={"limit": 1000})
    assert bad_page.status_code == 400
    figures = client.get(f"/api/console/events/{ev}/figures")
    assert figures.status_code == 200 and figures.json()["onList"] == 0
    members = client.get(f"/api/console/organizations/{org}/members")
    assert owner["email"] in {m["email"] for m in members.json()["members"]}
    invite = client.post(
        f"/api/console/organizations/{org}/invites",
        json={"email": "gestor@example.pt", "role": "manager"},
    )
    assert invite.status_code == 200 and len(invite.json()["inviteToken"]) == 64
    bad_invite = client.post(
        f"/api/console/organizations/{org}/invites", json={"email": "x@example.pt", "role": "rei"}
    )
    assert bad_invite.status_code == 400


def test_other_organizations_ids_are_missing(web: LiveServer, owner: dict[str, Any]) -> None:
    other_org, _, other = new_org(web)
    theirs = other.post("/api/console/events", json=event_body(other_org)).json()["id"]
    mine: httpx.Client = owner["client"]
    miguel = web.demo["promoterId"]
    for method, path, body in (
        ("GET", f"/api/console/events/{theirs}/guests", None),
        ("GET", f"/api/console/events/{theirs}/figures", None),
        ("POST", f"/api/console/events/{theirs}", event_body(None)),
        ("POST", f"/api/console/events/{theirs}/close", {}),
        ("POST", f"/api/console/events/{theirs}/reopen", {}),
        ("POST", f"/api/console/events/{theirs}/duplicate", {}),
        ("POST", f"/api/console/events/{theirs}/quotas/{miguel}", {"quota": 1}),
        ("GET", f"/api/console/organizations/{other_org}/promoters", None),
        ("GET", f"/api/console/organizations/{other_org}/members", None),
        (
            "POST",
            f"/api/console/organizations/{other_org}/invites",
            {"email": "a@b.pt", "role": "manager"},
        ),
        (
            "POST",
            f"/api/console/organizations/{other_org}/promoters",
            {"slug": "zz-x", "displayName": "Z", "teamName": "T"},
        ),
        ("GET", f"/api/console/events?organizationId={other_org}", None),
    ):
        r = mine.request(method, path, json=body)
        assert r.status_code == 404 and code(r) == "not_found", (path, r.text)
        missing = path.replace(theirs, "00000000-0000-4000-8000-000000000000").replace(
            other_org, "00000000-0000-4000-8000-000000000000"
        )
        r2 = mine.request(method, missing, json=body)
        assert (r2.status_code, r2.json()) == (r.status_code, r.json()), path
    # and the other organization's quota on my promoter: my event is not theirs either
    r = other.post(f"/api/console/events/{web.demo['eventId']}/quotas/{miguel}", json={"quota": 1})
    assert r.status_code == 404


def test_promoter_sees_only_own_guests_without_contacts(
    web: LiveServer, owner: dict[str, Any]
) -> None:
    mine: httpx.Client = owner["client"]
    org = owner["org"]
    added = mine.post(
        f"/api/console/organizations/{org}/promoters",
        json={
            "slug": f"joao-{secrets.token_hex(3)}",
            "displayName": "João",
            "teamName": "Equipa Miguel",
        },
    ).json()
    joao = added["id"]
    ev = mine.post("/api/console/events", json=event_body(org)).json()["id"]
    with httpx.Client(base_url=web.base_url, headers={"X-Forwarded-For": web.new_ip()}) as g:
        for promoter in (joao, web.demo["promoterId"]):
            guest = new_guest()
            body = register_body(web, guest, eventId=ev, promoterId=promoter, teamId=None)
            assert g.post("/api/guest/register", json=body).status_code == 200
    invite = mine.post(
        f"/api/console/organizations/{org}/invites",
        json={
            "email": f"joao.{secrets.token_hex(3)}@example.pt",
            "role": "promoter",
            "promoterId": joao,
        },
    ).json()
    promoter = accept(web, invite["inviteToken"], "João")
    seen = promoter.get(f"/api/console/events/{ev}/guests").json()
    assert seen["total"] == 1
    assert set(seen["guests"][0]) == {"id", "name", "checkedIn"}
    # filtering by another promoter finds nothing
    other = promoter.get(
        f"/api/console/events/{ev}/guests", params={"promoterId": web.demo["promoterId"]}
    ).json()
    assert other == {"total": 0, "guests": []}
    assert mine.get(f"/api/console/events/{ev}/guests").json()["total"] == 2
    # a promoter may not act as a manager
    r = promoter.post(f"/api/console/events/{ev}/quotas/{joao}", json={"quota": 100})
    assert r.status_code == 403 and code(r) == "forbidden"
    assert promoter.get(f"/api/console/organizations/{org}/members").status_code == 403
    dash = promoter.get("/api/promoter/dashboard").json()
    mine_line = dash["promoters"][0]
    assert mine_line["promoterId"] == joao
    line = next(e for e in mine_line["events"] if e["event"]["id"] == ev)
    assert line["onList"] == 1 and line["linkPath"].startswith(f"/promotor/{added['slug']}/")
    assert {r["me"] for r in line["teamRanking"]} == {True, False}


def test_quota_and_min_age_on_the_guest_routes(web: LiveServer, owner: dict[str, Any]) -> None:
    mine: httpx.Client = owner["client"]
    org = owner["org"]
    miguel = web.demo["promoterId"]
    ev = mine.post("/api/console/events", json=event_body(org, minAge=18)).json()["id"]
    mine.post(f"/api/console/events/{ev}/quotas/{miguel}", json={"quota": 1})
    adult = (datetime.now(UTC) - timedelta(days=365 * 30)).date().isoformat()
    minor = (datetime.now(UTC) - timedelta(days=365 * 15)).date().isoformat()
    with httpx.Client(base_url=web.base_url, headers={"X-Forwarded-For": web.new_ip()}) as g:
        no_date = g.post("/api/guest/register", json=register_body(web, new_guest(), eventId=ev))
        assert no_date.status_code == 400
        assert [e["field"] for e in no_date.json()["errors"]] == ["birthDate"]
        young = g.post(
            "/api/guest/register", json=register_body(web, new_guest(), eventId=ev, birthDate=minor)
        )
        assert young.status_code == 409 and code(young) == "too_young"
        ok = g.post(
            "/api/guest/register", json=register_body(web, new_guest(), eventId=ev, birthDate=adult)
        )
        assert ok.status_code == 200, ok.text
        full = g.post(
            "/api/guest/register", json=register_body(web, new_guest(), eventId=ev, birthDate=adult)
        )
        assert full.status_code == 409 and code(full) == "promoter_quota_full"
        # an account without a birth date, logging in to the age-limited event
        old = new_guest()
        assert g.post("/api/guest/register", json=register_body(web, old)).status_code == 200
        g.cookies.clear()
        mine.post(f"/api/console/events/{ev}/quotas/{miguel}", json={"quota": None})
        login = {
            "phone": old["phone"],
            "password": old["password"],
            "eventId": ev,
            "promoterId": miguel,
        }
        asked = g.post("/api/guest/login", json=login)
        assert asked.status_code == 422 and code(asked) == "birth_date_required"
        wrong = g.post(
            "/api/guest/birth-date",
            json={"phone": old["phone"], "password": "Errada123", "birthDate": adult},
        )
        assert wrong.status_code == 401
        given = g.post(
            "/api/guest/birth-date",
            json={"phone": old["phone"], "password": old["password"], "birthDate": adult},
        )
        assert given.status_code == 200 and given.json() == {"success": True}
        again = g.post(
            "/api/guest/birth-date",
            json={"phone": old["phone"], "password": old["password"], "birthDate": minor},
        )
        assert again.status_code == 409 and code(again) == "birth_date_known"
        assert g.post("/api/guest/login", json=login).status_code == 200


def test_members_removed_and_invites_withdrawn(web: LiveServer) -> None:
    org, _, owner = new_org(web)
    invite = owner.post(
        f"/api/console/organizations/{org}/invites",
        json={"email": f"g.{secrets.token_hex(3)}@example.pt", "role": "manager"},
    ).json()
    manager = accept(web, invite["inviteToken"], "Gestor")
    me = owner.get("/api/staff/me").json()["staff"]["id"]
    them = manager.get("/api/staff/me").json()["staff"]["id"]
    refused = manager.post(f"/api/console/organizations/{org}/members/{me}/remove", json={})
    assert refused.status_code == 403 and code(refused) == "forbidden"
    last = owner.post(f"/api/console/organizations/{org}/members/{me}/remove", json={})
    assert last.status_code == 409 and code(last) == "last_owner"
    gone = owner.post(f"/api/console/organizations/{org}/members/{them}/remove", json={})
    assert gone.status_code == 200 and gone.json() == {"removed": True}
    assert manager.get("/api/console/events", params={"organizationId": org}).status_code == 404
    pending = owner.post(
        f"/api/console/organizations/{org}/invites",
        json={"email": "outro@example.pt", "role": "manager"},
    ).json()
    listed = owner.get(f"/api/console/organizations/{org}/members").json()["invites"]
    invite_id = listed[0]["id"]
    withdrawn = owner.post(f"/api/console/organizations/{org}/invites/{invite_id}/revoke", json={})
    assert withdrawn.status_code == 200
    again = owner.post(f"/api/console/organizations/{org}/invites/{invite_id}/revoke", json={})
    assert again.status_code == 404 and code(again) == "not_found"
    with staff_client(web) as c:
        dead = c.post(
            "/api/staff/invite/accept",
            json={"token": pending["inviteToken"], "password": PASSWORD, "displayName": "X"},
        )
        assert dead.status_code == 404 and code(dead) == "invite_invalid"


def test_search_ignores_accents_and_case_and_keeps_phones_to_managers(
    web: LiveServer, owner: dict[str, Any]
) -> None:
    mine: httpx.Client = owner["client"]
    org = owner["org"]
    added = mine.post(
        f"/api/console/organizations/{org}/promoters",
        json={
            "slug": f"sara-{secrets.token_hex(3)}",
            "displayName": "Sara",
            "teamName": "Equipa S",
        },
    ).json()
    ev = mine.post("/api/console/events", json=event_body(org)).json()["id"]
    monica = new_guest(firstName="Mónica", lastName="Araújo")
    percent = new_guest(firstName="Rui", lastName="Cem%")
    with httpx.Client(base_url=web.base_url, headers={"X-Forwarded-For": web.new_ip()}) as g:
        for guest, promoter in ((monica, added["id"]), (percent, None)):
            body = register_body(web, guest, eventId=ev, promoterId=promoter, teamId=None)
            r = g.post("/api/guest/register", json=body)
            assert r.status_code == 200, r.text
            g.cookies.clear()

    def names(client: httpx.Client, q: str) -> list[str]:
        r = client.get(f"/api/console/events/{ev}/guests", params={"q": q})
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json()["guests"])
        return [guest["name"] for guest in r.json()["guests"]]

    assert names(mine, "ARAUJO") == ["Mónica Araújo"]
    assert names(mine, "mónica  araújo") == ["Mónica Araújo"]
    assert names(mine, "%") == ["Rui Cem%"]
    assert names(mine, "_") == []
    digits = monica["e164"][-9:]
    assert names(mine, f"{digits[:3]} {digits[3:6]} {digits[6:]}") == ["Mónica Araújo"]
    assert names(mine, monica["e164"]) == ["Mónica Araújo"]
    too_long = mine.get(f"/api/console/events/{ev}/guests", params={"q": "x" * 101})
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "q"

    invite = mine.post(
        f"/api/console/organizations/{org}/invites",
        json={
            "email": f"sara.{secrets.token_hex(3)}@example.pt",
            "role": "promoter",
            "promoterId": added["id"],
        },
    ).json()
    sara = accept(web, invite["inviteToken"], "Sara")
    assert names(sara, "monica") == ["Mónica Araújo"]
    assert names(sara, digits) == [], "a promoter never finds a guest by phone"
    assert names(sara, "cem") == [], "nor another promoter's guest by name"
