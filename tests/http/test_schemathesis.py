"""schemathesis against the real app: `python app.py` (tests/support/server.py) on a migrated demo
database, the CLI run against /openapi.json. A short, seeded run: every operation gets a few
schema-valid and schema-invalid requests, and every answer must be no 5xx, a documented status,
content type and headers, a body matching the documented schema, a 4xx for what the schema
forbids and no 4xx-as-invalid for what it allows (the hooks module gives the phone format real
phone numbers). Rate limits are off (UNLIMITED, tests/support/server.py): a 429 is not what is
tested."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.database import PgServer
from tests.support.server import UNLIMITED, LiveServer, live_server

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS_MODULE = "schemathesis_hooks"
# Checks that need a second identity or auth to mean anything here (the admin token is not
# given to the run; routes without auth have no resource to take from another user).
NOT_RUN = ("ignored_auth", "object_level_authorization", "use_after_free")


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("web_schemathesis")
    with live_server(pg_server, template_db, workdir, UNLIMITED) as server:
        yield server
        assert "Traceback" not in server.log_text()


def test_schemathesis_finds_nothing(web: LiveServer, tmp_path: Path) -> None:
    assert SCHEMATHESIS.exists(), "schemathesis missing: make install-test (the test extra)"
    # the door's routes answer a live door link's token (every other route ignores the header)
    door = web.sql("web_test_door_link", {"event_id": web.demo["eventId"], "label": "Porta"})
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])]),
        "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
        "NO_COLOR": "1",
    }
    cmd = [
        str(SCHEMATHESIS),
        "run",
        f"{web.base_url}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(NOT_RUN),
        "--header",
        f"Authorization: Bearer {door['token']}",
        "--max-examples",
        "25",
        "--seed",
        "20251204",
        # one worker: CPython 3.11's ast module is not thread-safe (hypothesis parses lambdas
        # to describe strategies), and the machine's cores are shared anyway
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--no-shrink",
        # a failure's reproduction shows the body as sent (test data only, no real secrets)
        "--output-sanitize",
        "false",
        # not the coverage phase: its boundary cases for the name patterns (the long classes of
        # invisible characters) take over a minute to generate on two shared cores
        "--phases",
        "examples,fuzzing,stateful",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    run = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False
    )  # cwd: schemathesis keeps a .schemathesis/ cache there
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    assert "No issues found" in output or "passed" in output, output[-5000:]
