"""migrate.py: yoyo, sql/ functions, pg_cron schedule; idempotent, safe to run twice at once."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from yoyo.connections import parse_uri

from guestlist import migrate
from tests.support.database import ROOT, PgServer, create_database, drop_database, tq, tq_ident
from tests.support.postgres import pq

MIGRATION_IDS = sorted(p.stem for p in (ROOT / "migrations").glob("*.sql"))
SQL_FILES = sorted(p.name for p in (ROOT / "sql").glob("*.sql"))


@pytest.fixture
def empty_db(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A database never migrated (template_db first, so the roles already exist)."""
    dbname = f"mig_{secrets.token_hex(6)}"
    create_database(pg_server, dbname)
    try:
        yield dbname
    finally:
        drop_database(pg_server, dbname)


def cron_database(server: PgServer) -> str:
    """The database pg_cron keeps its tables in (cron.database_name)."""
    with server.connect(autocommit=True) as c:
        row = c.execute(pq("cron_database_name")).fetchone()
    assert row is not None and row[0], "the test cluster preloads pg_cron"
    return str(row[0])


def cron_jobs(server: PgServer, dbname: str) -> list[tuple[object, ...]]:
    with server.connect(cron_database(server), autocommit=True) as cron:
        return cron.execute(tq("cron_jobs_for_database"), {"dbname": dbname}).fetchall()


def test_migrations_and_functions_exist() -> None:
    assert MIGRATION_IDS, "migrations/*.sql"
    assert SQL_FILES, "sql/*.sql"


def test_fresh_database_then_second_run_is_a_no_op(pg_server: PgServer, empty_db: str) -> None:
    url = pg_server.url(empty_db)
    lines: list[str] = []

    first = migrate.migrate(url, log=lines.append)
    assert first.dbname == empty_db
    assert first.migrations_applied == MIGRATION_IDS
    assert first.sql_files == SQL_FILES
    assert first.cleanup_scheduled, first.cron_message
    assert any(line.startswith("migrations: applying") for line in lines)

    with psycopg.connect(url, autocommit=True) as c:
        functions_before = c.execute(tq("project_function_count")).fetchone()

    lines.clear()
    second = migrate.migrate(url, log=lines.append)
    assert second.migrations_applied == []
    assert second.migrations_total == len(MIGRATION_IDS)
    assert second.sql_files == SQL_FILES  # functions are re-applied every time
    assert not any(line.startswith("migrations: applying") for line in lines)
    assert any("up to date" in line for line in lines)

    with psycopg.connect(url, autocommit=True) as c:
        assert c.execute(tq("yoyo_applied_count")).fetchone() == (len(MIGRATION_IDS),)
        assert c.execute(tq("project_function_count")).fetchone() == functions_before
        assert functions_before is not None and functions_before[0] > 0


def test_template_copy_is_already_migrated(db_url: str) -> None:
    report = migrate.migrate(db_url, log=lambda _line: None)
    assert report.migrations_applied == []
    assert report.migrations_total == len(MIGRATION_IDS)


def test_roles_exist_once_after_two_databases(
    pg_server: PgServer, empty_db: str, db_url: str
) -> None:
    # template_db migrated one database; migrate a second, never-migrated one.
    migrate.migrate(pg_server.url(empty_db), log=lambda _line: None)
    with pg_server.connect(autocommit=True) as c:
        roles = c.execute(tq("project_roles")).fetchall()
    assert roles == [
        ("guestlist_admin", False),
        ("guestlist_owner", False),
        ("guestlist_web", False),
    ]


def test_cleanup_job_scheduled_in_cron_database(
    pg_server: PgServer, fresh_db: str, db_url: str
) -> None:
    assert cron_jobs(pg_server, fresh_db) == []  # copies of the template have none
    report = migrate.migrate(db_url, log=lambda _line: None)
    assert report.cleanup_scheduled, report.cron_message
    expected = [
        (f"guestlist-cleanup-{fresh_db}", "* * * * *", "SELECT api.cleanup()", fresh_db, True)
    ]
    assert cron_jobs(pg_server, fresh_db) == expected

    # Same name: a second run replaces the job rather than adding one.
    migrate.migrate(db_url, log=lambda _line: None)
    assert cron_jobs(pg_server, fresh_db) == expected

    with psycopg.connect(db_url, autocommit=True) as c:
        readiness = c.execute(tq("readiness")).fetchone()
        assert readiness == ({"ready": True, "cleanupScheduled": True},)
        # What the job runs works here (not waiting a minute for pg_cron to call it).
        cleaned = c.execute(tq("cleanup")).fetchone()
        assert cleaned is not None and isinstance(cleaned[0], dict)


def test_cron_history_of_guestlist_jobs_is_pruned_after_7_days(
    pg_server: PgServer, fresh_db: str, db_url: str
) -> None:
    migrate.migrate(db_url, log=lambda _line: None)
    ours = cron_jobs(pg_server, fresh_db)
    assert ours
    with pg_server.connect(cron_database(pg_server), autocommit=True) as cron:
        prune = cron.execute(tq("cron_prune_job")).fetchall()
        assert len(prune) == 1 and prune[0][0] == "17 3 * * *", prune
        jobid = cron.execute(tq("cron_jobs_ids_for_database"), {"dbname": fresh_db}).fetchone()
        other = cron.execute(tq("cron_test_other_job")).fetchone()
        assert jobid is not None and other is not None

        def add_run(job: int, age: str) -> int:
            added = cron.execute(tq("cron_test_add_run"), {"jobid": job, "age": age}).fetchone()
            assert added is not None
            return int(added[0])

        try:
            runs = {
                (job, age): add_run(job, age)
                for job in (jobid[0], other[0])
                for age in ("8 days", "1 day")
            }
            cron.execute(prune[0][1])  # what pg_cron runs each night
            left = cron.execute(tq("cron_test_runs_left"), {"runids": list(runs.values())})
            kept = {r[0] for r in left.fetchall()}
        finally:
            cron.execute(tq("cron_test_unschedule_other_job"))
    assert kept == {
        runs[(jobid[0], "1 day")],
        runs[(other[0], "8 days")],
        runs[(other[0], "1 day")],
    }, "only guestlist's runs older than 7 days go"


