"""Bring a database up to date: `guestlist migrate [--database-url URL]` (default: env
DATABASE_URL).

1. yoyo-migrations applies what is new in `migrations/` (tables, roles, grants);
2. every `sql/*.sql` file (the functions, CREATE OR REPLACE) is re-applied, in file-name
   order, all in one transaction;
3. the security settings given (env GUESTLIST_SETTINGS, `key=value` pairs separated by commas
   or spaces, e.g. `rate_limit_per_minute=0,bcrypt_cost=12`) are written to app.settings
   through admin.set_setting, which refuses unknown keys and values out of bounds; settings
   not given keep what the database has (see docs/config.md);
4. pg_cron, when the server preloads it, gets a job running `api.cleanup()` every minute in
   this database (from the database named by `cron.database_name`); when it cannot, the app
   runs the cleanup on a timer instead.

All of it runs while holding yoyo's lock on the database, so two runs at once take turns.
Running it twice is harmless: the second run applies no migration and re-applies the functions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import LiteralString, cast
from urllib.parse import urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from yoyo import get_backend, read_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.exceptions import LockTimeout

from guestlist.queries import q

PACKAGE = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    """`sql` or `migrations`: inside the installed package (the wheel carries the checkout's
    top-level folders as guestlist/sql and guestlist/migrations), else the checkout's own."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


MIGRATIONS_DIR = shipped_folder("migrations")
SQL_DIR = shipped_folder("sql")
LOCK_TIMEOUT_S = 120

Log = Callable[[str], None]


class MigrateError(RuntimeError):
    """A step failed; the message says which and why (no traceback needed)."""


@dataclass
class MigrateReport:
    """What one run did."""

    dbname: str
    migrations_applied: list[str] = field(default_factory=list)
    migrations_total: int = 0
    sql_files: list[str] = field(default_factory=list)
    settings: dict[str, str | None] = field(default_factory=dict)
    cleanup_scheduled: bool = False
    cron_message: str = ""


def yoyo_url(database_url: str, *, redact: bool = False) -> str:
    """A yoyo backend URL (psycopg 3 driver) for any libpq URL or key=value string.

    Every connection parameter goes into the query string, which yoyo hands to
    psycopg.connect() as keywords: socket folders (`host=/path`), ports, passwords
    and options need no URL-escaping games in the authority part.
    """
    params = {k: str(v) for k, v in conninfo_to_dict(database_url).items() if v is not None}
    if redact and "password" in params:
        params["password"] = "PASSWORD"
    return "postgresql+psycopg:///?" + urlencode(params)


def _describe_sql_error(path: Path, text: str | None, err: psycopg.Error) -> str:
    """File, line (when the error position maps onto the file), SQLSTATE, message, context."""
    diag = err.diag
    where = ""
    if text is not None and diag.statement_position:
        line = text.count("\n", 0, int(diag.statement_position) - 1) + 1
        where = f" (line {line})"
    parts = [f"{path.name}{where}: {diag.sqlstate or ''} {diag.message_primary or err}"]
    for label, value in (
        ("detail", diag.message_detail),
        ("hint", diag.message_hint),
        ("context", diag.context),
    ):
        if value:
            parts.append(f"  {label}: {value}")
    return "\n".join(parts)


def apply_migrations(
    backend: DatabaseBackend, migrations_dir: Path, log: Log
) -> tuple[list[str], int]:
    """yoyo apply; returns (ids applied now, migrations known). The caller holds the lock."""
    if not migrations_dir.is_dir():
        log(f"migrations: no folder {migrations_dir}, skipped")
        return [], 0
    migrations = read_migrations(str(migrations_dir))
    pending = backend.to_apply(migrations)
    applied: list[str] = []
    for migration in pending:
        log(f"migrations: applying {migration.id}")
        try:
            backend.apply_one(migration)
        except psycopg.Error as err:
            # yoyo runs a migration statement by statement: positions are not file offsets.
            raise MigrateError(
                "migrations: " + _describe_sql_error(Path(migration.path), None, err)
            ) from err
        applied.append(migration.id)
    backend.run_post_apply(pending)
    if applied:
        log(f"migrations: applied {len(applied)} of {len(migrations)}")
    else:
        log(f"migrations: up to date ({len(migrations)} applied before)")
    return applied, len(migrations)


def apply_sql_files(conn: psycopg.Connection, sql_dir: Path, log: Log) -> list[str]:
    """Run every sql/*.sql file, in name order, in the caller's transaction."""
    files = sorted(sql_dir.glob("*.sql")) if sql_dir.is_dir() else []
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            # One multi-statement string, no parameters: psycopg sends it as is.
            conn.execute(cast(LiteralString, text))
        except psycopg.Error as err:
            raise MigrateError("sql: " + _describe_sql_error(path, text, err)) from err
    names = [p.name for p in files]
    log(f"sql: applied {len(names)} file(s): {', '.join(names) if names else '(none)'}")
    return names


