"""The queue inside the app process (an app.py background service): the JobWaiter the status
long-poll waits on and, unless RUN_WORKERS=0, a worker pool on the app's connection pool
(keeping half the pool for requests, and fewer tasks while requests wait for it: workers.py).
Yields `{"job_waiter": JobWaiter}` as lifespan state."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from psycopg_pool import AsyncConnectionPool

from guestlist.config import ConfigError, Settings
from guestlist.queue import workers
from guestlist.queue.listener import JobWaiter


def run_workers(env: Mapping[str, str] | None = None) -> bool:
    """RUN_WORKERS: 1 (default) runs workers in this process, 0 leaves them to a worker
    process (`guestlist worker`)."""
    raw = (os.environ if env is None else env).get("RUN_WORKERS", "").strip() or "1"
    if raw not in ("0", "1"):
        raise ConfigError(f"RUN_WORKERS must be 0 or 1, got {raw!r}")
    return raw == "1"


@contextlib.asynccontextmanager
async def running(pool: AsyncConnectionPool, settings: Settings) -> AsyncIterator[dict[str, Any]]:
    waiter = JobWaiter(settings.database_url, application_name="guestlist-web-listener")
    await waiter.start()
    running_workers = None
    try:
        if run_workers():
            running_workers = workers.start(
                pool,
                workers.WorkerSettings.from_env(),
                waiter,
                reserve=pool.max_size // 2,
                shares_web_pool=True,
            )
        yield {"job_waiter": waiter}
    finally:
        if running_workers is not None:
            await workers.stop(running_workers)
        await waiter.stop()
