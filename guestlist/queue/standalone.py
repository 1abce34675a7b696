"""The `guestlist worker` process: queue workers (workers.py) on a pool of their own, beside
the app instances, until SIGTERM or SIGINT; the process reports its worker tasks with the app
instances' figures (monitor/instances.py), so the dashboard counts them."""

from __future__ import annotations

import asyncio
import logging
import signal

from guestlist.config import Settings
from guestlist.monitor import instances
from guestlist.queue import workers
from guestlist.tasks import start_stop_watchdog

log = logging.getLogger("guestlist.worker")


async def run_standalone(settings: Settings) -> None:
    """Workers until SIGTERM or SIGINT, then a graceful stop (workers.stop)."""
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    # +2: the autoscaler's reads and the figures' report
    pool = workers.make_worker_pool(settings.database_url, settings.workers.workers_max + 2)
    await pool.open(wait=False)  # the database may not be up yet: the workers retry
    # with a listener of its own, on DATABASE_SESSION_URL when set
    running = workers.start(pool, settings.workers, reserve=2, listen_conninfo=settings.session_url)
    try:
        # its worker tasks counted in the dashboard's figures across processes
        async with instances.reporting(pool, settings, worker_process=True):
            await stop_requested.wait()
            log.info("worker_stopping", extra={"fields": {"pool": running.name}})
            start_stop_watchdog(settings.shutdown_timeout)
    finally:
        await workers.stop(running)
        await pool.close()


def run(settings: Settings) -> None:
    """A worker process (`guestlist worker`): workers on a pool of their own, on
    settings.database_url, until SIGTERM or SIGINT."""
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(run_standalone(settings))
