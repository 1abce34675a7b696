"""db.py and cleanup_timer.py against a real database: the pool's connections act as
guestlist_web with the app's GUCs, and what the web role may not do maps to 403."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from web_server import wq

import cleanup_timer
import db
from config import Settings, load_settings
from errors import from_exception


def settings_for(db_url: str, **env: str) -> Settings:
    return load_settings({"DATABASE_URL": db_url, "POOL_MIN": "1", "POOL_MAX": "2", **env})


def test_pooled_connections_act_as_the_web_role(db_url: str) -> None:
    async def run() -> tuple:
        pool = db.make_pool(settings_for(db_url, RATE_LIMIT_PER_MINUTE="7"))
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
    assert whoami == ("guestlist_web", "7")
    assert autocommit is True
    assert refused is not None and (refused.status, refused.code) == (403, "forbidden")
    assert ready["ready"] is True


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
