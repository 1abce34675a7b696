"""The console's door links over real HTTP: an owner makes one (the URL and its QR code answered
once, the door then works), lists them (never a token), revokes one (the door then refuses it);
each refusal: no session, a bad label or id (400 naming the field), a cross-site POST, a
promoter's or another organization's ids answered exactly as missing ones."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from guestlist.web.qr import render_link_svg
from tests.support import staff
from tests.support.server import LiveServer

PASSWORD = "Consola123"
MISSING = "00000000-0000-4000-8000-000000000000"


web = staff.web  # the module's server (tests/support/staff.py)


def member(web: LiveServer, org: str, role: str, promoter: str | None = None) -> httpx.Client:
    """A logged-in browser-like client (its POSTs carry this site's Origin) of a new member."""
    invite = web.sql(
        "web_test_invite_member",
        {
            "organization_id": org,
            "email": f"{role}.{secrets.token_hex(4)}@example.pt",
            "role": role,
            "promoter_id": promoter,
        },
    )
    c = httpx.Client(base_url=web.base_url, headers={"Origin": web.base_url}, timeout=30)
    r = c.post(
        "/api/staff/invite/accept",
        json={"token": invite["inviteToken"], "password": PASSWORD, "displayName": "Membro"},
    )
    assert r.status_code == 200, r.text
    web.secrets.add(r.cookies["gl_staff"])
    return c


def create(c: httpx.Client, web: LiveServer, event: str, label: str) -> httpx.Response:
    r = c.post(f"/api/console/events/{event}/doors", json={"label": label})
    if r.status_code == 200:
        web.secrets.add(r.json()["token"])
    return r


def code(r: httpx.Response) -> str:
    return str(r.json()["code"])


def fields(r: httpx.Response) -> list[str]:
    return [e["field"] for e in r.json().get("errors", [])]


@pytest.fixture(scope="module")
def owner(web: LiveServer) -> httpx.Client:
    return member(web, web.demo["organizationId"], "owner")


def test_create_list_and_revoke(web: LiveServer, owner: httpx.Client) -> None:
    event = web.demo["eventId"]
    made = create(owner, web, event, "  Porta principal ")
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    link = made.json()
    token = link["token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert link["label"] == "Porta principal"
    assert link["path"] == f"/porta/{token}"
    assert link["url"] == f"{web.base_url}/porta/{token}", "the full link, this site's own"
    assert link["qrSvg"].startswith("<svg") and link["qrSvg"] == render_link_svg(link["url"])
    assert "<script" not in link["qrSvg"]

    with web.client() as door:
        summary = door.get("/api/door/summary", headers={"Authorization": f"Bearer {token}"})
        assert summary.status_code == 200, summary.text
        assert summary.json()["event"]["id"] == event
        page = door.get(link["path"])
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]

    listed = owner.get(f"/api/console/events/{event}/doors")
    assert listed.status_code == 200, listed.text
    assert token not in listed.text, "the list never shows a token"
    mine = [d for d in listed.json()["doors"] if d["doorId"] == link["doorId"]]
    assert len(mine) == 1
    assert mine[0]["label"] == "Porta principal"
    assert mine[0]["live"] is True and mine[0]["revokedAt"] is None
    assert mine[0]["scans"] == 0 and mine[0]["lastScanAt"] is None
    assert listed.json()["conflicts"] == 0 and listed.json()["conflictList"] == []

    revoked = owner.post(f"/api/console/doors/{link['doorId']}/revoke", json={})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["doorId"] == link["doorId"] and revoked.json()["revokedAt"]
    again = owner.post(f"/api/console/doors/{link['doorId']}/revoke", json={})
    assert again.json() == revoked.json(), "revoking again keeps the first time"
    with web.client() as door:
        dead = door.get("/api/door/summary", headers={"Authorization": f"Bearer {token}"})
        assert dead.status_code == 401 and code(dead) == "door_invalid"
    after = owner.get(f"/api/console/events/{event}/doors").json()["doors"]
    gone = next(d for d in after if d["doorId"] == link["doorId"])
    assert gone["live"] is False and gone["revokedAt"] == revoked.json()["revokedAt"]


def test_a_manager_runs_doors_too(web: LiveServer) -> None:
    manager = member(web, web.demo["organizationId"], "manager")
    made = create(manager, web, web.demo["eventId"], "Porta do gestor")
    assert made.status_code == 200, made.text
    r = manager.post(f"/api/console/doors/{made.json()['doorId']}/revoke", json={})
    assert r.status_code == 200, r.text


def test_bad_input_names_the_field(web: LiveServer, owner: httpx.Client) -> None:
    event = web.demo["eventId"]
    for body in ({}, {"label": None}, {"label": "   "}, {"label": "x" * 61}, {"label": 5}):
        r = owner.post(f"/api/console/events/{event}/doors", json=body)
        assert r.status_code == 400, (body, r.text)
        assert code(r) == "invalid_input" and fields(r) == ["label"], (body, r.text)
    r = owner.post("/api/console/events/not-an-id/doors", json={"label": "P"})
    assert r.status_code == 400 and fields(r) == ["eventId"], r.text
    r = owner.post("/api/console/doors/not-an-id/revoke", json={})
    assert r.status_code == 400 and fields(r) == ["doorId"], r.text
    r = owner.get("/api/console/events/not-an-id/doors")
    assert r.status_code == 400 and fields(r) == ["eventId"], r.text


def test_no_session_and_cross_site_posts_are_refused(web: LiveServer, owner: httpx.Client) -> None:
    event = web.demo["eventId"]
    made = create(owner, web, event, "Porta CSRF").json()
    with httpx.Client(base_url=web.base_url, headers={"Origin": web.base_url}) as anon:
        for method, path, body in (
            ("GET", f"/api/console/events/{event}/doors", None),
            ("POST", f"/api/console/events/{event}/doors", {"label": "P"}),
            ("POST", f"/api/console/doors/{made['doorId']}/revoke", {}),
        ):
            r = anon.request(method, path, json=body)
            assert r.status_code == 401 and code(r) == "session_invalid", (path, r.text)
    evil = {"Origin": "https://evil.example"}
    r = owner.post(f"/api/console/events/{event}/doors", json={"label": "Mal"}, headers=evil)
    assert r.status_code == 403 and code(r) == "forbidden", r.text
    r = owner.post(f"/api/console/doors/{made['doorId']}/revoke", json={}, headers=evil)
    assert r.status_code == 403 and code(r) == "forbidden", r.text
    r = owner.post(
        f"/api/console/doors/{made['doorId']}/revoke",
        json={},
        headers={"Origin": web.base_url, "Sec-Fetch-Site": "cross-site"},
    )
    assert r.status_code == 403, r.text
    doors = owner.get(f"/api/console/events/{event}/doors").json()["doors"]
    assert next(d for d in doors if d["doorId"] == made["doorId"])["live"] is True, (
        "the refused revocations changed nothing"
    )
    labels = {d["label"] for d in doors}
    assert "Mal" not in labels


def test_other_organizations_and_promoters_get_not_found(
    web: LiveServer, owner: httpx.Client
) -> None:
    event = web.demo["eventId"]
    mine = create(owner, web, event, "Porta da casa").json()
    tag = secrets.token_hex(4)
    made = web.sql(
        "web_test_create_organization",
        {"name": f"Org {tag}", "slug": f"org-{tag}", "owner_email": f"outra.{tag}@example.pt"},
    )
    other = member(web, made["organizationId"], "owner")
    starts = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    theirs_event = other.post(
        "/api/console/events",
        json={
            "organizationId": made["organizationId"],
            "title": "Noite Outra",
            "slug": f"outra-{tag}",
            "startsAt": starts,
        },
    ).json()["id"]
    theirs = create(other, web, theirs_event, "Porta deles").json()
    promoter = member(web, web.demo["organizationId"], "promoter", web.demo["promoterId"])

    def probes(event_id: str, door_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
        return [
            ("GET", f"/api/console/events/{event_id}/doors", None),
            ("POST", f"/api/console/events/{event_id}/doors", {"label": "Intrusa"}),
            ("POST", f"/api/console/doors/{door_id}/revoke", {}),
        ]

    missing = probes(MISSING, MISSING)
    for who, event_id, door_id in (
        (owner, theirs_event, theirs["doorId"]),
        (other, event, mine["doorId"]),
        (promoter, event, mine["doorId"]),
    ):
        for (method, path, body), (_, missing_path, _) in zip(
            probes(event_id, door_id), missing, strict=True
        ):
            r = who.request(method, path, json=body)
            assert r.status_code == 404 and code(r) == "not_found", (path, r.text)
            r2 = who.request(method, missing_path, json=body)
            assert (r2.status_code, r2.json()) == (r.status_code, r.json()), path
    for c, event_id, door_id in ((owner, event, mine), (other, theirs_event, theirs)):
        doors = c.get(f"/api/console/events/{event_id}/doors").json()["doors"]
        assert next(d for d in doors if d["doorId"] == door_id["doorId"])["live"] is True
        assert "Intrusa" not in {d["label"] for d in doors}, "no link was made across"


def test_openapi_documents_the_routes(web: LiveServer) -> None:
    with web.client() as c:
        doc = c.get("/openapi.json").json()
    create_op = doc["paths"]["/api/console/events/{event_id}/doors"]["post"]
    body = create_op["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["label"]
    assert body["properties"]["label"]["maxLength"] == 60
    assert {"200", "400", "401", "403", "404"} <= set(create_op["responses"])
    assert "get" in doc["paths"]["/api/console/events/{event_id}/doors"]
    assert "post" in doc["paths"]["/api/console/doors/{door_id}/revoke"]
    schemas = doc["components"]["schemas"]
    assert "token" not in schemas["ConsoleDoorLinks"]["properties"]["doors"]["items"]["properties"]
    assert schemas["DoorAnswer"]["properties"]["guest"]["anyOf"][0]["properties"]["ageOk"]
