"""schemathesis against the real app: `python app.py` (tests/support/server.py) on a migrated demo
database, the CLI run against /openapi.json. A short, seeded run: every operation gets a few
schema-valid and schema-invalid requests, and every answer must be no 5xx, a documented status,
content type and headers, a body matching the documented schema, a 4xx for what the schema
forbids and no 4xx-as-invalid for what it allows (the hooks module gives the phone format real
phone numbers). Rate limits are off (UNLIMITED, tests/support/server.py): a 429 is not what is
tested."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.database import PgServer
from tests.support.schemathesis import run_schemathesis
from tests.support.server import UNLIMITED, LiveServer, live_server


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("web_schemathesis")
    with live_server(pg_server, template_db, workdir, UNLIMITED) as server:
        yield server
        assert "Traceback" not in server.log_text()


def test_schemathesis_finds_nothing(web: LiveServer, tmp_path: Path) -> None:
    # the door's routes answer a live door link's token (every other route ignores the header)
    door = web.sql("web_test_door_link", {"event_id": web.demo["eventId"], "label": "Porta"})
    run_schemathesis(
        web,
        tmp_path,
        "20251204",
        [
            "--header",
            f"Authorization: Bearer {door['token']}",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
    )
