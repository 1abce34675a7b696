"""Two baselines for the bench, in a tiny app of their own (not part of the product):

* `GET /const` answers a constant JSON: the HTTP ceiling of Starlette + uvicorn on this machine
  (no database, no middleware);
* `POST /api/guest/verify-phone-v2` calls the same SQL function the app calls (the app's own
  `web_check_phone` statement from queries.sql) through the same kind of pool (psycopg_pool,
  autocommit, `SET ROLE guestlist_web`, the app's own connection check `db.check_connection`;
  rate limits are the database's settings, as for the app) and returns its JSON as is: what
  our route would cost without its validation, error mapping, logging and headers.

    DATABASE_URL=… PORT=… python -m bench.bare_app

Served like app.py: uvicorn with uvloop and httptools, one process, no access log.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson
import uvicorn
from psycopg import AsyncConnection
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from guestlist.db import check_connection  # the app's pool check
from guestlist.queries import q  # the app's statements, loaded from the repo root

CONST_BODY = orjson.dumps({"ok": True, "service": "bare"})


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


async def const(request: Request) -> Response:
    return _json(CONST_BODY)


async def verify_phone(request: Request) -> Response:
    try:
        phone = orjson.loads(await request.body())["phone"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return _json(b'{"code":"invalid_input"}', 400)
    client = request.client.host if request.client else "unknown"
    pool: AsyncConnectionPool = request.state.pool
    async with pool.connection() as conn:
        cur = await conn.execute(q("web_check_phone"), {"phone": phone, "client_key": client})
        row = await cur.fetchone()
    return _json(orjson.dumps(row[0] if row else None))


def make_pool(database_url: str, min_size: int, max_size: int) -> Any:
    async def configure(conn: AsyncConnection) -> None:
        set_json_loads(orjson.loads, conn)
        await conn.execute(q("web_set_role"))

    return AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        timeout=5.0,
        open=False,
        check=check_connection,  # the app's, so both pools pay the same per checkout
        configure=configure,
        kwargs={"autocommit": True, "application_name": "guestlist-bench-bare"},
        name="guestlist-bench-bare",
    )


def create_app() -> Starlette:
    database_url = os.environ["DATABASE_URL"]
    pool_min = int(os.environ.get("POOL_MIN", "2"))
    pool_max = int(os.environ.get("POOL_MAX", "20"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        pool = make_pool(database_url, pool_min, pool_max)
        await pool.open(wait=True)
        try:
            yield {"pool": pool}
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/const", const, methods=["GET"]),
            Route("/api/guest/verify-phone-v2", verify_phone, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    uvicorn.run(
        create_app(),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8001")),
        loop="uvloop",
        http="httptools",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