def test_without_cron_rights_migrate_says_so_and_continues(
    pg_server: PgServer, fresh_db: str
) -> None:
    role = f"nocron_{secrets.token_hex(4)}"
    with pg_server.connect(autocommit=True) as c:
        c.execute(tq_ident("test_create_login_role", role=role))
    try:
        server = PgServer(pg_server.host, pg_server.port, role, None, pg_server.maintenance_db)
        scheduled, message = migrate.schedule_cleanup(server.url(fresh_db), fresh_db)
        assert not scheduled
        assert message.startswith("pg_cron: cleanup not scheduled (")
        assert "\n" not in message
        assert cron_jobs(pg_server, fresh_db) == []
    finally:
        with pg_server.connect(autocommit=True) as c:
            c.execute(tq_ident("test_drop_role", role=role))


def test_two_runs_at_once_take_turns(pg_server: PgServer, empty_db: str) -> None:
    url = pg_server.url(empty_db)
    env = {**os.environ, "DATABASE_URL": url}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "guestlist", "migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
    applied = [out.count("migrations: applying") for out in outputs]
    assert sorted(applied) == [0, len(MIGRATION_IDS)], outputs
    with psycopg.connect(url, autocommit=True) as c:
        assert c.execute(tq("yoyo_applied_count")).fetchone() == (len(MIGRATION_IDS),)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql:///guestlist?host=/var/tmp/x%20y/sock&port=54329&user=postgres",
            {
                "dbname": "guestlist",
                "host": "/var/tmp/x y/sock",
                "port": "54329",
                "user": "postgres",
            },
        ),
        (
            "postgresql://app:p%40ss%2Fw@db.example:6543/gl?sslmode=require",
            {
                "dbname": "gl",
                "host": "db.example",
                "port": "6543",
                "user": "app",
                "password": "p@ss/w",
                "sslmode": "require",
            },
        ),
        ("dbname=gl host=/tmp port=5433", {"dbname": "gl", "host": "/tmp", "port": "5433"}),
    ],
)
def test_yoyo_url_keeps_every_parameter(url: str, expected: dict[str, str]) -> None:
    parsed = parse_uri(migrate.yoyo_url(url))
    assert parsed.scheme == "postgresql+psycopg"
    assert parsed.args == expected


def test_yoyo_url_reaches_the_server(db_url: str) -> None:
    # yoyo hands the query-string parameters to psycopg.connect as keywords.
    from yoyo import get_backend

    backend = get_backend(migrate.yoyo_url(db_url))
    try:
        assert backend.execute(pq("cron_database_name")).fetchone() is not None
    finally:
        backend.connection.close()


def test_sql_error_names_file_and_line(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "01_ok.sql").write_text("SELECT 1;\n")
    (tmp_path / "02_bad.sql").write_text("SELECT 1;\n\nSELEC 2;\n")
    with pytest.raises(migrate.MigrateError) as err:
        migrate.migrate(db_url, sql_dir=tmp_path, cron=False, log=lambda _line: None)
    assert "02_bad.sql (line 3)" in str(err.value)
    assert "syntax error" in str(err.value)


def test_failing_migration_is_named_and_rolled_back(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "9001.broken.sql").write_text(
        "CREATE TABLE public.should_vanish (id int);\nSELECT no_such_function();\n"
    )
    with pytest.raises(migrate.MigrateError) as err:
        migrate.migrate(db_url, migrations_dir=tmp_path, cron=False, log=lambda _line: None)
    assert str(err.value).startswith("migrations: 9001.broken.sql: 42883 ")
    with psycopg.connect(db_url, autocommit=True) as c:
        assert c.execute(tq("table_exists"), {"name": "public.should_vanish"}).fetchone() == (
            False,
        )
        assert c.execute(tq("yoyo_applied_count")).fetchone() == (len(MIGRATION_IDS),)


def test_security_settings_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def settings() -> dict[str, str]:
        with psycopg.connect(db_url, autocommit=True) as c:
            row = c.execute(tq("security_settings")).fetchone()
        assert row is not None
        return dict(row[0])

    monkeypatch.setenv("GUESTLIST_SETTINGS", "rate_limit.login=300, bcrypt_cost=12")
    assert migrate.run(db_url) == 0
    assert settings() == {"rate_limit.login": "300", "bcrypt_cost": "12"}
    # a value out of bounds stops the run and writes nothing
    monkeypatch.setenv("GUESTLIST_SETTINGS", "rate_limit.login=5 bcrypt_cost=3")
    assert migrate.run(db_url) == 1
    assert "bcrypt_cost='3' refused" in capsys.readouterr().err
    assert settings() == {"rate_limit.login": "300", "bcrypt_cost": "12"}
    monkeypatch.setenv("GUESTLIST_SETTINGS", "no_such_key=1")
    assert migrate.run(db_url) == 1
    # an empty value takes a setting back to its default; one not named keeps its value
    migrate.migrate(db_url, cron=False, log=lambda _line: None, settings={"bcrypt_cost": ""})
    assert settings() == {"rate_limit.login": "300"}
    with pytest.raises(migrate.MigrateError, match="not key=value"):
        migrate.parse_settings("rate_limit.login")
