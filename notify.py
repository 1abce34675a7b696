"""One LISTEN connection per process, waking whoever waits on the queue.

`JobWaiter` keeps a dedicated psycopg AsyncConnection doing `LISTEN guestlist_jobs` (payload: the
id of a job that just completed or failed) and `LISTEN guestlist_jobs_new` (a job was queued).
It dispatches each notification to asyncio futures: the status long-poll waits on a job id, idle
workers wait on "new job". After a connection loss it reconnects with backoff and then wakes every
waiter, since a notification may have been missed meanwhile; waiters re-read the database.

Lost wakeups are avoided by subscribing *before* reading: take the future, query, then wait on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

import psycopg

from queries import q

log = logging.getLogger("guestlist.notify")

CHANNEL_DONE = "guestlist_jobs"
CHANNEL_NEW = "guestlist_jobs_new"

_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 2.0  # waiters hang on until the listener is back: retry often
_HEARTBEAT_SECONDS = 10.0  # a query on the listener when the channel has been quiet this long


class JobWaiter:
    """The process's listener. `await start()` once, `await stop()` at shutdown."""

    def __init__(self, conninfo: str, application_name: str = "guestlist-listener") -> None:
        self._conninfo = conninfo
        self._application_name = application_name
        self._jobs: dict[str, set[asyncio.Future[None]]] = {}
        self._new: set[asyncio.Future[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self.reconnects = 0  # connections made after the first (for metrics and tests)
        self.received = 0  # notifications dispatched

    # --- lifecycle ------------------------------------------------------------------------

    def launch(self) -> None:
        """Start listening in the background (inside the running loop), without waiting."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="guestlist-job-waiter")

    async def start(self, wait: float = 5.0) -> None:
        """Start listening; waits up to `wait` seconds for the first LISTEN (keeps trying in the
        background if the database is not there yet)."""
        self.launch()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), wait)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._wake_everyone()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- subscriptions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def job_done(self, job_id: str) -> Iterator[asyncio.Future[None]]:
        """A future resolved when `job_id` (canonical uuid text) completes or fails, or when the
        listener reconnects. Enter it before reading the job's status."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._jobs.setdefault(job_id, set())
        waiters.add(fut)
        try:
            yield fut
        finally:
            waiters.discard(fut)
            if not waiters and self._jobs.get(job_id) is waiters:
                del self._jobs[job_id]

    def new_job(self) -> asyncio.Future[None]:
        """A future resolved at the next 'new job' notification (or reconnect). Take it before
        claiming; pass it to `forget` when it is not awaited."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._new.add(fut)
        return fut

    def forget(self, fut: asyncio.Future[None]) -> None:
        self._new.discard(fut)

    # --- the listening loop -----------------------------------------------------------------

    def _dispatch(self, channel: str, payload: str) -> None:
        self.received += 1
        if channel == CHANNEL_DONE:
            for fut in self._jobs.get(payload, ()):
                if not fut.done():
                    fut.set_result(None)
        elif channel == CHANNEL_NEW:
            self._wake_new()

    def _wake_new(self) -> None:
        waiting, self._new = self._new, set()
        for fut in waiting:
            if not fut.done():
                fut.set_result(None)

    def _wake_everyone(self) -> None:
        self._wake_new()
        for waiters in self._jobs.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    async def _listen(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(q("web_set_role"))  # like every app connection: never the owner
        await conn.execute(q("queue_listen_done"))
        await conn.execute(q("queue_listen_new"))
        self._connected.set()
        # Anything may have ended while nobody listened: let every waiter look again.
        self._wake_everyone()
        quiet_since = time.monotonic()
        while not self._stopping:
            async for note in conn.notifies(timeout=1.0):
                self._dispatch(note.channel, note.payload)
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since > _HEARTBEAT_SECONDS:
                await conn.execute(q("queue_listener_heartbeat"))  # raises if the server is gone
                quiet_since = time.monotonic()

    async def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        first = True
        while not self._stopping:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name=self._application_name
                )
            except psycopg.Error as exc:
                log.warning(
                    "listener_connect_failed",
                    extra={"fields": {"error": type(exc).__name__, "retry_in": backoff}},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            if not first:
                self.reconnects += 1
                log.info("listener_reconnected", extra={"fields": {"reconnects": self.reconnects}})
            first = False
            backoff = _BACKOFF_FIRST
            try:
                async with conn:
                    await self._listen(conn)
            except psycopg.Error as exc:
                log.warning(
                    "listener_lost",
                    extra={"fields": {"error": type(exc).__name__, "sqlstate": exc.sqlstate}},
                )
            finally:
                self._connected.clear()
            if not self._stopping:
                await asyncio.sleep(backoff)
