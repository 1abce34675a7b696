"""What the queue tests share: their statements (tests/queue/queries.sql), working one job by
hand, reading a job's row, and waiting for a condition."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, LiteralString, cast

import psycopg

from guestlist.queries import load_queries

QQ = load_queries(Path(__file__).with_name("queries.sql"))


def qq(name: str) -> LiteralString:
    return cast(LiteralString, QQ[name])


def work(conn: psycopg.Connection, name: str = "test") -> dict[str, Any] | None:
    row = conn.execute(qq("queue_test_work_one"), {"worker": name}).fetchone()
    return cast("dict[str, Any] | None", row[0] if row else None)


def rows(db_url: str, name: str, **params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(qq(name), params).fetchall()


def job_row(db_url: str, job_id: str) -> dict[str, Any]:
    found = rows(db_url, "queue_test_job", job_id=job_id)
    assert len(found) == 1
    return found[0]


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy; a failure guard, not a time assertion."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(psycopg.OperationalError):
            value = check()
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout} s")
        time.sleep(0.05)