def parse_settings(raw: str) -> dict[str, str]:
    """`key=value` pairs separated by commas or whitespace → a dict (an empty value unsets)."""
    out: dict[str, str] = {}
    for item in raw.replace(",", " ").split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise MigrateError(f"GUESTLIST_SETTINGS: {item!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def write_settings(conn: psycopg.Connection, settings: Mapping[str, str | None], log: Log) -> None:
    """admin.set_setting for each (an empty or None value: back to the default), in the
    caller's transaction; a refused key or value stops the run."""
    for key, value in settings.items():
        try:
            conn.execute(q("set_setting"), {"key": key, "value": value or None})
        except psycopg.Error as err:
            detail = err.diag.message_primary or str(err)
            raise MigrateError(f"settings: {key}={value!r} refused: {detail}") from err
    if settings:
        written = ", ".join(f"{k}={v or '(default)'}" for k, v in settings.items())
        log(f"settings: {written}")


def schedule_cleanup(database_url: str, dbname: str) -> tuple[bool, str]:
    """Ask pg_cron to run api.cleanup() in `dbname` every minute.

    Returns (scheduled, message). Never raises for a missing pg_cron or missing rights.
    """
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(q("cron_database_name")).fetchone()
        cron_db = row[0] if row else None
        if not cron_db:
            return False, "pg_cron: not preloaded on this server; the app will run cleanup itself"
        cron_url = make_conninfo(database_url, dbname=cron_db)
        with psycopg.connect(cron_url, autocommit=True) as cron:
            cron.execute(q("cron_create_extension"))
            job = cron.execute(q("cron_schedule_cleanup"), {"dbname": dbname}).fetchone()
            cron.execute(q("cron_schedule_prune_history"))
        jobid = job[0] if job else "?"
        return True, (
            f"pg_cron: job guestlist-cleanup-{dbname} (id {jobid}) runs api.cleanup() "
            f"every minute, scheduled from database {cron_db}; "
            "guestlist-prune-cron-history drops its run history after 7 days"
        )
    except psycopg.Error as err:
        reason = (err.diag.message_primary or str(err)).strip().splitlines()[0]
        return False, f"pg_cron: cleanup not scheduled ({reason}); the app will run it itself"


def record_cleanup_scheduled(database_url: str, scheduled: bool) -> None:
    """Tell api.readiness() whether pg_cron runs the cleanup (else the app's timer does)."""
    try:
        with psycopg.connect(database_url) as conn:
            conn.execute(q("set_cleanup_scheduled"), {"value": "true" if scheduled else "false"})
    except psycopg.Error as err:
        raise MigrateError(
            f"migrate: could not record cleanup_scheduled: {err.diag.message_primary or err}"
        ) from err


def migrate(
    database_url: str,
    *,
    migrations_dir: Path = MIGRATIONS_DIR,
    sql_dir: Path = SQL_DIR,
    log: Log = print,
    cron: bool = True,
    settings: Mapping[str, str | None] | None = None,
) -> MigrateReport:
    """Apply migrations, then the sql/ functions and the given security settings, then the
    pg_cron schedule."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(q("current_database")).fetchone()
        assert row is not None
        report = MigrateReport(dbname=row[0])
    log(f"migrate: database {report.dbname}")

    backend = get_backend(yoyo_url(database_url))
    try:
        # One lock for the whole run: two runs at once take turns, so the second sees
        # the first's migrations as applied and never races it on CREATE OR REPLACE.
        with backend.lock(timeout=LOCK_TIMEOUT_S):
            report.migrations_applied, report.migrations_total = apply_migrations(
                backend, migrations_dir, log
            )
            with psycopg.connect(database_url) as conn, conn.transaction():
                report.sql_files = apply_sql_files(conn, sql_dir, log)
                if settings:
                    write_settings(conn, settings, log)
                    report.settings = dict(settings)
            if cron:
                scheduled, message = schedule_cleanup(database_url, report.dbname)
                report.cleanup_scheduled, report.cron_message = scheduled, message
                log(message)
                if report.sql_files:
                    record_cleanup_scheduled(database_url, scheduled)
    except LockTimeout as err:
        raise MigrateError(
            f"migrate: {err} — another migrate still running? If not, run "
            f"`.venv/bin/yoyo break-lock --database '{yoyo_url(database_url, redact=True)}'`"
        ) from err
    finally:
        backend.connection.close()
    return report


def run(database_url: str) -> int:
    """`guestlist migrate`: migrate, report a failure in one message; the exit status."""
    try:
        migrate(database_url, settings=parse_settings(os.environ.get("GUESTLIST_SETTINGS", "")))
    except MigrateError as err:
        print(err, file=sys.stderr)
        return 1
    except psycopg.OperationalError as err:
        print(f"migrate: cannot connect: {str(err).strip()}", file=sys.stderr)
        return 1
    return 0
