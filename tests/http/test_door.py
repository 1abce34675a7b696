"""The door's routes over real HTTP: each route's answer, the door token (missing, malformed,
unknown, revoked), bad bodies (400 naming the field), a batch too large (413) and the door's
rate limit (429)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, new_guest, register_body


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    settings: dict[str, str | None] = {
        "rate_limit_per_minute": "0",
        "bcrypt_cost": "4",
        "allow_weak_hash_for_bench": "on",
    }
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_door"), settings) as s:
        yield s
        log = s.log_text()
        for secret in s.secrets:
            assert secret not in log, "a door token or a QR code reached the log"


def door(web: LiveServer, label: str = "Porta 1") -> dict[str, str]:
    link = web.sql("web_test_door_link", {"event_id": web.demo["eventId"], "label": label})
    web.secrets.add(link["token"])
    return link


def guest(web: LiveServer, **names: str) -> dict[str, Any]:
    """A guest on the demo event (the door may see their full name: not remembered as PII)."""
    person = new_guest(**names)
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, person))
    assert r.status_code == 200, r.text
    data = r.json()
    web.secrets.add(data["qr_code"])
    return {**person, "guest_id": data["guest_id"], "qr_code": data["qr_code"]}


def auth(link: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {link['token']}"}


def scan(
    c: httpx.Client, link: dict[str, str], code: str, scan_id: str | None = None, **extra: Any
) -> httpx.Response:
    body = {"qrCode": code, "scanId": scan_id or str(uuid.uuid4()), **extra}
    return c.post("/api/door/check-in", json=body, headers=auth(link))


def test_a_scan_admits_once_and_a_retry_gets_the_same_answer(web: LiveServer) -> None:
    a, b = door(web, "Porta A"), door(web, "Porta B")
    g = guest(web, firstName="Inês")
    sid = str(uuid.uuid4())
    with web.client() as c:
        first = scan(c, a, g["qr_code"], sid, scannedAt="2026-01-01T00:00:00Z")
        again = scan(c, a, g["qr_code"], sid)
        other = scan(c, b, g["qr_code"])
        unknown = scan(c, a, "f" * 32)
        junk = scan(c, a, "http://example.com/not-a-code")
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["result"] == "admitted" and body["scanId"] == sid
    assert body["guest"]["firstName"] == "Inês"
    assert body["guest"]["lastName"] == g["lastName"]
    assert body["door"] == {"label": "Porta A"}
    assert again.json() == body, "a retry gets exactly the first answer"
    assert other.json()["result"] == "already_in"
    assert other.json()["door"] == {"label": "Porta A"}
    assert other.json()["guest"]["checkedInAt"] == body["guest"]["checkedInAt"]
    assert unknown.json()["result"] == "not_found" and unknown.json()["guest"] is None
    assert junk.status_code == 200 and junk.json()["result"] == "not_found"
    assert web.sql("web_test_door_admissions", {"guest_id": g["guest_id"]}) == {
        "admissions": 1,
        "inside": True,
    }


def test_another_events_code_is_wrong_event_with_its_title_only(web: LiveServer) -> None:
    other = web.sql(
        "web_test_create_event",
        {
            "organization_id": web.demo["organizationId"],
            "title": "Outra Festa",
            "slug": "outra-festa",
            "capacity": None,
            "closes_at": None,
        },
    )
    link = web.sql("web_test_door_link", {"event_id": other, "label": "Porta X"})
    web.secrets.add(link["token"])
    g = guest(web)
    with web.client() as c:
        r = scan(c, link, g["qr_code"])
        listed = c.get("/api/door/list", headers=auth(link))
        found = c.get("/api/door/search", params={"q": g["lastName"][:6]}, headers=auth(link))
    assert r.json()["result"] == "wrong_event"
    assert r.json()["guest"] is None
    assert r.json()["event"] == {"title": "Festa de Verão"}, "the code's own event, named"
    assert listed.json()["guests"] == [], "another event's door gets none of this event's list"
    assert found.json()["guests"] == []


def test_sync_search_admit_undo_summary_and_list(web: LiveServer) -> None:
    a, b = door(web, "Entrada"), door(web, "Lateral")
    g1 = guest(web, firstName="Ângela", lastName="Gonçalves")
    g2 = guest(web)
    with web.client() as c:
        earlier = {
            "scanId": str(uuid.uuid4()),
            "qrCode": g1["qr_code"],
            "scannedAt": "2099-01-01T00:00:00+00:00",
        }
        late = c.post("/api/door/sync", json={"scans": [earlier]}, headers=auth(a))
        assert late.status_code == 200, late.text
        assert late.json()["results"][0]["result"] == "in_future"
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        s_b = {
            "scanId": str(uuid.uuid4()),
            "qrCode": g1["qr_code"],
            "scannedAt": (now - timedelta(minutes=2)).isoformat(),
        }
        s_a = {
            "scanId": str(uuid.uuid4()),
            "qrCode": g1["qr_code"],
            "scannedAt": (now - timedelta(minutes=5)).isoformat(),
        }
        rb = c.post("/api/door/sync", json={"scans": [s_b]}, headers=auth(b)).json()
        ra = c.post("/api/door/sync", json={"scans": [s_a]}, headers=auth(a)).json()
        replay = c.post("/api/door/sync", json={"scans": [s_a]}, headers=auth(a)).json()
        found = c.get("/api/door/search", params={"q": "angela gon"}, headers=auth(a)).json()
        by_phone = c.get("/api/door/search", params={"q": g2["e164"][-4:]}, headers=auth(a)).json()
        sid = str(uuid.uuid4())
        admitted = c.post(
            "/api/door/admit", json={"guestId": g2["guest_id"], "scanId": sid}, headers=auth(b)
        )
        undone = c.post("/api/door/undo", json={"guestId": g2["guest_id"]}, headers=auth(b))
        summary = c.get("/api/door/summary", headers=auth(a))
        listed = c.get("/api/door/list", headers=auth(a))
    assert rb["results"][0]["result"] == "admitted"
    assert ra["results"][0]["result"] == "admitted", "the earlier scan is the admission"
    assert ra["results"][0]["conflict"] is True
    assert replay == ra
    assert web.sql("web_test_door_admissions", {"guest_id": g1["guest_id"]})["admissions"] == 1
    assert [x["id"] for x in found["guests"]] == [g1["guest_id"]]
    assert g2["guest_id"] in [x["id"] for x in by_phone["guests"]]
    assert admitted.json()["result"] == "admitted"
    assert undone.json()["undone"] is True
    assert summary.status_code == 200
    s = summary.json()
    assert s["conflicts"] >= 1 and s["onList"] >= 2 and s["door"]["label"] == "Entrada"
    assert listed.status_code == 200
    hashes = {x["qrHash"] for x in listed.json()["guests"]}
    assert hashlib.sha256(g1["qr_code"].encode()).hexdigest() in hashes
    assert g1["qr_code"] not in listed.text, "the offline list never carries a code"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/door/check-in", {"qrCode": "x", "scanId": str(uuid.uuid4())}),
        ("POST", "/api/door/sync", {"scans": []}),
        ("GET", "/api/door/search?q=ana", None),
        ("POST", "/api/door/admit", {"guestId": str(uuid.uuid4()), "scanId": str(uuid.uuid4())}),
        ("POST", "/api/door/undo", {"guestId": str(uuid.uuid4())}),
        ("GET", "/api/door/summary", None),
        ("GET", "/api/door/list", None),
    ],
)
def test_every_route_wants_a_live_door_token(
    web: LiveServer, method: str, path: str, body: Any
) -> None:
    revoked = door(web, "Revogada")
    web.sql("web_test_door_revoke", {"door_id": revoked["doorId"]})
    with web.client() as c:
        for headers in (
            {},
            {"Authorization": "Bearer short"},
            {"Authorization": "Basic x"},
            {"Authorization": "Bearer " + "A" * 43},
            auth(revoked),
        ):
            r = c.request(method, path, json=body, headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.json()["code"] == "door_invalid"


def test_bad_bodies_name_the_field(web: LiveServer) -> None:
    link = door(web)
    with web.client() as c:
        r1 = c.post("/api/door/check-in", json={"qrCode": "", "scanId": "nope"}, headers=auth(link))
        r2 = c.post(
            "/api/door/check-in",
            json={"qrCode": "a", "scanId": str(uuid.uuid4()), "scannedAt": "yesterday"},
            headers=auth(link),
        )
        r3 = c.post(
            "/api/door/sync",
            json={
                "scans": [
                    {"scanId": str(uuid.uuid4()), "qrCode": "a", "scannedAt": "2026-01-01T00:00:00"}
                ]
            },
            headers=auth(link),
        )
        r4 = c.get("/api/door/search", params={"q": "  "}, headers=auth(link))
        r5 = c.post("/api/door/undo", json={}, headers=auth(link))
        r6 = c.post("/api/door/sync", json={"scans": "all"}, headers=auth(link))
        r7 = c.post(
            "/api/door/admit",
            content=b"guestId=1",
            headers={**auth(link), "Content-Type": "application/x-www-form-urlencoded"},
        )
    fields = [[e["field"] for e in r.json()["errors"]] for r in (r1, r2, r3, r4, r5, r6)]
    assert all(r.status_code == 400 for r in (r1, r2, r3, r4, r5, r6))
    assert fields == [
        ["qrCode", "scanId"],
        ["scannedAt"],
        ["scans[0].scannedAt"],
        ["q"],
        ["guestId"],
        ["scans"],
    ]
    assert r7.status_code == 415


def test_a_batch_past_500_scans_is_refused_whole(web: LiveServer) -> None:
    link = door(web)
    scans = [
        {"scanId": str(uuid.uuid4()), "qrCode": "0" * 32, "scannedAt": "2026-01-01T00:00:00Z"}
        for _ in range(501)
    ]
    with web.client() as c:
        r = c.post("/api/door/sync", json={"scans": scans}, headers=auth(link))
        ok = c.post("/api/door/sync", json={"scans": scans[:500]}, headers=auth(link))
    assert r.status_code == 413 and r.json()["code"] == "too_many_scans"
    assert ok.status_code == 200 and len(ok.json()["results"]) == 500


def test_each_door_has_its_own_rate_limit(web: LiveServer) -> None:
    busy, calm = door(web, "Ocupada"), door(web, "Calma")
    web.sql("web_test_set_setting", {"key": "rate_limit.door", "value": "3"})
    try:
        with web.client() as c:
            # a minute's window may turn between two calls: a refusal within 7 calls either way
            codes = [c.get("/api/door/summary", headers=auth(busy)).status_code for _ in range(7)]
            last = c.get("/api/door/summary", headers=auth(busy))
            other = c.get("/api/door/summary", headers=auth(calm))
    finally:
        web.sql("web_test_set_setting", {"key": "rate_limit.door", "value": None})
    assert codes[:3] == [200, 200, 200] and 429 in codes
    if last.status_code == 429:
        assert last.json()["code"] == "rate_limited" and int(last.headers["retry-after"]) >= 1
    assert other.status_code == 200, "another door is not slowed down"


def test_another_doors_scan_id_and_another_events_guest_are_refused(web: LiveServer) -> None:
    a, b = door(web, "Uma"), door(web, "Outra")
    g = guest(web)
    sid = str(uuid.uuid4())
    with web.client() as c:
        first = scan(c, a, g["qr_code"], sid)
        taken = scan(c, b, g["qr_code"], sid)
        nobody = c.post("/api/door/undo", json={"guestId": str(uuid.uuid4())}, headers=auth(a))
    assert first.json()["result"] == "admitted"
    assert taken.status_code == 409 and taken.json()["code"] == "scan_id_taken"
    assert "guest" not in taken.json(), "another door's answer is not shown"
    assert nobody.status_code == 404 and nobody.json()["code"] == "guest_not_found"
