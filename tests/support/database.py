"""The database harness: one throwaway PostgreSQL cluster per session, one database per test
(its fixtures and hooks reach every test through tests/conftest.py).

- The cluster comes from pytest-postgresql's process factory, started through
  scripts/pg_ctl (which runs PostgreSQL as the `postgres` OS user when pytest runs as
  root), with pg_cron preloaded (cron.database_name = postgres) and durability off.
  It listens on 127.0.0.1 (pytest-postgresql waits on the TCP port) and on a Unix socket
  in a folder of its own; the tests connect through the socket. With TEST_DATABASE_URL
  set, that server is used instead and no cluster is started.
- `template_db` (session): database guestlist_template, migrated once with migrate.py,
  plus the pgtap and plpgsql_check extensions; then closed to connections.
- `db_url`: a fresh `CREATE DATABASE test_<random> TEMPLATE guestlist_template` per test,
  dropped WITH (FORCE) afterwards. `conn`, `web_conn_factory`, `admin_conn` and `demo`
  build on it; `pg_server` tells where the server is (socket folder or host, port, user).

When pytest runs as root its base temp folder must be reachable by `postgres`, so unless
--basetemp is given it is /tmp/guestlist-pytest-<pid> (mode 0755), removed at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import LiteralString, cast

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql import factories
from pytest_postgresql.executors import PostgreSQLExecutor

from guestlist import migrate
from guestlist.queries import load_queries
from tests.support.postgres import (  # re-exported: the tests' own helpers
    PgServer,
    close_database,
    create_database,
    drop_database,
    forget_cron_jobs,
)

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
ARTIFACTS = TESTS / "artifacts"
TEMPLATE_DB = "guestlist_template"
IS_ROOT = os.geteuid() == 0
SERVER_OPTIONS = " ".join(
    [
        "-c shared_preload_libraries=pg_cron",
        "-c cron.database_name=postgres",
        "-c max_connections=400",
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
    ]
)

TEST_QUERIES: dict[str, str] = load_queries(TESTS / "queries.sql")

_OWN_BASETEMP: Path | None = None


def tq(name: str) -> LiteralString:
    """A statement from tests/queries.sql."""
    return cast(LiteralString, TEST_QUERIES[name])


def tq_ident(name: str, **identifiers: str) -> sql.Composed:
    """A statement from tests/queries.sql with its {placeholders} filled as identifiers."""
    return sql.SQL(tq(name)).format(**{k: sql.Identifier(v) for k, v in identifiers.items()})


# ─── where the cluster lives ────────────────────────────────────────────────


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: pytest's tmpdir plugin reads --basetemp in its own pytest_configure.
    global _OWN_BASETEMP
    if config.option.basetemp is None:
        _OWN_BASETEMP = Path(f"/tmp/guestlist-pytest-{os.getpid()}")
        config.option.basetemp = str(_OWN_BASETEMP)
    if not config.getoption("postgresql_unixsocketdir", default=None):
        config.option.postgresql_unixsocketdir = str(
            Path(config.option.basetemp).resolve() / "sock"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_BASETEMP is not None and _OWN_BASETEMP.is_dir():
        shutil.rmtree(_OWN_BASETEMP, ignore_errors=True)


pg_proc = factories.postgresql_proc(
    executable=str(ROOT / "scripts" / "pg_ctl"),
    postgres_options=SERVER_OPTIONS,
)


def _socket_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if IS_ROOT:
        shutil.chown(path, "postgres", "postgres")


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PgServer:
    """The server under test: TEST_DATABASE_URL's, or a cluster started for this session."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        return PgServer.from_url(external)
    base = tmp_path_factory.getbasetemp()
    if IS_ROOT:
        base.chmod(0o755)  # postgres must traverse it to its data and socket folders
    sockdir = Path(request.config.getoption("postgresql_unixsocketdir"))
    _socket_folder(sockdir)
    proc: PostgreSQLExecutor = request.getfixturevalue("pg_proc")
    return PgServer(host=str(sockdir), port=int(proc.port), user=proc.user)


# ─── databases ──────────────────────────────────────────────────────────────


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> Iterator[str]:
    """guestlist_template: migrated once, with pgtap and plpgsql_check; no connections."""
    drop_database(pg_server, TEMPLATE_DB)
    create_database(pg_server, TEMPLATE_DB)
    with pg_server.connect(TEMPLATE_DB, autocommit=True) as c:
        # Before migrating, so the project's default privileges do not touch pgTAP.
        for ext in ("pgtap", "plpgsql_check"):
            available = c.execute(tq("extension_available"), {"name": ext}).fetchone()
            if available and available[0]:
                c.execute(tq(f"create_extension_{ext}"))
    migrate.migrate(pg_server.url(TEMPLATE_DB))
    # The copies get no cron job of their own; the template's would keep connecting to it.
    forget_cron_jobs(pg_server, TEMPLATE_DB)
    close_database(pg_server, TEMPLATE_DB)
    yield TEMPLATE_DB
    drop_database(pg_server, TEMPLATE_DB)


@pytest.fixture
def fresh_db(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """Name of a new database copied from the template; dropped after the test."""
    dbname = f"test_{secrets.token_hex(6)}"
    create_database(pg_server, dbname, template=template_db)
    try:
        yield dbname
    finally:
        drop_database(pg_server, dbname)


@pytest.fixture
def db_url(pg_server: PgServer, fresh_db: str) -> str:
    """libpq URL of a fresh migrated database (superuser)."""
    return pg_server.url(fresh_db)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """Autocommit connection to the fresh database, as the superuser."""
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def _role_connection(url: str, role_query: str, autocommit: bool) -> psycopg.Connection:
    c = psycopg.connect(url, autocommit=autocommit)
    c.execute(tq(role_query))
    if not autocommit:
        c.commit()  # keep the role past later rollbacks
    return c


@pytest.fixture
def web_conn_factory(db_url: str) -> Iterator[Callable[..., psycopg.Connection]]:
    """Callable making new connections acting as guestlist_web (closed after the test)."""
    made: list[psycopg.Connection] = []

    def make(*, autocommit: bool = True) -> psycopg.Connection:
        c = _role_connection(db_url, "set_role_web", autocommit)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def admin_conn(db_url: str) -> Iterator[psycopg.Connection]:
    """Autocommit connection acting as guestlist_admin."""
    c = _role_connection(db_url, "set_role_admin", autocommit=True)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def demo(conn: psycopg.Connection) -> dict[str, str]:
    """admin.load_demo() in the fresh database: organizationId, eventId, promoterId, teamId."""
    row = conn.execute(tq("load_demo")).fetchone()
    assert row is not None and isinstance(row[0], dict), row
    return cast(dict[str, str], row[0])


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """tests/artifacts (git-ignored): reports kept after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
