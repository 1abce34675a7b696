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

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString, cast
from urllib.parse import quote, urlencode

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pytest_postgresql import factories
from pytest_postgresql.executors import PostgreSQLExecutor

from guestlist import migrate
from guestlist.queries import load_queries

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


@dataclass(frozen=True)
class PgServer:
    """Where the test server is. `host` is the socket folder for the session cluster."""

    host: str
    port: int
    user: str
    password: str | None = None
    maintenance_db: str = "postgres"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str) -> PgServer:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
        return cls(
            host=params.pop("host", ""),
            port=int(params.pop("port", "5432")),
            user=params.pop("user", os.environ.get("PGUSER", "postgres")),
            password=params.pop("password", None),
            maintenance_db=params.pop("dbname", "postgres"),
            extra=params,
        )

    @property
    def sockdir(self) -> str | None:
        return self.host if self.host.startswith("/") else None

    def params(self, dbname: str) -> dict[str, str]:
        out = {"host": self.host, "port": str(self.port), "user": self.user, **self.extra}
        if self.password is not None:
            out["password"] = self.password
        return {"dbname": dbname, **{k: v for k, v in out.items() if v}}

    def url(self, dbname: str) -> str:
        """libpq URL, e.g. postgresql:///db?host=/sock/folder&port=5432&user=postgres."""
        params = self.params(dbname)
        name = params.pop("dbname")
        return f"postgresql:///{quote(name, safe='')}?" + urlencode(params, quote_via=quote)

    def connect(self, dbname: str | None = None, **kwargs: Any) -> psycopg.Connection:
        return psycopg.connect(**self.params(dbname or self.maintenance_db), **kwargs)

    def libpq_env(self, dbname: str) -> dict[str, str]:
        """Environment for psql / pg_prove subprocesses."""
        env = dict(os.environ)
        p = self.params(dbname)
        env.update(PGHOST=p["host"], PGPORT=p["port"], PGUSER=p["user"], PGDATABASE=dbname)
        if "password" in p:
            env["PGPASSWORD"] = p["password"]
        return env


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


def create_database(server: PgServer, dbname: str, template: str | None = None) -> None:
    """CREATE DATABASE, retrying while a stray session still sits in the template."""
    with server.connect(autocommit=True) as admin:
        if template is None:
            admin.execute(tq_ident("create_database", dbname=dbname))
            return
        for attempt in range(20):
            try:
                admin.execute(
                    tq_ident("create_database_from_template", dbname=dbname, template=template)
                )
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 19:
                    raise
                time.sleep(0.25)


def forget_cron_jobs(server: PgServer, dbname: str) -> None:
    """Unschedule the pg_cron jobs of a database (migrate.py schedules one per database)."""
    with server.connect(autocommit=True) as admin:
        row = admin.execute(tq("cron_database_name")).fetchone()
    cron_db = row[0] if row else None
    if not cron_db:
        return
    with contextlib.suppress(psycopg.Error), server.connect(cron_db, autocommit=True) as cron:
        installed = cron.execute(tq("cron_installed")).fetchone()
        if installed and installed[0]:
            cron.execute(tq("cron_unschedule_database"), {"dbname": dbname})


def drop_database(server: PgServer, dbname: str) -> None:
    forget_cron_jobs(server, dbname)
    with server.connect(autocommit=True) as admin:
        admin.execute(tq_ident("drop_database", dbname=dbname))


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
    with pg_server.connect(autocommit=True) as admin:
        admin.execute(tq_ident("close_database", dbname=TEMPLATE_DB))
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
