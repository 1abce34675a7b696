"""db.py and cleanup.py against a real database: the pool's connections act as
guestlist_web with the app's GUCs, and what the web role may not do maps to 403."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from guestlist import cleanup as cleanup_timer
from guestlist import db
from guestlist.config import Settings, load_settings
from guestlist.web.errors import from_exception
from tests.support.server import wq


def settings_for(db_url: str, **env: str) -> Settings:
    return load_settings({"DATABASE_URL": db_url, "POOL_MIN": "1", "POOL_MAX": "2", **env})


def test_pooled_connections_act_as_the_web_role(db_url: str) -> None:
    async def run() -> tuple:
        pool = db.make_pool(settings_for(db_url))
        await pool.open(wait=True)
        try:
            async with pool.connection() as conn:
                cur = await conn.execute(wq("web_test_whoami"))
                whoami = await cur.fetchone()
                autocommit = conn.autocommit
            try:
                async with pool.connection() as conn:
                    await conn.execute(wq("web_test_admin_call"))
            except Exception as exc:  # the mapper decides what the client would get
                refused = from_exception(exc)
            else:
                refused = None
            ready = await db.call(pool, "web_readiness")
            return whoami, autocommit, refused, ready
        finally:
            await pool.close()

    whoami, autocommit, refused, ready = asyncio.run(run())
    # the in-process workers use this pool: a dead app's backend stops within a second
    assert whoami == ("guestlist_web", None, "1s")  # no rate-limit GUC: a database setting
    assert autocommit is True
    assert refused is not None and (refused.status, refused.code) == (403, "forbidden")
    assert ready["ready"] is True


class _FakeConnection:
    autocommit = True

    def __init__(self) -> None:
        self.executed: list[str] = []

    async def execute(self, query: str) -> None:
        self.executed.append(query)


def test_the_pool_checks_new_and_idle_connections_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """db.check_connection: a round trip for a connection not handed out in the last
    CHECK_AFTER_IDLE_SECONDS, none for one in steady use."""
    now = [1000.0]
    monkeypatch.setattr(db.time, "monotonic", lambda: now[0])
    conn = _FakeConnection()

    async def checks_after(seconds: float) -> int:
        now[0] += seconds
        before = len(conn.executed)
        await db.check_connection(conn)  # type: ignore[arg-type]
        return len(conn.executed) - before

    async def run() -> list[int]:
        return [
            await checks_after(0),  # new: checked
            await checks_after(0.2),  # in use: not checked
            await checks_after(db.CHECK_AFTER_IDLE_SECONDS - 0.01),
            await checks_after(db.CHECK_AFTER_IDLE_SECONDS),  # idle long enough: checked
        ]

    assert asyncio.run(run()) == [1, 0, 0, 1]


def test_a_connection_lost_while_idle_is_replaced_before_use(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server drops the pool's only connection while it sits idle: the next request gets a
    new one, not an error."""
    monkeypatch.setattr(db, "CHECK_AFTER_IDLE_SECONDS", 0.05)

    async def run() -> tuple[int, int]:
        pool = db.make_pool(settings_for(db_url, POOL_MIN="1", POOL_MAX="1"))
        await pool.open(wait=True)
        try:
            async with pool.connection() as conn:
                first = (await (await conn.execute(wq("web_test_backend_pid"))).fetchone())[0]
            async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as admin:
                await admin.execute(wq("web_test_terminate_backend"), {"pid": first})
            await asyncio.sleep(0.1)
            async with pool.connection() as conn:
                second = (await (await conn.execute(wq("web_test_backend_pid"))).fetchone())[0]
            return first, second
        finally:
            await pool.close()

    first, second = asyncio.run(run())
    assert second != first


@pytest.mark.parametrize("scheduled", [True, False])
def test_cleanup_runs_only_when_pg_cron_does_not(
    db_url: str, scheduled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_call = db.call

    async def spy(pool: AsyncConnectionPool, name: str, params: Any = None) -> Any:
        calls.append(name)
        result = await real_call(pool, name, params)
        if name == "web_readiness":
            result = {**result, "cleanupScheduled": scheduled}
        return result

    monkeypatch.setattr(db, "call", spy)

    async def run() -> bool:
        pool = db.make_pool(settings_for(db_url))
        await pool.open(wait=True)
        try:
            return await cleanup_timer.cleanup_once(pool)
        finally:
            await pool.close()

    ran = asyncio.run(run())
    assert ran is (not scheduled)
    assert calls == (["web_readiness"] if scheduled else ["web_readiness", "web_cleanup"])


@pytest.mark.parametrize(
    ("failures", "state", "answer", "calls"),
    [
        (2, "40P01", 3, 3),  # deadlock_detected twice: the third attempt answers
        (2, "40001", 3, 3),  # serialization_failure: the same
        (5, "40P01", None, 3),  # still failing after CALL_ATTEMPTS: raised, a 503
        (1, "22012", None, 1),  # any other error is not run again
    ],
)
def test_calls_the_server_undid_for_a_conflict_run_again(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    failures: int,
    state: str,
    answer: int | None,
    calls: int,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name in ("web_test_flaky_sequence", "web_test_flaky_function", "web_test_flaky_grant"):
            conn.execute(wq(name))
    app_query = db.q  # the pool's own set-up queries stay the app's
    monkeypatch.setattr(
        db, "q", lambda name: wq(name) if name == "web_test_flaky" else app_query(name)
    )

    async def run() -> Any:
        pool = db.make_pool(settings_for(db_url))
        await pool.open(wait=True)
        try:
            return await db.call(pool, "web_test_flaky", {"failures": failures, "state": state})
        except psycopg.Error as exc:
            return exc
        finally:
            await pool.close()

    result = asyncio.run(run())
    with psycopg.connect(db_url) as conn:
        assert conn.execute(wq("web_test_flaky_calls")).fetchone() == (calls,)
    assert db.CALL_ATTEMPTS == 3
    if answer is not None:
        assert result == answer
        return
    assert isinstance(result, psycopg.Error) and result.sqlstate == state
    err = from_exception(result)
    if state == "40P01":
        assert (err.status, err.code, err.headers()) == (503, "unavailable", {"Retry-After": "1"})
    else:
        assert (err.status, err.code) == (500, "internal")
