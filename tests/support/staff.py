"""The server the console's and the door links' tests share: rate limits off (one test client
makes every request), and, once its module is done, a log holding no staff or door token and
no traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer,
    template_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[LiveServer]:
    name = request.module.__name__.rsplit(".", 1)[-1]
    with live_server(
        pg_server,
        template_db,
        tmp_path_factory.mktemp(name),
        settings={"rate_limit_per_minute": "0"},
    ) as server:
        yield server
        log = server.log_text()
        assert "Traceback" not in log
        for secret in server.secrets:
            assert secret not in log, "a staff or door token reached the log"
