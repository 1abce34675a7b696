"""Runs api.cleanup() every CLEANUP_INTERVAL_SECONDS when pg_cron does not
(api.readiness().cleanupScheduled is false). Several app processes may all run it: harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from psycopg_pool import AsyncConnectionPool

from guestlist import db
from guestlist.config import Settings
from guestlist.tasks import running_task
from guestlist.web.errors import from_exception

log = logging.getLogger("guestlist.cleanup")


async def cleanup_once(pool: AsyncConnectionPool) -> bool:
    """One round; True when this process ran the cleanup."""
    readiness = await db.call(pool, "web_readiness")
    if isinstance(readiness, dict) and readiness.get("cleanupScheduled"):
        return False
    await db.call(pool, "web_cleanup")
    return True


async def _loop(pool: AsyncConnectionPool, interval: int) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await cleanup_once(pool)
        except Exception as exc:  # keep the timer alive; log class + SQLSTATE only
            log.warning("cleanup_failed", extra={"fields": {"error": from_exception(exc).log_hint}})


@contextlib.asynccontextmanager
async def running(pool: AsyncConnectionPool, settings: Settings) -> AsyncIterator[None]:
    if settings.cleanup_interval_seconds <= 0:
        yield
        return
    async with running_task(_loop(pool, settings.cleanup_interval_seconds), "guestlist-cleanup"):
        yield
