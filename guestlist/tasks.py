"""Background work a process runs for as long as it serves (the cleanup timer, the queue
sampler), and the watchdog that bounds its stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any

log = logging.getLogger("guestlist.shutdown")


@contextlib.asynccontextmanager
async def running_task(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """Run `work` as a task while the block runs; then cancel it and wait until it has ended."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def start_stop_watchdog(timeout: float) -> threading.Timer:
    """Exit the process with status 1 if its graceful stop still runs `timeout` seconds from now
    (SHUTDOWN_TIMEOUT): the bound systemd's and Kubernetes' stop can rely on."""
    watchdog = threading.Timer(timeout, _give_up, args=(timeout,))
    watchdog.daemon = True
    watchdog.start()
    return watchdog


def _give_up(timeout: float) -> None:
    log.error("shutdown_timeout", extra={"fields": {"timeout": timeout}})
    with contextlib.suppress(Exception):
        for handler in logging.getLogger().handlers:
            handler.flush()
    os._exit(1)
