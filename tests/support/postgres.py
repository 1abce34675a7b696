"""The PostgreSQL server the tests and the bench run on: where it is (`PgServer`) and the
databases they make and drop there. No pytest here: bench/runner.py uses it as well."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString, cast
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from guestlist.queries import load_queries

SERVER_QUERIES: dict[str, str] = load_queries(Path(__file__).with_name("postgres.sql"))


def pq(name: str) -> LiteralString:
    """A statement from tests/support/postgres.sql."""
    return cast(LiteralString, SERVER_QUERIES[name])


def pq_ident(name: str, **identifiers: str) -> sql.Composed:
    """A statement from tests/support/postgres.sql, its {placeholders} filled as identifiers."""
    return sql.SQL(pq(name)).format(**{k: sql.Identifier(v) for k, v in identifiers.items()})


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


def create_database(server: PgServer, dbname: str, template: str | None = None) -> None:
    """CREATE DATABASE, retrying while a stray session still sits in the template."""
    with server.connect(autocommit=True) as admin:
        if template is None:
            admin.execute(pq_ident("create_database", dbname=dbname))
            return
        for attempt in range(40):
            try:
                admin.execute(
                    pq_ident("create_database_from_template", dbname=dbname, template=template)
                )
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 39:
                    raise
                time.sleep(0.25)


def forget_cron_jobs(server: PgServer, dbname: str) -> None:
    """Unschedule the pg_cron jobs of a database (`guestlist migrate` schedules one per
    database); never fails."""
    with server.connect(autocommit=True) as admin:
        row = admin.execute(pq("cron_database_name")).fetchone()
    cron_db = row[0] if row else None
    if not cron_db:
        return
    with contextlib.suppress(psycopg.Error), server.connect(cron_db, autocommit=True) as cron:
        installed = cron.execute(pq("cron_installed")).fetchone()
        if installed and installed[0]:
            cron.execute(pq("cron_unschedule_database"), {"dbname": dbname})


def drop_database(server: PgServer, dbname: str) -> None:
    forget_cron_jobs(server, dbname)
    with server.connect(autocommit=True) as admin:
        admin.execute(pq_ident("drop_database", dbname=dbname))


def close_database(server: PgServer, dbname: str) -> None:
    """No more connections to `dbname` (a template: CREATE DATABASE … TEMPLATE fails while any
    session is connected to it), its pg_cron jobs forgotten first."""
    forget_cron_jobs(server, dbname)
    with server.connect(autocommit=True) as admin:
        admin.execute(pq_ident("close_database", dbname=dbname))
