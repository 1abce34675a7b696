"""Queue workers: asyncio tasks looping `SELECT api.work_guest_jobs(...)`.

Inside the app process (app.py's lifespan, through queue/service.py) or alone::

    guestlist worker --database-url postgresql://…   (or DATABASE_URL in the environment)

Each call is one transaction in SQL: claim a job, the seed function, the status change and the
NOTIFY, and again for the next job while jobs are quick (`api.work_guest_jobs`: at most
WORKER_BATCH_MAX jobs, no new claim after WORKER_BATCH_MS; a bcrypt cost-10 job, ~50 ms, ends its
batch, so one commit and one round trip are shared only by jobs that cost less than them).
A busy task keeps its connection while jobs keep coming; when the claim finds nothing it gives
the connection back and sleeps on the process's LISTEN connection (notify.JobWaiter: woken by a
`guestlist_jobs_new` NOTIFY, or after IDLE_SECONDS to pick up retries that fell due). Database
errors (a restart, a pool timeout) are logged and retried with backoff; the tasks never die of
them.

Concurrency scales between WORKERS_MIN and WORKERS_MAX (default CPU cores and 2 x CPU cores,
never more than the pool can give) from `api.queue_depth()` every second: up when more than
SCALE_UP_PER_WORKER jobs wait per running task, down by one after SCALE_DOWN_IDLE_SECONDS with
nothing waiting. Workers inside the app share its connection pool and yield to the web: while
requests wait for a connection (the pool's `requests_waiting`), and WEB_CALM_SECONDS after, at
most WORKERS_WEB_BUSY tasks run (default CPU cores - 1, at least 1), so a core is left to the
requests instead of every core hashing (docs/queue.md: at 500 users on 2 cores the median
request took ~1.7 s with every core hashing, ~0.2 s with one). Each decision is kept in the
pool's `history` (the last 200) and logged as one JSON line. Stopping (`stop`, on SIGTERM in
both cases; the standalone process is standalone.py): claim nothing new, finish the jobs in hand
within the bound, then cancel them on the server so they are claimed again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import math
import os
import socket
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from guestlist import db
from guestlist.config import WorkerSettings, load_settings
from guestlist.queries import q
from guestlist.queue.listener import JobWaiter
from guestlist.web.errors import from_exception

log = logging.getLogger("guestlist.worker")

HISTORY_SIZE = 200
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 5.0
_CANCEL_SECONDS = 1.0  # a stopped worker's cancel request to the server, at most


def _log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    log.log(level, event, extra={"fields": fields})


class WorkerPool:
    """Tasks 0 … target-1 run; the autoscaler moves `target` between `low` and `high`."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: WorkerSettings,
        waiter: JobWaiter | None = None,
        *,
        reserve: int = 0,
        name: str | None = None,
        shares_web_pool: bool = False,
        listen_conninfo: str | None = None,
    ) -> None:
        self.pool = pool
        # the pool also serves the app's requests: yield to them when they wait for it
        self.shares_web_pool = shares_web_pool
        self.settings = settings
        # the process's listener, or one of our own (started and stopped with the workers) on
        # `listen_conninfo` (a session: DATABASE_SESSION_URL), else on the pool's database
        self._own_waiter = waiter is None
        self.waiter = waiter or JobWaiter(
            listen_conninfo or pool.conninfo, "guestlist-worker-listener"
        )
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        # never more tasks than the pool can give (keeping `reserve` connections for others)
        self.high = max(1, min(settings.workers_max, pool.max_size - reserve))
        self.low = min(settings.workers_min, self.high)
        self.target = self.low
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=HISTORY_SIZE)
        self.done = 0  # jobs finished by this pool (completed or failed or delayed)
        self.errors = 0  # calls that raised (database down, pool timeout…)
        self.busy = 0  # tasks inside a call right now
        self.empty = 0  # claims that found no job
        self.last_depth: dict[str, int] | None = None
        self.web_waiting = 0  # requests waiting for a connection at the last look
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # the connection each task is running a claim on right now
        self._in_call: dict[int, AsyncConnection] = {}
        self._cancelled_on_server = False  # the stop cancelled their statements already
        self._scaler: asyncio.Task[None] | None = None
        self._stop: asyncio.Future[None] | None = None
        self._stopping: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._stop = asyncio.get_running_loop().create_future()
        if self._own_waiter:
            self.waiter.launch()
        self._spawn()
        self._scaler = asyncio.create_task(self._autoscale(), name="guestlist-autoscaler")
        _log("workers_started", pool=self.name, target=self.target, low=self.low, high=self.high)

    @property
    def stopping(self) -> bool:
        return self._stop is None or self._stop.done()

    async def stop(self) -> None:
        """Claim nothing new; let jobs in hand finish (up to stop_timeout), then cancel them (a
        cancelled job is retried after its backoff by another worker, its secret kept). Called
        again (the drain began it, the lifespan's end awaits it), it waits for the same stop."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop_all(), name="guestlist-workers-stop")
        await asyncio.shield(self._stopping)

    async def _stop_all(self) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)
        if self._scaler is not None:
            self._scaler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scaler
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.settings.stop_timeout)
            if pending:
                # past the bound: cancel the statements on the server first and let each task
                # read its answer (the job let go as a temporary error: delayed, retried by
                # another worker, its secret kept) and stop by itself; cancelling the task at
                # once would close its connection before the server recorded that, and the
                # job would go back uncounted or not, as the race fell
                self._cancelled_on_server = True
                await asyncio.gather(
                    *(
                        asyncio.wait_for(conn.cancel_safe(), _CANCEL_SECONDS)
                        for conn in self._in_call.values()
                    ),
                    return_exceptions=True,
                )
                _, pending = await asyncio.wait(pending, timeout=_CANCEL_SECONDS / 2)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._own_waiter:
            await self.waiter.stop()
        _log("workers_stopped", pool=self.name, done=self.done)

    # --- the workers ------------------------------------------------------------------------

    def _spawn(self) -> None:
        for idx in range(self.target):
            task = self._tasks.get(idx)
            if task is None or task.done():
                self._tasks[idx] = asyncio.create_task(self._work(idx), name=f"worker-{idx}")

    def _wanted(self, idx: int) -> bool:
        return not self.stopping and idx < self.target

    async def _pause(self, seconds: float, wake: asyncio.Future[None] | None = None) -> None:
        """Sleep `seconds`, or less if `wake` resolves or the pool stops."""
        assert self._stop is not None
        waits: set[asyncio.Future[Any]] = {self._stop}
        if wake is not None:
            waits.add(wake)
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)

    async def _drain(
        self, conn: AsyncConnection, idx: int, worker: str
    ) -> asyncio.Future[None] | None:
        """Work jobs on this connection while there are some; return the 'new job' future taken
        before the last claim, to sleep on (None when told to stop before claiming)."""
        params = {
            "worker": worker,
            "max_jobs": self.settings.batch_max,
            "budget_ms": self.settings.batch_ms,
        }
        while self._wanted(idx):
            signal_ = self.waiter.new_job()
            self.busy += 1
            self._in_call[idx] = conn
            try:
                cur = await conn.execute(q("queue_work"), params)
                row = await cur.fetchone()
            except asyncio.CancelledError:
                # stopped past the bound mid-job: cancel the statement on the server too, so
                # the job is let go now (a temporary error: delayed, retried by another worker,
                # its secret kept) instead of whenever the backend notices its client gone
                self.waiter.forget(signal_)
                if not self._cancelled_on_server:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.cancel_safe(), _CANCEL_SECONDS)
                raise
            except BaseException:
                self.waiter.forget(signal_)
                raise
            finally:
                self.busy -= 1
                self._in_call.pop(idx, None)
            counts = row[0] if row else None
            if not isinstance(counts, dict):
                self.empty += 1
                return signal_
            self.done += int(counts.get("done", 1))
            if counts.get("more", True) and self._wanted(idx):
                self.waiter.took(signal_)  # claims again at once: a wake-up it got is used
                continue
            # nothing left to claim (or told to stop): sleep, unless a job came meanwhile
            return signal_
        return None

    async def _work(self, idx: int) -> None:
        worker = f"{self.name}:{idx}"
        backoff = _BACKOFF_FIRST
        while self._wanted(idx):
            try:
                async with self.pool.connection() as conn:
                    idle_signal = await self._drain(conn, idx, worker)
                backoff = _BACKOFF_FIRST
            except Exception as exc:  # database restart, pool timeout: log, back off, go on
                self.errors += 1
                _log(
                    "worker_error",
                    logging.WARNING,
                    worker=worker,
                    error=from_exception(exc).log_hint,
                    retry_in=backoff,
                )
                await self._pause(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            if idle_signal is not None:
                # nothing claimable: sleep on LISTEN, holding no connection
                self.waiter.asleep(idle_signal)
                try:
                    await self._pause(self.settings.idle_seconds, idle_signal)
                finally:
                    if self._wanted(idx):
                        self.waiter.took(idle_signal)  # claims again right away
                    else:
                        self.waiter.forget(idle_signal)

    # --- the autoscaler ---------------------------------------------------------------------

    def _record(self, old: int, new: int, depth: dict[str, int], reason: str) -> None:
        # The seed logged `oldConcurrency` after overwriting it (old == new in every event);
        # here `from` is read before the change.
        event = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "from": old,
            "to": new,
            "depth": depth,
            "reason": reason,
        }
        self.history.append(event)
        _log("workers_scaled", pool=self.name, **event)

    def decide(
        self, depth: dict[str, int], idle_for: float, web_busy: bool = False
    ) -> tuple[int, str] | None:
        """(new target, reason) or None: down to the web-busy cap while the web waits (back to
        the floor or more once it is calm), else up to cover the waiting jobs, down by one when
        idle."""
        if web_busy:
            cap = min(self.settings.web_busy_workers, self.high)
            return (cap, "web_busy") if self.target > cap else None
        waiting = int(depth.get("waiting", 0))
        wanted = math.ceil(waiting / self.settings.scale_up_per_worker)  # tasks covering them
        if self.target < self.low:  # the web calmed down: back to the floor at least
            return min(self.high, max(self.low, wanted)), "web_calm"
        if waiting > self.settings.scale_up_per_worker * self.target and self.target < self.high:
            return min(self.high, max(self.target + 1, wanted)), "queue_high"
        if (
            waiting == 0
            and self.target > self.low
            and idle_for >= self.settings.scale_down_idle_seconds
        ):
            return self.target - 1, "idle"
        return None

    async def _autoscale(self) -> None:
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        web_busy_at = -math.inf
        done_before = self.done
        while not self.stopping:
            await self._pause(self.settings.scale_interval)
            if self.stopping:
                return
            if self.shares_web_pool:
                self.web_waiting = int(self.pool.get_stats().get("requests_waiting", 0))
                if self.web_waiting:
                    web_busy_at = loop.time()
            if loop.time() - web_busy_at < self.settings.web_calm_seconds:
                # no depth query: its connection would be one more the requests wait behind
                decision = self.decide({}, 0.0, web_busy=True)
            else:
                try:
                    async with self.pool.connection() as conn:
                        cur = await conn.execute(q("queue_depth"))
                        row = await cur.fetchone()
                except Exception as exc:
                    _log("autoscale_error", logging.WARNING, error=from_exception(exc).log_hint)
                    continue
                depth = row[0] if row and isinstance(row[0], dict) else {}
                self.last_depth = depth
                if depth.get("waiting", 0) or self.done != done_before:
                    idle_since = loop.time()
                done_before = self.done
                decision = self.decide(depth, loop.time() - idle_since)
            if decision is None:
                continue
            new, reason = decision
            old = self.target
            self.target = new
            self._record(old, new, self.last_depth or {}, reason)
            if new > old:
                self._spawn()
            else:
                idle_since = loop.time()  # one step per idle period

    # --- what the metrics route reads ---------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "pool": self.name,
            "target": self.target,
            "min": self.low,
            "max": self.high,
            "running": sum(1 for t in self._tasks.values() if not t.done()),
            "busy": self.busy,
            "done": self.done,
            "errors": self.errors,
            "empty_claims": self.empty,
            "depth": self.last_depth,
            "web_waiting": self.web_waiting,
        }


_RUNNING: list[WorkerPool] = []


def start(
    pool: AsyncConnectionPool,
    settings: WorkerSettings,
    waiter: JobWaiter | None = None,
    *,
    reserve: int = 0,
    shares_web_pool: bool = False,
    listen_conninfo: str | None = None,
) -> WorkerPool:
    """Start a worker pool on `pool` (call inside the running loop); `await stop(it)` or
    `await it.stop()`. Idle workers sleep on `waiter` (the process's listener), else on a
    listener of their own. `shares_web_pool`: the app's requests use `pool` too (yield to them)."""
    workers = WorkerPool(
        pool,
        settings,
        waiter,
        reserve=reserve,
        shares_web_pool=shares_web_pool,
        listen_conninfo=listen_conninfo,
    )
    workers.start()
    _RUNNING.append(workers)
    return workers


async def stop(workers: WorkerPool) -> None:
    try:
        await workers.stop()
    finally:
        with contextlib.suppress(ValueError):
            _RUNNING.remove(workers)


def worker_stats() -> list[dict[str, Any]]:
    return [w.stats() for w in _RUNNING]


# --- standalone -------------------------------------------------------------------------------


def make_worker_pool(conninfo: str, size: int) -> AsyncConnectionPool:
    """The pool of a worker process: db.make_pool's connections, `size` of them at most, a
    10-second wait for one."""
    settings = dataclasses.replace(load_settings(), database_url=conninfo)
    return db.make_pool(settings, name="guestlist-worker", min_size=1, max_size=size, timeout=10.0)
