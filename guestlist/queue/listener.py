"""One LISTEN connection per process, waking whoever waits on the queue.

`JobWaiter` keeps a dedicated psycopg AsyncConnection doing `LISTEN guestlist_jobs` (payload: the
id of a job that just completed or failed) and `LISTEN guestlist_jobs_new` (a job was queued).
It dispatches each notification to asyncio futures: the status long-poll waits on a job id, idle
workers wait on "new job" (one notification wakes one worker, asleep ones first: one job needs
one claim, and the others' would find nothing). After a connection loss it reconnects with
backoff and then wakes every waiter, since a notification may have been missed meanwhile;
waiters re-read the database.

Lost wakeups are avoided by subscribing *before* reading: take the future, query, then wait on it.
A caller that cannot subscribe before (it learns the job id from the enqueue itself) is covered by
the last RECENT_DONE finished ids: a job that ended before `job_done` was entered resolves it at
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterator

import psycopg

from guestlist.queries import q

log = logging.getLogger("guestlist.notify")

CHANNEL_DONE = "guestlist_jobs"
CHANNEL_NEW = "guestlist_jobs_new"

_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 2.0  # waiters hang on until the listener is back: retry often
_HEARTBEAT_SECONDS = 10.0  # a query on the listener when the channel has been quiet this long
# Finished job ids remembered: many seconds of the busiest queue (~40 jobs/s here), a few
# hundred KB. A job that finished further back is read from the database like any other.
RECENT_DONE = 4096


class JobWaiter:
    """The process's listener. `await start()` once, `await stop()` at shutdown."""

    def __init__(self, conninfo: str, application_name: str = "guestlist-listener") -> None:
        self._conninfo = conninfo
        self._application_name = application_name
        self._jobs: dict[str, set[asyncio.Future[None]]] = {}
        # 'new job' futures, oldest first → asleep (True) or taken just before a claim (False)
        self._new: dict[asyncio.Future[None], bool] = {}
        self._recent: set[str] = set()  # ids of the last RECENT_DONE finished jobs…
        self._recent_order: deque[str] = deque()  # …oldest first
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self.reconnects = 0  # connections made after the first (for metrics and tests)

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
        listener reconnects; resolved at once when it finished among the last RECENT_DONE jobs.
        Enter it before reading the job's status."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if job_id in self._recent:
            fut.set_result(None)
        waiters = self._jobs.setdefault(job_id, set())
        waiters.add(fut)
        try:
            yield fut
        finally:
            waiters.discard(fut)
            if not waiters and self._jobs.get(job_id) is waiters:
                del self._jobs[job_id]

    def new_job(self) -> asyncio.Future[None]:
        """A future resolved by a 'new job' notification or a reconnect. Take it before
        claiming; call `asleep` when the claim found nothing and you wait on it; give it back
        with `took` when claiming again at once, else with `forget`. Each notification wakes
        one future: the longest asleep, else the oldest taken before a claim (that worker
        claims again when its call ends)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._new[fut] = False
        return fut

    def asleep(self, fut: asyncio.Future[None]) -> None:
        if fut in self._new:
            self._new[fut] = True

    def took(self, fut: asyncio.Future[None]) -> None:
        """Done with `fut`, and about to claim: a wake-up it got is acted on."""
        self._new.pop(fut, None)

    def forget(self, fut: asyncio.Future[None]) -> None:
        """Done with `fut`, and not claiming now: a wake-up it got goes to another waiter."""
        self._new.pop(fut, None)
        if fut.done():
            self._wake_new(1)

    # --- the listening loop -----------------------------------------------------------------

    def _dispatch(self, channel: str, payload: str) -> None:
        if channel == CHANNEL_DONE:
            self._remember(payload)
            for fut in self._jobs.get(payload, ()):
                if not fut.done():
                    fut.set_result(None)
        elif channel == CHANNEL_NEW:
            self._wake_new(1)

    def _remember(self, job_id: str) -> None:
        if job_id in self._recent:
            return
        self._recent.add(job_id)
        self._recent_order.append(job_id)
        if len(self._recent_order) > RECENT_DONE:
            self._recent.discard(self._recent_order.popleft())

    def _wake_new(self, count: int | None = None) -> None:
        """Wake `count` 'new job' waiters (None: all), asleep ones first, oldest first."""
        if count is None:
            waiting, self._new = self._new, {}
            for fut in waiting:
                if not fut.done():
                    fut.set_result(None)
            return
        for _ in range(count):
            live = [f for f in self._new if not f.done()]
            if not live:
                return
            fut = next((f for f in live if self._new[f]), live[0])  # asleep first
            del self._new[fut]
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
