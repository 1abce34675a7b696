"""schemathesis against the console's routes as a logged-in owner: the run of
test_schemathesis.py carries no staff cookie, so there every console route answers 401 before
reading anything. Here the owner's cookie and this site's Origin go with every request, and the
path's ids are real ones of the owner's organization (an event, a promoter, a door link), so
bodies and query strings reach SQL. Logging out is left out: it would end the run's session.
Same checks as the main run: no 5xx, documented statuses and schemas, and nothing the schema
allows refused as invalid."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.database import PgServer
from tests.support.schemathesis import run_schemathesis
from tests.support.server import UNLIMITED, LiveServer, live_server

CONSOLE_PATHS = "^/api/console/|^/api/staff/me$|^/api/promoter/"


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("web_schemathesis_console")
    with live_server(pg_server, template_db, workdir, UNLIMITED) as server:
        yield server
        assert "Traceback" not in server.log_text()


def owner_world(web: LiveServer) -> tuple[str, dict[str, str]]:
    """(the owner's session cookie, the path ids of their organization)."""
    tag = secrets.token_hex(4)
    made = web.sql(
        "web_test_create_organization",
        {"name": f"Org {tag}", "slug": f"org-{tag}", "owner_email": f"dona.{tag}@example.pt"},
    )
    org = made["organizationId"]
    with httpx.Client(base_url=web.base_url, headers={"Origin": web.base_url}) as c:
        accepted = c.post(
            "/api/staff/invite/accept",
            json={"token": made["inviteToken"], "password": "Consola123", "displayName": "Dona"},
        )
        assert accepted.status_code == 200, accepted.text
        event = c.post(
            "/api/console/events",
            json={
                "organizationId": org,
                "title": "Noite",
                "slug": f"noite-{tag}",
                "startsAt": "2030-07-01T23:00:00Z",
                "location": "Lisboa",
                "guestCapacity": 100,
            },
        )
        assert event.status_code == 200, event.text
        event_id = event.json()["id"]
        promoter = c.post(
            f"/api/console/organizations/{org}/promoters",
            json={"slug": f"prom-{tag}", "displayName": "Promotor", "teamName": "Equipa"},
        )
        assert promoter.status_code == 200, promoter.text
        door = c.post(f"/api/console/events/{event_id}/doors", json={"label": "Entrada"})
        assert door.status_code == 200, door.text
        cookie = accepted.cookies["gl_staff"]
    ids = {
        "organization_id": org,
        "event_id": event_id,
        "promoter_id": promoter.json()["id"],
        "door_id": door.json()["doorId"],
        # members and invites: ids that are nobody's (the owner must not remove themselves)
        "staff_id": str(uuid.uuid4()),
        "invite_id": str(uuid.uuid4()),
    }
    return cookie, ids


def test_schemathesis_console_as_owner(web: LiveServer, tmp_path: Path) -> None:
    cookie, ids = owner_world(web)
    config = tmp_path / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(f'{k} = "{v}"\n' for k, v in ids.items()))
    run_schemathesis(
        web,
        tmp_path,
        "20251205",
        [
            "--header",
            f"Cookie: gl_staff={cookie}",
            "--header",
            f"Origin: {web.base_url}",
            "--include-path-regex",
            CONSOLE_PATHS,
            "--exclude-path-regex",
            "logout",
        ],
        config=config,
    )
    # the session lasted the whole run: the routes were reached as the owner, not as nobody
    me = httpx.get(f"{web.base_url}/api/staff/me", cookies={"gl_staff": cookie}, timeout=10)
    assert me.status_code == 200, me.text
