"""The connection pool and the one way the app talks to Postgres: `call(pool, name, params)`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from guestlist.config import Settings
from guestlist.queries import q

# A connection the pool handed out less than this long ago (seconds) is handed out again
# without the pool's check (see check_connection).
CHECK_AFTER_IDLE_SECONDS = 1.0
# Where on the connection that time is kept (psycopg_pool keeps `_expire_at` there too).
_HANDED_OUT_AT = "_guestlist_handed_out_at"
# A call that failed with one of these was undone whole by the server (every call is its own
# transaction: the pool is autocommit), so running it again is running it for the first time:
# serialization_failure and deadlock_detected, the conflicts PostgreSQL asks clients to retry.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
CALL_ATTEMPTS = 3


async def check_connection(conn: AsyncConnection) -> None:
    """The pool's `check`: AsyncConnectionPool.check_connection (an empty query, one round trip
    to the server) before handing out a connection that is new or was last handed out
    CHECK_AFTER_IDLE_SECONDS ago or more; raises if it is dead, and the pool replaces it.

    Checking on every checkout (AsyncConnectionPool.check_connection as the check) cost a
    round trip per request: about 15% of the app's CPU on verify-phone-v2 (callgrind: 127k of
    836k instructions a request) plus the server's side of it. A connection in steady use
    proves itself on every request; one the server dropped fails its query, libpq marks it
    broken and the pool discards it when it comes back. What this gives up: a connection
    killed less than CHECK_AFTER_IDLE_SECONDS after it was last handed out (server restart,
    terminated backend) fails the next request on it (503 `unavailable`) instead of being
    replaced before it.
    """
    now = time.monotonic()
    last = getattr(conn, _HANDED_OUT_AT, None)
    setattr(conn, _HANDED_OUT_AT, now)
    if last is None or now - last >= CHECK_AFTER_IDLE_SECONDS:
        await AsyncConnectionPool.check_connection(conn)


def make_pool(
    settings: Settings,
    *,
    name: str = "guestlist-web",
    min_size: int | None = None,
    max_size: int | None = None,
    timeout: float | None = None,
) -> AsyncConnectionPool:
    """A closed pool on settings.database_url (open it in the lifespan, or before the workers
    start). Every connection is autocommit, acts as guestlist_web and carries the queue workers'
    setup before it is handed out (rate limits and the other security settings are rows of
    app.settings, never a GUC the app could set). Sizes and timeout default
    to the web's (POOL_MIN, POOL_MAX, POOL_TIMEOUT); `name` is also the connections'
    application_name. With PREPARED_STATEMENTS off no statement is prepared on the server
    (a transaction pooler in front: docs/deploy.md)."""

    async def configure(conn: AsyncConnection) -> None:
        set_json_loads(orjson.loads, conn)
        # the web pool also carries the in-process workers
        await conn.execute(q("queue_worker_setup"))
        await conn.execute(q("web_set_role"))

    return AsyncConnectionPool(
        settings.database_url,
        min_size=settings.pool_min if min_size is None else min_size,
        max_size=settings.pool_max if max_size is None else max_size,
        timeout=settings.pool_timeout if timeout is None else timeout,
        open=False,
        check=check_connection,
        configure=configure,
        kwargs={
            "autocommit": True,
            "application_name": name,
            **({} if settings.prepared_statements else {"prepare_threshold": None}),
        },
        name=name,
    )


async def call(
    pool: AsyncConnectionPool, name: str, params: Mapping[str, Any] | None = None
) -> Any:
    """Run the named query and return the first column of its first row (None if no row).
    A call the server undid for a conflict (RETRY_SQLSTATES) runs again, up to CALL_ATTEMPTS
    times in all; then its error is raised (errors.from_exception: 503 with Retry-After)."""
    attempt = 1
    while True:
        try:
            async with pool.connection() as conn:
                cur = await conn.execute(q(name), params)
                row = await cur.fetchone()
            return row[0] if row else None
        except psycopg.Error as exc:
            if exc.sqlstate not in RETRY_SQLSTATES or attempt >= CALL_ATTEMPTS:
                raise
        attempt += 1
