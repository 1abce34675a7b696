"""The fixtures and hooks every test may use; they live in tests/support/database.py, which
tests import helpers from (PgServer, create_database, tq…), never from this file."""

from tests.support.database import (  # noqa: F401  (pytest finds fixtures and hooks by name here)
    admin_conn,
    artifacts_dir,
    conn,
    db_url,
    demo,
    fresh_db,
    pg_proc,
    pg_server,
    pytest_configure,
    pytest_unconfigure,
    template_db,
    web_conn_factory,
)
