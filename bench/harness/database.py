"""The database server the bench runs on (DATABASE_URL's, else the project-local cluster),
the databases a run makes and drops on it, its CPU, and the bench's own queries
(bench/queries.sql)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
from typing import LiteralString, cast
from urllib.parse import quote, urlencode

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.harness import BENCH, ROOT
from bench.harness.machine import proc_cpu_seconds
from guestlist.queries import load_queries
from tests.support.postgres import PgServer, close_database, create_database, drop_database

BQ: dict[str, str] = load_queries(BENCH / "queries.sql")
# The bench database's security settings (migrate.py writes them): every rate limit off, since
# every VU comes from 127.0.0.1 (one client key) and the phone checks hit numbers by the
# thousand. The lockout stays: the journeys log in with the right password.
BENCH_SETTINGS: dict[str, str | None] = {
    "rate_limit_per_minute": "0",
    "phone_lookups_per_minute": "0",
    "unknown_phone_lookups_per_minute": "0",
}


def bq(name: str) -> LiteralString:
    return cast(LiteralString, BQ[name])


class BenchDatabases:
    """DATABASE_URL's server (or the local cluster's) and the databases the run makes on it
    (made and dropped with tests/support/postgres.py, as the tests do)."""

    def __init__(self, base_url: str, prefix: str):
        self.base_url = base_url
        # CREATE and DROP DATABASE from the postgres database, whatever DATABASE_URL names
        self.server = dataclasses.replace(PgServer.from_url(base_url), maintenance_db="postgres")
        self.prefix = prefix
        self.created: list[str] = []
        self.postmaster = self.find_postmaster()

    def url(self, dbname: str) -> str:
        return make_conninfo(self.base_url, dbname=dbname)

    def node_url(self, dbname: str) -> str:
        """The same connection as a postgres:// URL node-postgres understands (socket folders
        and ports as query parameters)."""
        params = {k: str(v) for k, v in conninfo_to_dict(self.base_url).items() if v}
        params.pop("dbname", None)
        user = params.pop("user", os.environ.get("PGUSER", "postgres"))
        password = params.pop("password", None)
        host = params.pop("host", "")
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
        query = {}
        if host.startswith("/"):
            query["host"] = host
            host = ""
        if "port" in params:
            if host:
                host = f"{host}:{params.pop('port')}"
            else:
                query["port"] = params.pop("port")
        qs = ("?" + urlencode(query, quote_via=quote)) if query else ""
        return f"postgres://{auth}@{host}/{quote(dbname, safe='')}{qs}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def facts(self) -> dict[str, str]:
        with self.admin() as c:
            cur = c.execute(bq("server_facts"))
            row = cur.fetchone()
            names = [d.name for d in cur.description or []]
        return dict(zip(names, row or (), strict=False))

    def create(self, name: str, template: str | None = None) -> str:
        dbname = f"{self.prefix}_{name}"
        self.drop(dbname)
        create_database(self.server, dbname, template=template)
        self.created.append(dbname)
        return dbname

    def close_template(self, dbname: str) -> None:
        close_database(self.server, dbname)

    def drop(self, dbname: str) -> None:
        drop_database(self.server, dbname)
        if dbname in self.created:
            self.created.remove(dbname)

    def drop_all(self) -> None:
        for dbname in reversed(list(self.created)):
            with contextlib.suppress(psycopg.Error):
                self.drop(dbname)

    def find_postmaster(self) -> int | None:
        """The server's postmaster when it runs on this machine: the parent of a backend,
        recognised by its working directory, the data directory (a pid from a server elsewhere
        may name some other local process). None when it is not ours to measure."""
        with contextlib.suppress(psycopg.Error, psutil.Error), self.admin() as c:
            row = c.execute(bq("server_process")).fetchone()
            parent = psutil.Process(row[0]).parent() if row else None
            if parent is not None and parent.cwd() == os.path.realpath(row[1]):
                return parent.pid
        return None

    def cpu_seconds(self) -> float | None:
        """CPU seconds of the whole server since it started: the postmaster and the processes it
        reaped (backends that ended) and its live ones (backends, WAL writer, checkpointer…)."""
        if self.postmaster is None:
            return None
        total = proc_cpu_seconds(self.postmaster)
        if total is None:
            return None
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.postmaster).children():
                total += proc_cpu_seconds(child.pid) or 0.0
        return total


def resolve_base_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    local = ROOT / "scripts" / "local-db.sh"
    subprocess.run([str(local), "start"], check=True, stdout=subprocess.DEVNULL, timeout=120)
    return subprocess.run(
        [str(local), "url"], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()
