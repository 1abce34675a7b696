"""Graceful stop of `guestlist serve` on SIGTERM, within SHUTDOWN_TIMEOUT.

At once: /readyz answers 503 (a load balancer takes the instance out), held long-polls are
answered with the job's current status (waiting/active: the page polls again, through the
balancer, another instance), new long-polls are not held, and the in-process workers claim
nothing new (the job in hand finishes; one still running at the bound is cancelled: a
temporary error, so the job is retried after its backoff by another worker, secret kept). After
SHUTDOWN_DRAIN_SECONDS the port closes; answers in flight finish (uvicorn's graceful timeout),
then the lifespan stops the services and the pool. A watchdog ends the process if all that has
not happened by SHUTDOWN_TIMEOUT (exit status 1, logged): systemd and Kubernetes kill later.

uvicorn's own handler would re-raise the SIGTERM once stopped (exit status 143); a stop that
went as planned exits 0 here. SIGINT (Ctrl+C) keeps uvicorn's behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from guestlist.tasks import start_stop_watchdog

log = logging.getLogger("guestlist.shutdown")

# kept for uvicorn's own steps after the graceful timeout: the lifespan's stop and the pool
_LIFESPAN_SECONDS = 3.0


class Drain:
    """The process's drain state: `draining` turns true once, on SIGTERM; `stopped` is a future
    that resolves then (held answers wait on it beside their job)."""

    def __init__(self) -> None:
        self.draining = False
        self.began_at: float | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._callbacks: list[Callable[[], object]] = []

    def stopped(self) -> asyncio.Future[None]:
        """A future of the running loop, done once draining began."""
        if self._stopped is None:
            self._stopped = asyncio.get_running_loop().create_future()
            if self.draining:
                self._stopped.set_result(None)
        return self._stopped

    def on_drain(self, callback: Callable[[], object]) -> None:
        """Call `callback` (in the loop) when draining begins, or now if it has."""
        if self.draining:
            callback()
        else:
            self._callbacks.append(callback)

    def begin(self) -> None:
        """Start draining (in the loop; idempotent)."""
        if self.draining:
            return
        self.draining = True
        self.began_at = time.monotonic()
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)
        for callback in self._callbacks:
            try:
                callback()
            except Exception:
                log.exception("drain callback failed")
        self._callbacks.clear()

    def remaining(self, timeout: float) -> float:
        """Seconds left of `timeout` counted from the start of the drain (timeout if none)."""
        if self.began_at is None:
            return timeout
        return max(0.0, timeout - (time.monotonic() - self.began_at))


class DrainingServer(uvicorn.Server):
    """uvicorn's server with the drain above on SIGTERM."""

    def __init__(
        self, config: uvicorn.Config, drain: Drain, timeout: float, drain_seconds: float
    ) -> None:
        super().__init__(config)
        self.drain = drain
        self.timeout = timeout
        self.drain_seconds = drain_seconds
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._loop is None:
            super().handle_exit(sig, frame)
            return
        if self.drain.draining:  # a second SIGTERM: stop waiting for the drain delay
            self.should_exit = True
            return
        # a signal handler runs between two bytecodes of the loop's thread: hand over to it
        self._loop.call_soon_threadsafe(self._begin)
        start_stop_watchdog(self.timeout)

    def _begin(self) -> None:
        log.info(
            "shutdown_draining",
            extra={"fields": {"drain_seconds": self.drain_seconds, "timeout": self.timeout}},
        )
        self.drain.begin()
        assert self._loop is not None
        if self.drain_seconds > 0:
            self._loop.call_later(self.drain_seconds, self._exit)
        else:
            self._exit()

    def _exit(self) -> None:
        self.should_exit = True


def graceful_timeout(timeout: float, drain_seconds: float) -> float:
    """uvicorn's bound on answers in flight once the port is closed: what the drain delay and
    the lifespan's stop leave of SHUTDOWN_TIMEOUT (1 s at least)."""
    return max(1.0, timeout - drain_seconds - _LIFESPAN_SECONDS)
