"""The queue inside the app process (an app.py background service): the JobWaiter the status
long-poll waits on and, unless RUN_WORKERS=0, a worker pool on the app's connection pool
(keeping half the pool for requests, and fewer tasks while requests wait for it: workers.py).
Yields `{"job_waiter": JobWaiter, "workers": WorkerPool | None}` as lifespan state."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import AsyncConnectionPool

from guestlist.config import Settings
from guestlist.queue import workers
from guestlist.queue.listener import JobWaiter


@contextlib.asynccontextmanager
async def running(pool: AsyncConnectionPool, settings: Settings) -> AsyncIterator[dict[str, Any]]:
    waiter = JobWaiter(settings.session_url, application_name="guestlist-web-listener")
    await waiter.start()
    running_workers = None
    try:
        if settings.run_workers:
            running_workers = workers.start(
                pool,
                settings.workers,
                waiter,
                reserve=pool.max_size // 2,
                shares_web_pool=True,
            )
        # "workers": the app's lifespan stops them as soon as SIGTERM's drain begins
        yield {"job_waiter": waiter, "workers": running_workers}
    finally:
        if running_workers is not None:
            await workers.stop(running_workers)
        await waiter.stop()
