"""The connection pool and the one way the app talks to Postgres: `call(pool, name, params)`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from config import Settings
from queries import q


def make_pool(settings: Settings) -> AsyncConnectionPool:
    """A closed pool (open it in the lifespan). Every connection is autocommit, acts as
    guestlist_web and carries the app's GUCs before it is handed out."""

    async def configure(conn: AsyncConnection) -> None:
        set_json_loads(orjson.loads, conn)
        await conn.execute(
            q("web_set_rate_limit"),
            {"rate_limit_per_minute": str(settings.rate_limit_per_minute)},
        )
        await conn.execute(q("web_set_role"))

    return AsyncConnectionPool(
        settings.database_url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        timeout=settings.pool_timeout,
        open=False,
        check=AsyncConnectionPool.check_connection,
        configure=configure,
        kwargs={"autocommit": True, "application_name": "guestlist-web"},
        name="guestlist-web",
    )


async def call(
    pool: AsyncConnectionPool, name: str, params: Mapping[str, Any] | None = None
) -> Any:
    """Run the named query and return the first column of its first row (None if no row)."""
    async with pool.connection() as conn:
        cur = await conn.execute(q(name), params)
        row = await cur.fetchone()
    return row[0] if row else None
